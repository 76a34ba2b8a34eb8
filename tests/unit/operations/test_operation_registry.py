"""Operations declared as data: lookup by level and type, parameter checks against the
OperationDefinition (operations.html), CapabilityStatement entries."""

from __future__ import annotations

import pytest

from fhir_server.core.errors import FhirError
from fhir_server.interactions.model import FhirResponse
from fhir_server.operations.parameters import (
    check_against,
    parameters_resource,
    parse_body,
    parse_query,
)
from fhir_server.operations.registry import OperationRegistry, discover
from fhir_server.operations.spec import OperationSpec

DEFINITION = {
    "resourceType": "OperationDefinition",
    "url": "https://jiayi.health/fhir/OperationDefinition/test-op",
    "parameter": [
        {"name": "term", "use": "in", "min": 0, "max": "1", "type": "integer"},
        {"name": "subject", "use": "in", "min": 1, "max": "*", "type": "Reference"},
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle"},
    ],
}


def _handler(repo, op_input):  # type: ignore[no-untyped-def]
    return FhirResponse(200, parameters_resource({"echo": op_input.one("term")}))


SPEC = OperationSpec(
    "sign", DEFINITION["url"], _handler, type_level=True, resource_types=("Contract",)
)
INSTANCE = OperationSpec("renew", "x", _handler, instance=True, resource_types=("Contract",))
EVERYWHERE = OperationSpec(
    "validate", "y", _handler, type_level=True, instance=True, resource_types=("*",)
)


def test_find_by_level_and_type() -> None:
    reg = OperationRegistry([SPEC, INSTANCE, EVERYWHERE], {})
    assert reg.find("sign", "Contract", instance=False) is SPEC
    assert reg.find("sign", "Contract", instance=True) is None
    assert reg.find("sign", "Patient", instance=False) is None
    assert reg.find("renew", "Contract", instance=True) is INSTANCE
    assert reg.find("validate", "Patient", instance=True) is EVERYWHERE
    assert reg.find("validate", None, instance=False) is None
    assert {e["name"] for e in reg.capability_entries("Contract")} == {"sign", "renew", "validate"}
    assert reg.capability_entries(None) == []


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"subject": [{"reference": "Patient/1"}]}, None),
        ({}, "requires the parameter 'subject'"),
        ({"subject": [{}], "term": [1, 2]}, "at most 1"),
        ({"subject": [{}], "bogus": [1]}, "no input parameter 'bogus'"),
    ],
)
def test_parameter_checks(values: dict, error: str | None) -> None:
    if error is None:
        check_against(values, DEFINITION, "sign")
        return
    with pytest.raises(FhirError) as exc:
        check_against(values, DEFINITION, "sign")
    assert exc.value.status == 400 and error in exc.value.message


def test_parse_body_and_query() -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "term", "valueInteger": 3},
            {"name": "subject", "valueReference": {"reference": "Patient/1"}},
            {"name": "subject", "valueReference": {"reference": "Patient/2"}},
            {"name": "money", "part": [{"name": "amount", "valueDecimal": 20.0}]},
        ],
    }
    parsed = parse_body(body, DEFINITION)
    assert (
        parsed["term"] == [3]
        and len(parsed["subject"]) == 2
        and parsed["money"] == [{"amount": 20.0}]
    )
    assert parse_query([("term", "2"), ("_format", "json")], DEFINITION) == {"term": [2]}
    with pytest.raises(FhirError):
        parse_query([("term", "two")], DEFINITION)
    assert parse_body({"resourceType": "Patient"}, None) == {
        "resource": [{"resourceType": "Patient"}]
    }


def test_parameters_output() -> None:
    out = parameters_resource(
        {
            "rate": 0.5,
            "ok": True,
            "n": 3,
            "name": "x",
            "res": {"resourceType": "Patient"},
            "part": {"a": 1},
        }
    )
    kinds = [next(k for k in p if k != "name") for p in out["parameter"]]
    assert kinds == [
        "valueDecimal",
        "valueBoolean",
        "valueInteger",
        "valueString",
        "resource",
        "part",
    ]


def test_discover_finds_declared_operations() -> None:
    specs = discover()
    assert all(isinstance(s, OperationSpec) for s in specs)
    # one spec per level, except per-instance specs (`extra["instance_ids"]`, e.g. the two
    # `Measure/<id>/$evaluate-measure`), told apart by their instances
    keys = {
        (s.code, s.system, s.type_level, s.instance, s.resource_types, s.extra.get("instance_ids"))
        for s in specs
    }
    assert len(keys) == len(specs)


def test_a_per_instance_spec_wins_for_its_instance_only() -> None:
    def general(repo: object, op: object) -> None:  # pragma: no cover - never called
        raise AssertionError

    def own(repo: object, op: object) -> None:  # pragma: no cover - never called
        raise AssertionError

    base = OperationSpec(
        "evaluate-measure", "urn:general", general, instance=True, resource_types=("Measure",)
    )  # type: ignore[arg-type]
    special = OperationSpec(
        "evaluate-measure",
        "urn:own",
        own,  # type: ignore[arg-type]
        instance=True,
        resource_types=("Measure",),
        extra={"instance_ids": ("m1",)},
    )
    for order in ([base, special], [special, base]):
        reg = OperationRegistry(order, {})
        assert reg.find("evaluate-measure", "Measure", True, "m1") is special
        assert reg.find("evaluate-measure", "Measure", True, "m2") is base
        assert reg.find("evaluate-measure", "Measure", True) is base
    only = OperationRegistry([special], {})
    assert only.find("evaluate-measure", "Measure", True, "m2") is None
    entries = OperationRegistry([base, special], {}).capability_entries("Measure")
    assert {e["definition"] for e in entries} == {"urn:general", "urn:own"}
