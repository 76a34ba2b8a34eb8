"""Table-driven tests of the unconditional and base checks: resident ID numbers (GB 11643) and
GB/T 2260 division codes (INTERFACE.md), base FHIRPath invariants (R4 conformance-rules.html
#constraints, incl. the natively implemented dom-3 and the fhirpathpy workarounds), base required
bindings (R4 terminologies.html#strength), and snapshot generation (R4 profiling.html#snapshot)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.validation.identifiers import ric_problem
from fhir_server.validation.invariants import NATIVE_INVARIANTS, SKIPPED_INVARIANTS
from fhir_server.validation.pipeline import Validator

RIC = "urn:oid:2.16.156.10011.1.3"
HL7_CN = "urn:oid:2.16.840.1.113883.2.23.1.19.1"
DIVISION = "https://jiayi.health/fhir/StructureDefinition/division-code"


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("11010519491231002X", None),
        ("440106199001011232", "check digit"),
        ("110105194912310021", "check digit"),
        ("11010519491331002X", "not a calendar date"),
        ("99010519491231002X", "region code"),
        ("1101051949123100", "18 characters"),
        ("11010519491231002x", "upper-case X"),
        ("11010520991231002X", "not plausible"),
        # Dongguan's 441900 exists since 1988; a resident born in 1960 was issued it later.
        ("441900196001010016", None),
        # 442502 (old Dongguan city) was retired in 1988: fine for someone born in 1980, not 1990.
        ("442502198001010017", None),
        ("442502199001010011", "region code"),
    ],
)
def test_ric_rules(number: str, problem: str | None) -> None:
    found = ric_problem(number)
    assert (found is None) if problem is None else (found is not None and problem in found)


def _patient(**kw: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **kw}


def _address(code: str) -> dict[str, Any]:
    return {"address": [{"extension": [{"url": DIVISION, "valueCode": code}], "text": "x"}]}


# (label, resource, expected errors as (code, expression))
CASES = [
    ("ric ok", _patient(identifier=[{"system": RIC, "value": "11010519491231002X"}]), []),
    (
        "ric bad",
        _patient(identifier=[{"system": RIC, "value": "110105194912310021"}]),
        [("value", "Patient.identifier[0].value")],
    ),
    (
        "hl7 china ric bad",
        _patient(identifier=[{"system": "urn:x", "value": "1"}, {"system": HL7_CN, "value": "1"}]),
        [("value", "Patient.identifier[1].value")],
    ),
    ("other system unchecked", _patient(identifier=[{"system": "urn:x", "value": "1"}]), []),
    (
        "ric in contained",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "#p"},
            "contained": [
                {
                    "resourceType": "Patient",
                    "id": "p",
                    "identifier": [{"system": RIC, "value": "1"}],
                }
            ],
        },
        [("value", "Observation.contained[0].identifier[0].value")],
    ),
    ("guangdong division", _patient(**_address("440106")), []),
    ("national division", _patient(**_address("110105")), []),
    (
        "unknown division",
        _patient(**_address("999999")),
        [("value", "Patient.address[0].extension[0].valueCode")],
    ),
    (
        "per-1",
        _patient(name=[{"text": "x", "period": {"start": "2020-02-01", "end": "2020-01-01"}}]),
        [("invariant", "Patient.name[0].period")],
    ),
    ("per-1 ok", _patient(name=[{"text": "x", "period": {"start": "2020-01-01"}}]), []),
    ("pat-1", _patient(contact=[{"gender": "male"}]), [("invariant", "Patient.contact[0]")]),
    (
        "dom-3 unreferenced contained",
        _patient(contained=[{"resourceType": "Organization", "id": "o", "name": "x"}]),
        [("invariant", "Patient.contained[0]")],
    ),
    (
        "dom-3 referenced",
        _patient(
            contained=[{"resourceType": "Organization", "id": "o", "name": "x"}],
            managingOrganization={"reference": "#o"},
        ),
        [],
    ),
    (
        "que-7 '=' with boolean answer",
        {
            "resourceType": "Questionnaire",
            "status": "draft",
            "item": [
                {"linkId": "1", "type": "boolean"},
                {
                    "linkId": "2",
                    "type": "string",
                    "enableWhen": [{"question": "1", "operator": "=", "answerBoolean": True}],
                },
            ],
        },
        [],
    ),
    (
        "que-7 exists with coding",
        {
            "resourceType": "Questionnaire",
            "status": "draft",
            "item": [
                {
                    "linkId": "2",
                    "type": "string",
                    "enableWhen": [
                        {"question": "1", "operator": "exists", "answerCoding": {"code": "x"}}
                    ],
                }
            ],
        },
        [("invariant", "Questionnaire.item[0].enableWhen[0]")],
    ),
    ("required binding", _patient(gender="unknown-ish"), [("code-invalid", "Patient.gender")]),
    (
        "required binding on Coding",
        {
            "resourceType": "Observation",
            "status": "bogus",
            "code": {"text": "x"},
        },
        [("code-invalid", "Observation.status")],
    ),
    (
        "unexpandable value set not checked",
        _patient(
            communication=[
                {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "zz-ZZ"}]}}
            ]
        ),
        [],
    ),
]


@pytest.mark.parametrize(("label", "resource", "expected"), CASES, ids=[c[0] for c in CASES])
def test_base_checks(
    validator: Validator, label: str, resource: dict[str, Any], expected: list[Any]
) -> None:
    found = [(i.code, i.expression[0]) for i in validator.validate(resource) if i.is_error]
    assert sorted(found) == sorted(expected)


def test_every_skipped_invariant_has_a_reason() -> None:
    for table in (SKIPPED_INVARIANTS, NATIVE_INVARIANTS):
        assert all(len(reason) > 20 for reason in table.values())
