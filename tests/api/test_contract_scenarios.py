"""Contracting scenarios of issue 6 through the REST API, on SQLite and PostgreSQL: signing
(粤(一)(二)(八); 附件1/附件2 packages and fees), transfer, renewal (粤(十)), termination, fulfilment
(附件2 note: declined services are not unfulfilled)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.conformance.seed import seed_definitions
from fhir_server.core.clock import FixedClock
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import BASE, make_settings

CS = "https://jiayi.health/fhir/CodeSystem/"
PD = "https://jiayi.health/fhir/PlanDefinition/"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
TODAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    settings = make_settings(database_url)
    comps = dataclasses.replace(build_components(settings), clock=FixedClock(TODAY))
    seed_definitions(FhirRepository(RequestContext(BASE, system_name="seed"), comps))
    with TestClient(create_app(settings, components=comps)) as c:
        yield c


def put(c: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    r = c.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert r.status_code in (200, 201), r.text
    return r.json()


def provider(c: TestClient, suffix: str = "1", *, primary: bool = True) -> None:
    kind = "primary" if primary else "hospital"
    put(
        c,
        {
            "resourceType": "Organization",
            "id": f"org{suffix}",
            "name": f"社区卫生服务中心{suffix}",
            "type": [{"coding": [{"system": CS + "institution-type", "code": kind}]}],
        },
    )
    put(
        c,
        {"resourceType": "Practitioner", "id": f"doc{suffix}", "name": [{"text": f"医生{suffix}"}]},
    )
    put(
        c,
        {
            "resourceType": "PractitionerRole",
            "id": f"role{suffix}",
            "active": True,
            "practitioner": {"reference": f"Practitioner/doc{suffix}"},
            "organization": {"reference": f"Organization/org{suffix}"},
        },
    )
    put(
        c,
        {
            "resourceType": "CareTeam",
            "id": f"team{suffix}",
            "status": "active",
            "category": [
                {"coding": [{"system": CS + "care-team-role", "code": "family-doctor-team"}]}
            ],
            "managingOrganization": [{"reference": f"Organization/org{suffix}"}],
            "participant": [{"member": {"reference": f"PractitionerRole/role{suffix}"}}],
        },
    )


def patient(c: TestClient, pid: str, birth: str, gender: str = "female", *conditions: str) -> None:
    put(c, {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender})
    for i, code in enumerate(conditions):
        put(
            c,
            {
                "resourceType": "Condition",
                "id": f"{pid}-c{i}",
                "subject": {"reference": f"Patient/{pid}"},
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {"coding": [{"system": ICD10, "code": code}]},
            },
        )


def sign(c: TestClient, *params: dict[str, Any], status: int = 200) -> dict[str, Any]:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "consent", "valueBoolean": True},
            {
                "name": "channel",
                "valueCoding": {"system": CS + "signing-channel", "code": "on-site"},
            },
            *params,
        ],
    }
    r = c.post("/fhir/Contract/$sign", json=body)
    assert r.status_code == status, r.text
    return r.json()


def by_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def activities(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["detail"]["code"]["coding"][0]["code"]: a["detail"] for a in plan.get("activity", [])}


def events(plan: dict[str, Any], code: str) -> list[str]:
    return activities(plan)[code].get("scheduledTiming", {}).get("event", [])


def test_elderly_with_hypertension_and_diabetes_signs_for_three_years(api: TestClient) -> None:
    provider(api)
    patient(api, "p82", "1943-06-10", "male", "I10.x00", "E11.900")
    bundle = sign(
        api,
        {"name": "subject", "valueReference": {"reference": "Patient/p82"}},
        {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}},
        {"name": "term", "valueInteger": 3},
    )
    assert bundle["type"] == "transaction-response"
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    [consent] = by_type(bundle, "Consent")
    assert contract["status"] == "executed"
    assert contract["applies"] == {"start": "2026-01-05", "end": "2029-01-04"}
    assert plan["instantiatesCanonical"] == [
        PD + "basic-public-health",
        PD + "basic-medical",
        PD + "kp-elderly-65",
        PD + "kp-hypertension",
        PD + "kp-t2dm",
    ]
    assert plan["supportingInfo"] == [{"reference": f"Contract/{contract['id']}"}]
    assert consent["sourceReference"] == {"reference": f"Contract/{contract['id']}"}
    reminders = events(plan, "basic-public-health.reminder-consultation.reminder")
    assert len(reminders) == 36 and reminders[:2] == ["2026-02-04", "2026-03-04"]
    assert events(plan, "kp-hypertension.hypertension-management.follow-up")[:4] == [
        "2026-04-04",
        "2026-07-04",
        "2026-10-04",
        "2027-01-04",
    ]
    assert len(events(plan, "kp-t2dm.t2dm-management.follow-up")) == 12
    assert events(plan, "kp-elderly-65.home-follow-up-80") == [
        "2027-01-04",
        "2028-01-04",
        "2029-01-04",
    ]
    assert activities(plan)["basic-medical.priority-consultation"]["status"] == "not-started"
    fees = {t["type"]["coding"][0]["code"]: t for t in contract["term"]}
    assert list(fees) == ["public-health-funds", "medical-insurance", "personal-payment"]
    assert fees["public-health-funds"]["asset"][0]["valuedItem"][0]["net"] == {
        "value": 20.0,
        "currency": "CNY",
    }


def test_family_of_four(api: TestClient) -> None:
    provider(api)
    patient(api, "gp", "1955-08-01", "male")  # 70
    patient(api, "dad", "1985-03-01", "male")  # 40
    patient(api, "mum", "1987-09-01", "female")  # 38
    patient(api, "kid", "2021-09-15", "female")  # 4
    put(
        api,
        {
            "resourceType": "RiskAssessment",
            "id": "dad-ra",
            "status": "final",
            "subject": {"reference": "Patient/dad"},
            "prediction": [
                {
                    "qualitativeRisk": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/risk-probability",
                                "code": "high",
                            }
                        ]
                    }
                }
            ],
        },
    )
    put(
        api,
        {
            "resourceType": "Group",
            "id": "fam",
            "type": "person",
            "actual": True,
            "member": [
                {"entity": {"reference": f"Patient/{p}"}} for p in ("gp", "dad", "mum", "kid")
            ],
        },
    )
    bundle = sign(
        api,
        {"name": "family", "valueReference": {"reference": "Group/fam"}},
        {"name": "practitionerRole", "valueReference": {"reference": "PractitionerRole/role1"}},
    )
    [contract] = by_type(bundle, "Contract")
    plans = {p["subject"]["reference"]: p for p in by_type(bundle, "CarePlan")}
    assert len(contract["subject"]) == 4 and len(by_type(bundle, "Consent")) == 4
    basic = [PD + "basic-public-health", PD + "basic-medical"]
    assert plans["Patient/gp"]["instantiatesCanonical"] == basic + [PD + "kp-elderly-65"]
    assert plans["Patient/dad"]["instantiatesCanonical"] == basic + [PD + "kp-cancer-high-risk"]
    assert plans["Patient/mum"]["instantiatesCanonical"] == basic
    assert plans["Patient/kid"]["instantiatesCanonical"] == basic + [PD + "kp-child-0-6"]
    assert events(plans["Patient/kid"], "kp-child-0-6.child-management.5y") == ["2026-09-15"]
    assert "kp-child-0-6.child-management.4y" not in activities(plans["Patient/kid"])
    assert "kp-child-0-6.child-tcm.36m" not in activities(plans["Patient/kid"])
    assert "kp-elderly-65.home-follow-up-80" not in activities(plans["Patient/gp"])
    assert plans["Patient/gp"]["careTeam"] == [{"reference": "CareTeam/team1"}]
    ph = next(
        t for t in contract["term"] if t["type"]["coding"][0]["code"] == "public-health-funds"
    )
    assert ph["asset"][0]["valuedItem"][0]["net"] == {"value": 80.0, "currency": "CNY"}
    assert ph["asset"][0]["valuedItem"][0]["quantity"] == {"value": 4}


def test_pregnant_resident_gets_antenatal_schedule(api: TestClient) -> None:
    provider(api)
    patient(api, "preg", "1996-04-01", "female")
    put(
        api,
        {
            "resourceType": "Condition",
            "id": "preg-z34",
            "subject": {"reference": "Patient/preg"},
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": ICD10, "code": "Z34.000"}]},
            "onsetDateTime": "2025-12-01",
        },
    )
    bundle = sign(
        api,
        {"name": "subject", "valueReference": {"reference": "Patient/preg"}},
        {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}},
    )
    [plan] = by_type(bundle, "CarePlan")
    assert plan["instantiatesCanonical"][-1] == PD + "kp-maternal"
    assert events(plan, "kp-maternal.maternal-management.antenatal-1") == ["2026-03-02"]
    assert events(plan, "kp-maternal.maternal-management.antenatal-5") == ["2026-09-07"]
    assert events(plan, "kp-maternal.maternal-management.postpartum-visit") == ["2026-09-14"]
    assert events(plan, "kp-maternal.maternal-management.postpartum-42d") == ["2026-10-19"]


def test_one_active_contract_and_transfer(api: TestClient) -> None:
    provider(api, "1")
    provider(api, "2")
    patient(api, "p", "1970-01-01", "male")
    first = by_type(
        sign(
            api,
            {"name": "subject", "valueReference": {"reference": "Patient/p"}},
            {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}},
        ),
        "Contract",
    )[0]
    oo = sign(
        api,
        {"name": "subject", "valueReference": {"reference": "Patient/p"}},
        {"name": "careTeam", "valueReference": {"reference": "CareTeam/team2"}},
        status=409,
    )
    assert oo["issue"][0]["expression"] == ["subject[0]"]
    bundle = sign(
        api,
        {"name": "subject", "valueReference": {"reference": "Patient/p"}},
        {"name": "careTeam", "valueReference": {"reference": "CareTeam/team2"}},
        {"name": "transfer", "valueBoolean": True},
    )
    old = api.get(f"/fhir/Contract/{first['id']}").json()
    assert old["status"] == "terminated"
    assert old["extension"][-1]["valueCodeableConcept"]["coding"][0]["code"] == "transfer"
    assert [c["status"] for c in by_type(bundle, "Contract")] == ["executed", "terminated"]
    plans = api.get("/fhir/CarePlan", params={"subject": "Patient/p"}).json()
    assert sorted(e["resource"]["status"] for e in plans["entry"]) == ["active", "revoked"]


def test_rules_broken_give_422(api: TestClient) -> None:
    provider(api, "h", primary=False)
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    subject = {"name": "subject", "valueReference": {"reference": "Patient/p"}}
    team = {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}}
    assert sign(
        api,
        subject,
        {"name": "careTeam", "valueReference": {"reference": "CareTeam/teamh"}},
        status=422,
    )["issue"][0]["expression"] == ["careTeam"]
    assert sign(api, subject, team, {"name": "term", "valueInteger": 4}, status=422)["issue"][0][
        "expression"
    ] == ["term"]
    body = {
        "resourceType": "Parameters",
        "parameter": [subject, team, {"name": "consent", "valueBoolean": False}],
    }
    r = api.post("/fhir/Contract/$sign", json=body)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["consent"]
    assert api.get("/fhir/Contract", params={"subject": "Patient/p"}).json().get("total", 0) == 0


def test_renewal_with_new_diagnosis_and_termination(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    [contract] = by_type(
        sign(
            api,
            {"name": "subject", "valueReference": {"reference": "Patient/p"}},
            {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}},
        ),
        "Contract",
    )
    patient(api, "p", "1970-01-01", "male", "J44.100")
    r = api.post(
        f"/fhir/Contract/{contract['id']}/$renew",
        json={"resourceType": "Parameters", "parameter": [{"name": "term", "valueInteger": 2}]},
    )
    assert r.status_code == 200, r.text
    renewed = r.json()
    new = by_type(renewed, "Contract")[0]
    assert new["applies"] == {"start": "2027-01-05", "end": "2029-01-04"}
    assert by_type(renewed, "CarePlan")[0]["instantiatesCanonical"][-1] == PD + "kp-copd"
    assert api.get(f"/fhir/Contract/{contract['id']}").json()["status"] == "renewed"
    bad = api.post(
        f"/fhir/Contract/{new['id']}/$terminate",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "reason",
                    "valueCodeableConcept": {
                        "coding": [{"system": CS + "contract-termination-reason", "code": "bored"}]
                    },
                }
            ],
        },
    )
    assert bad.status_code == 422 and bad.json()["issue"][0]["expression"] == ["reason"]
    done = api.post(
        f"/fhir/Contract/{new['id']}/$terminate",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "reason",
                    "valueCodeableConcept": {
                        "coding": [
                            {"system": CS + "contract-termination-reason", "code": "moved-out"}
                        ]
                    },
                }
            ],
        },
    )
    assert done.status_code == 200, done.text
    ended = api.get(f"/fhir/Contract/{new['id']}").json()
    # Terminated before its period began: it ends on its first day (never before it starts, per-1).
    assert ended["status"] == "terminated" and ended["applies"]["end"] == "2027-01-05"


def test_fulfilment_after_a_year_of_partial_services(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1960-01-01", "male", "I10")
    bundle = sign(
        api,
        {"name": "subject", "valueReference": {"reference": "Patient/p"}},
        {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}},
    )
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    plan_ref = {"reference": f"CarePlan/{plan['id']}"}
    for i, day in enumerate(["2026-03-01", "2026-06-01", "2026-09-01"]):
        put(
            api,
            {
                "resourceType": "Encounter",
                "id": f"fu{i}",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"reference": "Patient/p"},
                "basedOn": [plan_ref],
                "period": {"start": day},
                "type": [
                    {
                        "coding": [
                            {
                                "system": CS + "service-item",
                                "code": "kp-hypertension.hypertension-management.follow-up",
                            }
                        ]
                    }
                ],
            },
        )
    for m in range(1, 11):
        put(
            api,
            {
                "resourceType": "Communication",
                "id": f"push{m}",
                "status": "completed",
                "subject": {"reference": "Patient/p"},
                "basedOn": [plan_ref],
                "sent": f"2026-{m:02d}-10",
            },
        )
    put(
        api,
        {
            "resourceType": "Procedure",
            "id": "hc",
            "status": "not-done",
            "subject": {"reference": "Patient/p"},
            "basedOn": [plan_ref],
            "performedDateTime": "2026-12-01",
            "code": {
                "coding": [
                    {
                        "system": CS + "service-item",
                        "code": "kp-hypertension.hypertension-management.health-check",
                    }
                ]
            },
        },
    )
    r = api.get(f"/fhir/Contract/{contract['id']}/$fulfillment", params={"date": "2027-01-04"})
    assert r.status_code == 200, r.text
    params = r.json()["parameter"]
    acts = {
        p["part"][0]["valueCodeableConcept"]["coding"][0]["code"]: {
            q["name"]: q.get("valueInteger") for q in p["part"][1:]
        }
        for p in params
        if p["name"] == "activity"
    }
    assert acts["kp-hypertension.hypertension-management.follow-up"] == {
        "due": 4,
        "done": 3,
        "overdue": 1,
        "declined": 0,
    }
    assert acts["basic-public-health.reminder-consultation.reminder"] == {
        "due": 12,
        "done": 10,
        "overdue": 2,
        "declined": 0,
    }
    assert acts["kp-hypertension.hypertension-management.health-check"] == {
        "due": 0,
        "done": 0,
        "overdue": 0,
        "declined": 1,
    }
    team = api.get("/fhir/CareTeam/team1/$fulfillment", params={"date": "2027-01-04"}).json()[
        "parameter"
    ]
    org = api.get("/fhir/Organization/org1/$fulfillment", params={"date": "2027-01-04"}).json()[
        "parameter"
    ]
    assert team[0] == org[0] == params[0]
    assert params[0]["name"] == "rate" and 0 < params[0]["valueDecimal"] < 1


def test_renewal_window_and_contract_audit_jobs(api: TestClient, database_url: str) -> None:
    from datetime import date

    from fhir_server.jobs.runner import run_job

    provider(api)
    patient(api, "p", "1970-01-01", "male")
    [contract] = by_type(
        sign(
            api,
            {"name": "subject", "valueReference": {"reference": "Patient/p"}},
            {"name": "careTeam", "valueReference": {"reference": "CareTeam/team1"}},
        ),
        "Contract",
    )
    settings = make_settings(database_url)
    comps = build_components(settings)
    assert "outside" in run_job(settings, comps, "renewal-window", date(2026, 6, 1))
    assert "1 confirmation" in run_job(settings, comps, "renewal-window", date(2026, 11, 1))
    assert "0 confirmation" in run_job(settings, comps, "renewal-window", date(2026, 11, 2))
    task = api.get("/fhir/Task", params={"focus": f"Contract/{contract['id']}"}).json()["entry"][0][
        "resource"
    ]
    assert task["owner"] == {"reference": "CareTeam/team1"}
    put(
        api,
        {
            "resourceType": "PractitionerRole",
            "id": "role1",
            "active": False,
            "practitioner": {"reference": "Practitioner/doc1"},
            "organization": {"reference": "Organization/org1"},
        },
    )
    assert "issue(s) recorded" in run_job(settings, comps, "contract-audit", date(2027, 1, 4))
    issues = api.get(
        "/fhir/DetectedIssue", params={"implicated": f"Contract/{contract['id']}"}
    ).json()["entry"]
    assert sorted(e["resource"]["code"]["coding"][0]["code"] for e in issues) == [
        "signer-without-role"
    ]


def test_apply_and_key_populations(api: TestClient) -> None:
    patient(api, "p82", "1943-06-10", "male", "I10.x00")
    kp = api.get("/fhir/Patient/p82/$key-populations").json()["parameter"]
    codes = [p["part"][0]["valueCoding"]["code"] for p in kp]
    assert codes == ["elderly-65", "hypertension"]
    assert kp[1]["part"][1]["part"][2]["valueReference"] == {"reference": "Condition/p82-c0"}
    r = api.post(
        "/fhir/PlanDefinition/kp-hypertension/$apply",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "subject", "valueString": "Patient/p82"}],
        },
    )
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["resourceType"] == "CarePlan" and plan["instantiatesCanonical"] == [
        PD + "kp-hypertension"
    ]
    assert len(events(plan, "kp-hypertension.hypertension-management.follow-up")) == 4
    none = api.post(
        "/fhir/PlanDefinition/kp-t2dm/$apply",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "subject", "valueString": "Patient/p82"}],
        },
    ).json()
    assert "activity" not in none
