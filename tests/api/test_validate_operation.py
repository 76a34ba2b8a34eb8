"""`$validate` over HTTP (R4 resource-operation-validate.html) and profile enforcement on write
(resource.html#profile; INTERFACE.md: resident ID numbers) on SQLite and PostgreSQL.

The app is built with `validation.pipeline.build_validator` (the wiring app.py is to adopt).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

FHIR = {"Content-Type": "application/fhir+json"}
BP = "http://hl7.org/fhir/StructureDefinition/bp"
GOOD_RIC = "11010519491231002X"
BAD_RIC = "110105194912310021"


def patient(ric: str = GOOD_RIC, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": ric}],
        "gender": "female",
        **extra,
    }


def bp_observation(systolic_code: str = "8480-6") -> dict[str, Any]:
    loinc = "http://loinc.org"
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": loinc, "code": "85354-9"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-05-01T09:00:00+08:00",
        "component": [
            {
                "code": {"coding": [{"system": loinc, "code": systolic_code}]},
                "valueQuantity": {
                    "value": 120,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {"coding": [{"system": loinc, "code": "8462-4"}]},
                "valueQuantity": {
                    "value": 80,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
        ],
    }


def issues(response: Any) -> list[tuple[str, str, list[str]]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return [(i["severity"], i["code"], i.get("expression", [])) for i in body["issue"]]


def errors(response: Any) -> list[tuple[str, list[str]]]:
    return [(code, expr) for sev, code, expr in issues(response) if sev in ("error", "fatal")]


# (body, query, expected errors as (code, expression)) — type-level $validate, always 200.
CASES = [
    ("valid patient", patient(), "", []),
    ("bad check digit", patient(BAD_RIC), "", [("value", ["Patient.identifier[0].value"])]),
    (
        "gender not in required VS",
        patient(gender="man"),
        "",
        [("code-invalid", ["Patient.gender"])],
    ),
    (
        "unknown claimed profile",
        patient(meta={"profile": ["https://example.org/nope"]}),
        "",
        [("invalid", ["Patient.meta.profile[0]"])],
    ),
    ("bp profile ok", bp_observation(), f"?profile={BP}", []),
    (
        "bp systolic slice missing",
        bp_observation("1234-5"),
        f"?profile={BP}",
        [("required", ["Observation.component"])],
    ),
    (
        "per-1 invariant",
        patient(name=[{"family": "张", "period": {"start": "2020-01-02", "end": "2020-01-01"}}]),
        "",
        [("invariant", ["Patient.name[0].period"])],
    ),
]


@pytest.mark.parametrize(("label", "body", "query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_type_level_validate(
    vclient: TestClient, label: str, body: dict[str, Any], query: str, expected: list[Any]
) -> None:
    rtype = body["resourceType"]
    r = vclient.post(f"/fhir/{rtype}/$validate{query}", json=body, headers=FHIR)
    assert r.status_code == 200, r.text
    assert errors(r) == expected


def test_parameters_body_with_profile_and_mode(vclient: TestClient) -> None:
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": bp_observation("1234-5")},
            {"name": "mode", "valueCode": "create"},
            {"name": "profile", "valueUri": BP},
        ],
    }
    r = vclient.post("/fhir/Observation/$validate", json=params, headers=FHIR)
    assert r.status_code == 200
    assert ("required", ["Observation.component"]) in errors(r)


def test_instance_update_and_delete_modes(vclient: TestClient) -> None:
    created = vclient.post("/fhir/Patient", json=patient(), headers=FHIR)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    same = {**patient(), "id": pid}
    ok = vclient.post(f"/fhir/Patient/{pid}/$validate?mode=update", json=same, headers=FHIR)
    assert ok.status_code == 200 and errors(ok) == []
    other = {**patient(), "id": "someone-else"}
    bad = vclient.post(f"/fhir/Patient/{pid}/$validate?mode=update", json=other, headers=FHIR)
    assert bad.status_code == 200 and errors(bad) == [("invalid", ["Patient.id"])]
    gone = vclient.get(f"/fhir/Patient/{pid}/$validate?mode=delete")
    assert gone.status_code == 200
    assert issues(gone) == [("information", "informational", [])]
    as_params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "mode", "valueCode": "delete"}],
    }
    posted = vclient.post(f"/fhir/Patient/{pid}/$validate", json=as_params, headers=FHIR)
    assert posted.status_code == 200 and issues(posted) == issues(gone)
    missing = vclient.get("/fhir/Patient/nope/$validate?mode=delete")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("query", "body", "status"),
    [("?mode=bogus", patient(), 400), ("", None, 400), ("", {"resourceType": "Group"}, 400)],
)
def test_unusable_input_is_400(vclient: TestClient, query: str, body: Any, status: int) -> None:
    r = vclient.post(f"/fhir/Patient/$validate{query}", json=body, headers=FHIR)
    assert r.status_code == status, r.text


# -- enforcement on write ---------------------------------------------------------------------
WRITES = [
    (patient(), 201, None),
    (patient(BAD_RIC), 422, "Patient.identifier[0].value"),
    (
        {
            **patient(),
            "identifier": [
                {"system": "urn:oid:2.16.840.1.113883.2.23.1.19.1", "value": "99010519491231002X"}
            ],
        },
        422,
        "Patient.identifier[0].value",
    ),
    (patient(meta={"profile": ["https://example.org/nope"]}), 422, "Patient.meta.profile[0]"),
    (
        patient(
            address=[
                {
                    "extension": [
                        {
                            "url": "https://jiayi.health/fhir/StructureDefinition/division-code",
                            "valueCode": "999999",
                        }
                    ],
                    "city": "广州市",
                }
            ]
        ),
        422,
        "Patient.address[0].extension[0].valueCode",
    ),
]


@pytest.mark.parametrize(("body", "status", "expression"), WRITES)
def test_writes_are_validated(
    vclient: TestClient, body: dict[str, Any], status: int, expression: str | None
) -> None:
    r = vclient.post("/fhir/Patient", json=body, headers=FHIR)
    assert r.status_code == status, r.text
    if expression is not None:
        assert expression in [e for i in r.json()["issue"] for e in i.get("expression", [])]
