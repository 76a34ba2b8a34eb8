"""Profile validation (R4 profiling.html): cardinality incl. slices, types, fixed and pattern values,
slicing by value (identifier system, extension url, coding system; open and closed), profiled
extension types with required bindings, reference target profiles, profile invariants, unknown
profiles; snapshot generation for the differential-only test profile (see conftest.PROFILE)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.validation.pipeline import Validator

from .conftest import DELIVERY_MODE, RIC, TEST_PROFILE, V3_MARITAL

VALID: dict[str, Any] = {
    "resourceType": "Patient",
    "meta": {"profile": [TEST_PROFILE]},
    "identifier": [
        {"system": "urn:example:mrn", "value": "A1"},
        {"system": RIC, "value": "11010519491231002X"},
    ],
    "gender": "female",
    "extension": [
        {
            "url": DELIVERY_MODE,
            "valueCodeableConcept": {
                "coding": [
                    {"system": "https://jiayi.health/fhir/CodeSystem/delivery-mode", "code": "home"}
                ]
            },
        }
    ],
    "maritalStatus": {"coding": [{"system": V3_MARITAL, "code": "M"}]},
    "generalPractitioner": [{"reference": "Practitioner/d1"}],
    "contact": [
        {
            "name": {"family": "李"},
            "relationship": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C"}
                    ]
                }
            ],
        }
    ],
}


def _set(path: str, value: Any) -> dict[str, Any]:
    """VALID with `value` at a dotted path (`None` deletes); list indexes as numbers."""
    doc = copy.deepcopy(VALID)
    parts = path.split(".")
    target: Any = doc
    for p in parts[:-1]:
        target = target[int(p)] if p.isdigit() else target[p]
    last = parts[-1]
    if value is None:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


# (label, resource, expected error (code, expression) list)
CASES = [
    ("valid", VALID, []),
    ("min of element", _set("gender", None), [("required", "Patient.gender")]),
    (
        "min of slice",
        _set("identifier.1", {"system": "urn:x", "value": "1"}),
        [("required", "Patient.identifier")],
    ),
    (
        "required child in slice",
        _set("identifier.1", {"system": RIC}),
        [("required", "Patient.identifier[1].value")],
    ),
    (
        "max",
        _set("telecom", [{"system": "phone", "value": "1"}, {"system": "phone", "value": "2"}]),
        [("invalid", "Patient.telecom")],
    ),
    (
        "max 0",
        _set("communication", [{"language": {"text": "zh"}}]),
        [("invalid", "Patient.communication")],
    ),
    (
        "choice type not allowed",
        _set("deceasedDateTime", "2020-01-01"),
        [("invalid", "Patient.deceasedDateTime")],
    ),
    (
        "closed slicing",
        _set("maritalStatus", {"coding": [{"system": "urn:x", "code": "M"}]}),
        [("invalid", "Patient.maritalStatus.coding[0]")],
    ),
    (
        "pattern",
        _set("contact.0.relationship", [{"coding": [{"code": "C"}]}]),
        [("value", "Patient.contact[0].relationship[0]")],
    ),
    (
        "target profile",
        _set("generalPractitioner", [{"reference": "Organization/o1"}]),
        [("invalid", "Patient.generalPractitioner[0].reference")],
    ),
    (
        "profile invariant (and base pat-1)",
        _set("contact.0.name", None),
        [("invariant", "Patient.contact[0]")] * 2,
    ),
    (
        "extension slice: required binding",
        _set("extension.0.valueCodeableConcept", {"coding": [{"system": "urn:x", "code": "x"}]}),
        [("code-invalid", "Patient.extension[0].valueCodeableConcept")],
    ),
    (
        "extension slice: wrong value type",
        _set("extension.0", {"url": DELIVERY_MODE, "valueString": "home"}),
        [("invalid", "Patient.extension[0].valueString")],
    ),
    (
        "unknown profile",
        _set("meta", {"profile": ["https://example.org/x"]}),
        [("invalid", "Patient.meta.profile[0]")],
    ),
    (
        "profile of another type",
        _set("meta", {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]}),
        [("invalid", "Patient.meta.profile[0]")],
    ),
]


@pytest.mark.parametrize(("label", "resource", "expected"), CASES, ids=[c[0] for c in CASES])
def test_profile_checks(
    validator: Validator, label: str, resource: dict[str, Any], expected: list[Any]
) -> None:
    found = [(i.code, i.expression[0]) for i in validator.validate(resource) if i.is_error]
    assert sorted(found) == sorted(expected)


def test_profile_parameter_and_unknown(validator: Validator) -> None:
    bare = {k: v for k, v in VALID.items() if k != "meta"}
    assert [i for i in validator.validate(bare, [TEST_PROFILE]) if i.is_error] == []
    issues = validator.validate(bare, ["https://example.org/x"])
    assert [(i.code, i.expression) for i in issues if i.is_error] == [("invalid", ("profile[0]",))]


def test_snapshot_is_generated_for_differential_only_profile(validator: Validator) -> None:
    assert validator.profiles is not None
    snapshot = validator.profiles.library.snapshot(TEST_PROFILE)
    assert snapshot is not None
    ids = [e["id"] for e in snapshot]
    assert ids.index("Patient.identifier") < ids.index("Patient.identifier:ric")
    assert ids.index("Patient.identifier:ric") < ids.index("Patient.identifier:ric.system")
    system = next(e for e in snapshot if e["id"] == "Patient.identifier:ric.system")
    assert system["fixedUri"] == RIC and system["min"] == 1
    ext = validator.profiles.library.snapshot(DELIVERY_MODE)
    assert ext is not None
    url = next(e for e in ext if e["id"] == "Extension.url")
    assert url["fixedUri"] == DELIVERY_MODE
