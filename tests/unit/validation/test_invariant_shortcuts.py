"""The invariant shortcuts (`validation.invariants.SHORTCUTS` and the `… .empty() and …` guard)
give the published FHIRPath expression's answer wherever they answer at all: each case is
evaluated by fhirpathpy too and the two must agree."""

from __future__ import annotations

from typing import Any

import pytest
from fhirpathpy.engine.nodes import ResourceNode

from fhir_server.validation.invariants import SHORTCUTS, Invariants
from fhir_server.validation.library import DefinitionLibrary, load_r4_validation

_INV = Invariants(DefinitionLibrary(load_r4_validation()))


def _constraint(type_name: str, key: str) -> Any:
    return next(c for c in _INV.for_type(type_name) if c[0] == key)


def _engine_holds(type_name: str, key: str, value: dict[str, Any], root: dict[str, Any]) -> bool:
    fn = _INV.compiled(_constraint(type_name, key)[2])
    assert fn is not None
    node = value if "resourceType" in value else ResourceNode.create_node(value, type_name)
    result = fn(node, {"resource": root, "rootResource": root})
    return result in ([], [True])


ROOT = {"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o1"}]}

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], bool | None]] = [
    # type, key, value, root, the shortcut's answer (None: left to the engine)
    ("Patient", "dom-6", {"resourceType": "Patient"}, {}, False),
    (
        "Patient",
        "dom-6",
        {
            "resourceType": "Patient",
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
            },
        },
        {},
        True,
    ),
    ("Patient", "dom-6", {"resourceType": "Patient", "text": {"status": "empty"}}, {}, None),
    ("ContactPoint", "cpt-2", {"system": "phone", "value": "1"}, ROOT, True),
    ("ContactPoint", "cpt-2", {"use": "home"}, ROOT, True),
    ("ContactPoint", "cpt-2", {"value": "1"}, ROOT, None),
    ("ContactPoint", "cpt-2", {"_system": {"extension": []}, "value": "1"}, ROOT, True),
    ("Reference", "ref-1", {"reference": "Patient/1"}, ROOT, True),
    ("Reference", "ref-1", {"display": "x"}, ROOT, True),
    ("Reference", "ref-1", {"reference": "#o1"}, ROOT, None),
    ("Reference", "ref-1", {"reference": "#nope"}, ROOT, None),
    ("Reference", "ref-1", {"reference": "urn:uuid:1"}, ROOT, True),
]


@pytest.mark.parametrize(("type_name", "key", "value", "root", "expected"), CASES)
def test_shortcut_agrees_with_the_engine(
    type_name: str, key: str, value: dict[str, Any], root: dict[str, Any], expected: bool | None
) -> None:
    decided = SHORTCUTS[_constraint(type_name, key)[2]](value)
    assert decided is expected
    if decided is not None:
        assert decided == _engine_holds(type_name, key, value, root)


def test_shortcut_failure_is_the_same_issue_as_the_engines() -> None:
    """dom-6 decided in Python reports what the engine's evaluation reported."""
    constraint = _constraint("Patient", "dom-6")
    value = {"resourceType": "Patient"}
    issue = _INV.check(constraint, value, "Patient", "Patient", value, value)
    assert issue is not None and issue.severity == "warning" and issue.expression == ("Patient",)
    assert issue.code == "invariant" and issue.diagnostics.startswith("dom-6: ")


@pytest.mark.parametrize(
    ("key", "value", "vacuous"),
    [
        ("dom-2", {"resourceType": "Patient"}, True),
        ("dom-4", {"resourceType": "Patient"}, True),
        ("dom-5", {"resourceType": "Patient", "id": "x"}, True),
        ("dom-2", {"resourceType": "Patient", "contained": []}, False),
    ],
)
def test_conjunctions_of_empties_hold_without_their_root(
    key: str, value: dict[str, Any], vacuous: bool
) -> None:
    expression = _constraint("Patient", key)[2]
    assert _INV._vacuous(expression, value) is vacuous
    if vacuous:
        assert _engine_holds("Patient", key, value, value)


def test_every_shortcut_is_a_published_base_invariant() -> None:
    """A shortcut is keyed by an expression the R4 definitions really hold (none is dead)."""
    published = {
        c[2] for t in ("DomainResource", "ContactPoint", "Reference") for c in _INV.for_type(t)
    }
    assert set(SHORTCUTS) <= published
