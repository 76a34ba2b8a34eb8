"""Base structural validation, table-driven.

Spec: http://hl7.org/fhir/R4/json.html (properties, arrays, `_name` siblings, no empty values),
http://hl7.org/fhir/R4/datatypes.html (primitive formats), http://hl7.org/fhir/R4/element.html (ele-1),
http://hl7.org/fhir/R4/extensibility.html (ext-1).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from fhir_server.conformance.r4 import R4Definitions
from fhir_server.validation.pipeline import Validator, is_unreadable
from fhir_server.validation.structure import validate_structure


@pytest.fixture(scope="module")
def defs() -> R4Definitions:
    return R4Definitions.load()


def patient(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **fields}


def observation(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
    }
    return {**base, **fields}


EXT = "http://example.org/ext"

VALID: list[tuple[str, dict[str, Any]]] = [
    ("minimal patient", patient()),
    (
        "patient with id and meta",
        patient(id="p-1", meta={"versionId": "1", "lastUpdated": "2024-01-02T03:04:05.123+08:00"}),
    ),
    ("names", patient(name=[{"family": "张", "given": ["三", "小三"]}])),
    ("date precisions", patient(birthDate="1970")),
    ("year-month", patient(birthDate="1970-02")),
    ("leap day", patient(birthDate="2024-02-29")),
    ("choice boolean", patient(deceasedBoolean=False)),
    ("choice dateTime", patient(deceasedDateTime="2020-01-01T00:00:00Z")),
    (
        "primitive extension only",
        patient(_birthDate={"extension": [{"url": EXT, "valueCode": "unknown"}]}),
    ),
    (
        "aligned repeating primitive extension",
        patient(
            name=[
                {
                    "given": ["a", None],
                    "_given": [None, {"extension": [{"url": EXT, "valueString": "x"}]}],
                }
            ]
        ),
    ),
    (
        "nested extensions",
        patient(extension=[{"url": EXT, "extension": [{"url": "a", "valueInteger": -5}]}]),
    ),
    ("decimal", observation(valueQuantity={"value": 72.5, "unit": "kg"})),
    ("decimal integer-valued", observation(valueQuantity={"value": 72})),
    ("integer", observation(valueInteger=2147483647)),
    (
        "contained",
        patient(
            contained=[{"resourceType": "Organization", "id": "o", "name": "X"}],
            managingOrganization={"reference": "#o"},
        ),
    ),
    (
        "backbone component",
        observation(component=[{"code": {"text": "sys"}, "valueQuantity": {"value": 120}}]),
    ),
    (
        "contentReference",
        {
            "resourceType": "Questionnaire",
            "status": "draft",
            "item": [
                {"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string"}]}
            ],
        },
    ),
    (
        "bundle entry resource",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "fullUrl": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0",
                    "resource": patient(active=True),
                }
            ],
        },
    ),
    (
        "parameters resource",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "r", "resource": patient()}, {"name": "v", "valueString": "x"}],
        },
    ),
    (
        "narrative",
        patient(
            text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
        ),
    ),
    ("code with spaces", patient(gender="male", language="zh-CN")),
    (
        "oid and uuid",
        patient(
            identifier=[
                {"system": "urn:oid:2.16.156.10011.1.3", "value": "1"},
                {"system": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "value": "2"},
            ]
        ),
    ),
    ("base64", patient(photo=[{"contentType": "image/png", "data": "aGVsbG8h\nd29ybGQ="}])),
    ("time", {"resourceType": "Location", "hoursOfOperation": [{"openingTime": "08:30:00"}]}),
    (
        "instant",
        {
            "resourceType": "AuditEvent",
            "type": {"code": "x"},
            "recorded": "2024-01-01T00:00:00Z",
            "agent": [{"requestor": True}],
            "source": {"observer": {"display": "x"}},
        },
    ),
    ("element id", patient(name=[{"id": "n1", "family": "x"}])),
    (
        "required met by _sibling",
        {
            "resourceType": "Observation",
            "_status": {"extension": [{"url": EXT, "valueCode": "x"}]},
            "code": {"text": "x"},
        },
    ),
    (
        "required choice",
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": {"display": "x"},
            "medicationCodeableConcept": {"text": "x"},
        },
    ),
    ("positiveInt", patient(telecom=[{"system": "phone", "value": "1", "rank": 1}])),
]


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("not an object", [], "structure", ""),  # type: ignore[list-item]
    ("missing resourceType", {"id": "x"}, "structure", ""),
    ("unknown resourceType", {"resourceType": "Patient2"}, "structure", ""),
    ("abstract resourceType", {"resourceType": "DomainResource"}, "structure", ""),
    ("unknown element", patient(foo=1), "structure", "Patient.foo"),
    (
        "unknown nested element",
        patient(name=[{"family": "x", "first": "y"}]),
        "structure",
        "Patient.name[0].first",
    ),
    ("unknown choice type", patient(deceasedString="yes"), "structure", "Patient.deceasedString"),
    ("bare choice name", patient(deceased=True), "structure", "Patient.deceased"),
    (
        "resourceType nested",
        patient(name=[{"resourceType": "HumanName"}]),
        "structure",
        "Patient.name[0].resourceType",
    ),
    ("repeating not array", patient(name={"family": "x"}), "structure", "Patient.name"),
    ("single as array", patient(gender=["male"]), "structure", "Patient.gender"),
    (
        "primitive repeating not array",
        patient(name=[{"given": "x"}]),
        "structure",
        "Patient.name[0].given",
    ),
    ("object expected", patient(maritalStatus="M"), "structure", "Patient.maritalStatus"),
    ("string expected", patient(gender=1), "structure", "Patient.gender"),
    ("boolean as string", patient(active="true"), "structure", "Patient.active"),
    ("integer as string", observation(valueInteger="1"), "structure", "Observation.valueInteger"),
    ("integer as float", observation(valueInteger=1.0), "structure", "Observation.valueInteger"),
    ("integer overflow", observation(valueInteger=2**31), "structure", "Observation.valueInteger"),
    ("integer as bool", observation(valueInteger=True), "structure", "Observation.valueInteger"),
    (
        "positiveInt zero",
        patient(telecom=[{"rank": 0, "value": "1"}]),
        "structure",
        "Patient.telecom[0].rank",
    ),
    (
        "decimal as string",
        observation(valueQuantity={"value": "72.5"}),
        "structure",
        "Observation.valueQuantity.value",
    ),
    (
        "decimal as bool",
        observation(valueQuantity={"value": True}),
        "structure",
        "Observation.valueQuantity.value",
    ),
    ("bad date", patient(birthDate="1970-13-01"), "structure", "Patient.birthDate"),
    ("date with time", patient(birthDate="1970-01-01T00:00:00Z"), "structure", "Patient.birthDate"),
    ("impossible date", patient(birthDate="2023-02-29"), "structure", "Patient.birthDate"),
    (
        "dateTime without zone",
        patient(deceasedDateTime="2020-01-01T10:00:00"),
        "structure",
        "Patient.deceasedDateTime",
    ),
    (
        "instant without time",
        patient(meta={"lastUpdated": "2024-01-01"}),
        "structure",
        "Patient.meta.lastUpdated",
    ),
    (
        "bad time",
        {"resourceType": "Location", "hoursOfOperation": [{"openingTime": "24:00:00"}]},
        "structure",
        "Location.hoursOfOperation[0].openingTime",
    ),
    ("bad id", patient(id="a_b"), "structure", "Patient.id"),
    ("long id", patient(id="a" * 65), "structure", "Patient.id"),
    ("bad code", patient(gender="ma le "), "structure", "Patient.gender"),
    (
        "bad oid",
        patient(extension=[{"url": EXT, "valueOid": "urn:oid:1.02"}]),
        "structure",
        "Patient.extension[0].valueOid",
    ),
    (
        "bad uuid",
        patient(extension=[{"url": EXT, "valueUuid": "urn:uuid:X"}]),
        "structure",
        "Patient.extension[0].valueUuid",
    ),
    (
        "uri with space",
        patient(identifier=[{"system": "http://a b", "value": "1"}]),
        "structure",
        "Patient.identifier[0].system",
    ),
    ("bad base64", patient(photo=[{"data": "abc"}]), "structure", "Patient.photo[0].data"),
    ("empty string", patient(name=[{"family": ""}]), "structure", "Patient.name[0].family"),
    ("empty object", patient(maritalStatus={}), "structure", "Patient.maritalStatus"),
    ("empty array", patient(name=[]), "structure", "Patient.name"),
    ("null value", patient(gender=None), "structure", "Patient.gender"),
    ("null in array", patient(name=[None]), "structure", "Patient.name[0]"),
    (
        "null in primitive array",
        patient(name=[{"given": ["a", None]}]),
        "structure",
        "Patient.name[0].given[1]",
    ),
    (
        "misaligned sibling",
        patient(name=[{"given": ["a"], "_given": [None, {"id": "x"}]}]),
        "structure",
        "Patient.name[0].given",
    ),
    ("sibling of complex", patient(_name=[{"id": "x"}]), "structure", "Patient._name"),
    ("sibling not object", patient(_birthDate="x"), "structure", "Patient.birthDate"),
    (
        "sibling unknown child",
        patient(_birthDate={"valueDate": "1970"}),
        "structure",
        "Patient.birthDate.valueDate",
    ),
    (
        "no sibling for element id",
        patient(name=[{"_id": {"id": "x"}, "family": "x"}]),
        "structure",
        "Patient.name[0]._id",
    ),
    (
        "contained invalid",
        patient(contained=[{"resourceType": "Organization", "id": "o", "nam": "X"}]),
        "structure",
        "Patient.contained[0].nam",
    ),
    (
        "contained not a resource",
        patient(contained=[{"id": "o"}]),
        "structure",
        "Patient.contained[0]",
    ),
    (
        "bundle entry invalid",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": patient(active="yes")}],
        },
        "structure",
        "Bundle.entry[0].resource.active",
    ),
    (
        "parameters resource invalid",
        {"resourceType": "Parameters", "parameter": [{"name": "p", "resource": patient(x=1)}]},
        "structure",
        "Parameters.parameter[0].resource.x",
    ),
    (
        "deep contentReference",
        {
            "resourceType": "Questionnaire",
            "status": "draft",
            "item": [
                {
                    "linkId": "1",
                    "type": "group",
                    "item": [{"linkId": "2", "type": "string", "bogus": 1}],
                }
            ],
        },
        "structure",
        "Questionnaire.item[0].item[0].bogus",
    ),
    (
        "valueQuantity value",
        observation(valueQuantity={"value": "x"}),
        "structure",
        "Observation.valueQuantity.value",
    ),
    (
        "missing required",
        {"resourceType": "Observation", "code": {"text": "x"}},
        "required",
        "Observation.status",
    ),
    (
        "missing required nested",
        observation(component=[{"valueString": "x"}]),
        "required",
        "Observation.component[0].code",
    ),
    (
        "missing required choice",
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": {"display": "x"},
        },
        "required",
        "MedicationRequest.medication[x]",
    ),
    (
        "required choice met by sibling",
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": {"display": "x"},
            "medicationReference": {"display": "x"},
            "_status": {"id": "s"},
        },
        "invariant",
        "MedicationRequest.status",
    ),
    (
        "missing extension url",
        patient(extension=[{"valueString": "x"}]),
        "required",
        "Patient.extension[0].url",
    ),
    (
        "missing required in contentReference",
        {
            "resourceType": "Questionnaire",
            "status": "draft",
            "item": [{"linkId": "1", "type": "group", "item": [{"type": "string"}]}],
        },
        "required",
        "Questionnaire.item[0].item[0].linkId",
    ),
    ("ext-1 neither", patient(extension=[{"url": EXT}]), "invariant", "Patient.extension[0]"),
    (
        "ext-1 both",
        patient(
            extension=[
                {"url": EXT, "valueString": "x", "extension": [{"url": "a", "valueString": "y"}]}
            ]
        ),
        "invariant",
        "Patient.extension[0]",
    ),
    ("ele-1 id only", patient(maritalStatus={"id": "x"}), "invariant", "Patient.maritalStatus"),
]


@pytest.mark.parametrize(("label", "body"), VALID, ids=[v[0] for v in VALID])
def test_valid_bodies_have_no_issues(label: str, body: dict[str, Any], defs: R4Definitions) -> None:
    assert validate_structure(body, defs) == []


@pytest.mark.parametrize(
    ("label", "body", "code", "expression"), INVALID, ids=[v[0] for v in INVALID]
)
def test_invalid_bodies_report_code_and_expression(
    label: str, body: dict[str, Any], code: str, expression: str, defs: R4Definitions
) -> None:
    issues = validate_structure(body, defs)
    assert issues, "expected an issue"
    assert all(i.severity == "error" for i in issues)
    assert (code, (expression,) if expression else ()) in [(i.code, i.expression) for i in issues]


def test_issue_codes_separate_unreadable_from_unprocessable(defs: R4Definitions) -> None:
    validator = Validator(defs)
    assert is_unreadable(validator.validate(patient(foo=1)))
    missing = validator.validate({"resourceType": "Observation", "code": {"text": "x"}})
    assert missing and not is_unreadable(missing)


def test_every_issue_is_reported_not_just_the_first(defs: R4Definitions) -> None:
    issues = validate_structure(patient(foo=1, gender=1, name=[{"family": ""}]), defs)
    assert {i.expression for i in issues} == {
        ("Patient.foo",),
        ("Patient.gender",),
        ("Patient.name[0].family",),
    }


def test_pipeline_stops_after_unreadable_structure(defs: R4Definitions) -> None:
    seen: list[dict[str, Any]] = []

    def later_stage(resource: dict[str, Any]) -> list[Any]:
        seen.append(resource)
        return []

    validator = Validator(defs, [later_stage])
    validator.validate(patient(active=True))
    validator.validate(patient(active="yes"))
    assert len(seen) == 1


def test_typical_patient_validates_well_under_a_millisecond(defs: R4Definitions) -> None:
    body = patient(
        id="p1",
        meta={
            "versionId": "3",
            "lastUpdated": "2024-03-01T08:00:00+08:00",
            "profile": ["https://jiayi.health/fhir/StructureDefinition/x"],
        },
        identifier=[{"system": "urn:oid:2.16.156.10011.1.3", "value": "11010519491231002X"}],
        active=True,
        name=[{"use": "official", "text": "张三", "family": "张", "given": ["三"]}],
        telecom=[{"system": "phone", "value": "13800000000", "use": "mobile"}],
        gender="male",
        birthDate="1949-12-31",
        address=[
            {
                "extension": [
                    {
                        "url": "https://jiayi.health/fhir/StructureDefinition/division-code",
                        "valueCode": "440106",
                    }
                ],
                "line": ["天河路 1 号"],
                "city": "广州市",
                "district": "天河区",
                "state": "广东省",
            }
        ],
        managingOrganization={"reference": "Organization/1"},
    )
    assert validate_structure(body, defs) == []
    runs = 500
    start = time.perf_counter()
    for _ in range(runs):
        validate_structure(body, defs)
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.001, f"{per_call * 1e6:.0f} µs per Patient"
