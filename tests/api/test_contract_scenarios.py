"""Contracting scenarios of issue 6 through the REST API, on SQLite and PostgreSQL: signing
(粤(一)(二)(八); 附件1/附件2 packages and fees), the 3rd-edition schedules (pregnancy, tuberculosis,
severe mental disorders), transfer (one resident, one member of a family), renewal (粤(十)),
termination, fulfilment (附件2 note: declined services are not unfulfilled; nothing is due after a
plan ended).  The clock is frozen at 2026-01-05."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.contracting_support import (
    AD,
    CS,
    PD,
    SD,
    activities,
    api,
    by_type,
    condition,
    encounter,
    events,
    fulfilment,
    get,
    items,
    operation,
    patient,
    provider,
    put,
    ref,
    signing,
    terms,
    totals,
)

__all__ = ["api"]  # the fixture
BASIC = [PD + "basic-public-health", PD + "basic-medical"]
TEAM1 = ref("careTeam", "CareTeam/team1")


def reason(code: str) -> dict[str, Any]:
    return {
        "name": "reason",
        "valueCodeableConcept": {
            "coding": [{"system": CS + "contract-termination-reason", "code": code}]
        },
    }


def test_82_year_old_with_hypertension_and_diabetes_signs_for_three_years(api: TestClient) -> None:
    provider(api)
    patient(api, "p82", "1943-06-10", "male", "I10.x00", "E11.900")
    bundle = signing(api, ref("subject", "Patient/p82"), TEAM1, {"name": "term", "valueInteger": 3})
    assert bundle["type"] == "transaction-response"
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    [consent] = by_type(bundle, "Consent")
    cref = f"Contract/{contract['id']}"
    assert contract["status"] == "executed"
    assert contract["meta"]["profile"] == [SD + "jiayi-contract"]
    assert plan["meta"]["profile"] == [SD + "jiayi-careplan"]
    assert consent["meta"]["profile"] == [SD + "jiayi-informed-consent"]
    assert contract["applies"] == {"start": "2026-01-05", "end": "2029-01-04"}
    packages = BASIC + [PD + "kp-elderly-65", PD + "kp-hypertension", PD + "kp-t2dm"]
    assert plan["instantiatesCanonical"] == packages
    assert [
        e["valueCanonical"] for e in contract["extension"] if e["url"] == SD + "contract-package"
    ] == packages
    assert plan["supportingInfo"] == [{"reference": cref}]
    assert contract["supportingInfo"] == [{"reference": f"Consent/{consent['id']}"}]
    assert consent["sourceReference"] == {"reference": cref} and consent["status"] == "active"
    assert plan["careTeam"] == [{"reference": "CareTeam/team1"}]
    assert plan["author"] == {"reference": "PractitionerRole/role1"}
    # schedules over the three contract years
    reminders = events(plan, "basic-public-health.reminder-consultation.reminder")
    assert len(reminders) == 36 and reminders[:2] == ["2026-02-04", "2026-03-04"]
    yearly = ["2027-01-04", "2028-01-04", "2029-01-04"]
    assert events(plan, "basic-public-health.reminder-consultation.consultation") == yearly
    assert events(plan, "basic-public-health.health-record") == yearly  # record update, ≥ 1/a
    assert events(plan, "kp-elderly-65.elderly-health-management") == yearly  # 65+ check
    assert events(plan, "kp-elderly-65.home-follow-up-80") == yearly  # 80+, consent at signing
    assert events(plan, "kp-hypertension.hypertension-management.follow-up")[:4] == [
        "2026-04-04",
        "2026-07-04",
        "2026-10-04",
        "2027-01-04",
    ]
    assert len(events(plan, "kp-hypertension.hypertension-management.follow-up")) == 12
    assert len(events(plan, "kp-t2dm.t2dm-management.follow-up")) == 12
    assert events(plan, "kp-t2dm.t2dm-management.health-check") == yearly
    assert activities(plan)["basic-medical.priority-consultation"]["status"] == "not-started"
    assert activities(plan)["basic-medical.general-diagnosis"]["status"] == "not-started"  # ≤1/a
    # fees: 20 yuan per resident and year of public-health funds (附件1 备注2) × 3 years
    fees = terms(contract)
    assert list(fees) == ["public-health-funds", "medical-insurance", "personal-payment"]
    ph = items(fees["public-health-funds"], "Patient/p82")["PlanDefinition/basic-public-health"]
    assert ph["quantity"] == {"value": 3, "unit": "人·年"}
    assert ph["unitPrice"] == {"value": 20.0, "currency": "CNY"}
    assert ph["net"] == {"value": 60.0, "currency": "CNY"}
    split = {
        g["asset"][0]["valuedItem"][0]["entityCodeableConcept"]["text"]: g["asset"][0][
            "valuedItem"
        ][0]["net"]["value"]
        for g in fees["public-health-funds"]["group"]
    }
    assert split == {"建立居民健康档案": 15.39, "健康教育": 13.14, "家庭医生签约服务费": 30.0}
    insured = items(fees["medical-insurance"], "Patient/p82")
    assert sorted(insured) == [
        "PlanDefinition/basic-medical",
        "PlanDefinition/kp-elderly-65",
        "PlanDefinition/kp-hypertension",
        "PlanDefinition/kp-t2dm",
    ]
    assert "unitPrice" not in insured["PlanDefinition/kp-hypertension"]  # set by the cities
    assert insured["PlanDefinition/kp-hypertension"]["payment"].startswith("附件2 备注")
    assert sorted(items(fees["personal-payment"], "Patient/p82")) == [
        "PlanDefinition/kp-elderly-65",
        "PlanDefinition/kp-hypertension",
        "PlanDefinition/kp-t2dm",
    ]
    assert totals(contract) == {
        "public-health-funds": 60.0,
        "medical-insurance": 0.0,
        "personal-payment": 0.0,
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
    bundle = signing(
        api, ref("family", "Group/fam"), ref("practitionerRole", "PractitionerRole/role1")
    )
    [contract] = by_type(bundle, "Contract")
    plans = {p["subject"]["reference"]: p for p in by_type(bundle, "CarePlan")}
    assert len(contract["subject"]) == 4 and len(by_type(bundle, "Consent")) == 4
    family = [e for e in contract["extension"] if e["url"] == SD + "contract-family"]
    assert family == [{"url": SD + "contract-family", "valueReference": {"reference": "Group/fam"}}]
    assert plans["Patient/gp"]["instantiatesCanonical"] == BASIC + [PD + "kp-elderly-65"]
    assert plans["Patient/dad"]["instantiatesCanonical"] == BASIC + [PD + "kp-cancer-high-risk"]
    assert plans["Patient/mum"]["instantiatesCanonical"] == BASIC
    assert plans["Patient/kid"]["instantiatesCanonical"] == BASIC + [PD + "kp-child-0-6"]
    kid = plans["Patient/kid"]
    assert events(kid, "kp-child-0-6.child-management.5y") == ["2026-09-15"]
    assert "kp-child-0-6.child-management.4y" not in activities(kid)  # before the term
    assert "kp-child-0-6.child-tcm.36m" not in activities(kid)  # over 36 months
    assert "kp-elderly-65.home-follow-up-80" not in activities(plans["Patient/gp"])
    assert events(plans["Patient/dad"], "kp-cancer-high-risk.cancer-education") == ["2027-01-04"]
    # the team of the signing doctor (practitionerRole) is the contract's team
    assert plans["Patient/gp"]["careTeam"] == [{"reference": "CareTeam/team1"}]
    ph = terms(contract)["public-health-funds"]
    assert [a["context"][0]["reference"]["reference"] for a in ph["asset"]] == [
        "Patient/gp",
        "Patient/dad",
        "Patient/mum",
        "Patient/kid",
    ]
    assert totals(contract)["public-health-funds"] == 80.0  # 4 residents × 1 year × 20


def test_pregnancy_from_a_last_menstrual_period_observation(api: TestClient) -> None:
    """3rd-edition specification, 孕产妇健康管理服务规范: five antenatal visits by gestational week,
    the postpartum visit within 7 days of discharge and the 42-day check; the LMP comes from an
    Observation (LOINC 8665-2), the delivery, once recorded, from a Procedure and its Encounter."""
    provider(api)
    for pid in ("preg", "born"):
        patient(api, pid, "1996-04-01", "female")
        condition(api, pid, f"{pid}-z34", "Z34.000")
        put(
            api,
            {
                "resourceType": "Observation",
                "id": f"{pid}-lmp",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8665-2"}]},
                "subject": {"reference": f"Patient/{pid}"},
                "valueDateTime": "2025-10-01",
            },
        )
    put(
        api,
        {
            "resourceType": "Encounter",
            "id": "born-stay",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/born"},
            "period": {"start": "2026-06-19", "end": "2026-06-23"},
        },
    )
    put(
        api,
        {
            "resourceType": "Procedure",
            "id": "born-delivery",
            "status": "completed",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "236973005"}]},
            "subject": {"reference": "Patient/born"},
            "encounter": {"reference": "Encounter/born-stay"},
            "performedDateTime": "2026-06-20",
        },
    )
    [plan] = by_type(signing(api, ref("subject", "Patient/preg"), TEAM1), "CarePlan")
    assert plan["instantiatesCanonical"] == BASIC + [PD + "kp-maternal"]
    mm = "kp-maternal.maternal-management."
    assert mm + "antenatal-1" not in activities(plan)  # week 13 ended before the term
    assert events(plan, mm + "antenatal-2") == ["2026-02-18"]  # LMP + 20 weeks
    assert events(plan, mm + "antenatal-3") == ["2026-03-18"]  # + 24 weeks
    assert events(plan, mm + "antenatal-4") == ["2026-06-10"]  # + 36 weeks
    assert events(plan, mm + "antenatal-5") == ["2026-07-08"]  # + 40 weeks
    assert events(plan, mm + "postpartum-visit") == ["2026-07-15"]  # expected date + 7 days
    assert events(plan, mm + "postpartum-42d") == ["2026-08-19"]
    assert activities(plan)[mm + "antenatal-2"]["scheduledTiming"]["repeat"]["boundsPeriod"] == {
        "start": "2026-01-21",
        "end": "2026-02-18",
    }
    [born] = by_type(signing(api, ref("subject", "Patient/born"), TEAM1), "CarePlan")
    assert events(born, mm + "antenatal-4") == ["2026-06-10"]
    assert events(born, mm + "antenatal-5") == ["2026-06-20"]  # the window ends at the delivery
    assert events(born, mm + "postpartum-visit") == ["2026-06-30"]  # discharge 06-23 + 7 days
    assert events(born, mm + "postpartum-42d") == ["2026-08-01"]  # delivery + 42 days


def test_tuberculosis_visits_by_treatment_phase(api: TestClient) -> None:
    """肺结核患者健康管理服务规范: first visit within 72 hours of the notice, every 10 days in the
    intensive phase, monthly in the continuation phase, closing assessment (2HRZE/4HR)."""
    provider(api)
    for pid in ("tb", "tb-untreated"):
        patient(api, pid, "1970-05-01", "male")
        condition(api, pid, f"{pid}-a15", "A15.000", recordedDate="2026-01-03")
    put(
        api,
        {
            "resourceType": "MedicationRequest",
            "id": "tb-hrze",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.whocc.no/atc", "code": "J04AM06"}]
            },
            "subject": {"reference": "Patient/tb"},
            "authoredOn": "2026-01-04",
        },
    )
    [plan] = by_type(signing(api, ref("subject", "Patient/tb"), TEAM1), "CarePlan")
    assert plan["instantiatesCanonical"] == BASIC + [PD + "kp-tuberculosis"]
    tb = "kp-tuberculosis.tb-management."
    assert events(plan, tb + "first-visit") == ["2026-01-06"]  # notice 01-03 + 72 h
    assert events(plan, tb + "intensive-phase") == [
        "2026-01-13",
        "2026-01-23",
        "2026-02-02",
        "2026-02-12",
        "2026-02-22",
        "2026-03-03",
    ]
    assert events(plan, tb + "continuation-phase") == [
        "2026-04-03",
        "2026-05-03",
        "2026-06-03",
        "2026-07-03",
    ]
    assert events(plan, tb + "closing-assessment") == ["2026-07-04"]
    assert {a["status"] for a in activities(plan).values() if a["code"]["coding"][0]["code"].startswith(tb)} == {"scheduled"}  # fmt: skip
    [waiting] = by_type(signing(api, ref("subject", "Patient/tb-untreated"), TEAM1), "CarePlan")
    held = activities(waiting)[tb + "intensive-phase"]
    assert held["status"] == "on-hold"
    assert held["statusReason"] == {"text": "timing anchor 'treatment-start' not recorded yet"}
    assert events(waiting, tb + "first-visit") == ["2026-01-06"]


def test_severe_mental_disorder(api: TestClient) -> None:
    provider(api)
    patient(api, "smd", "1980-02-01", "male", "F20.000")
    patient(api, "f06", "1980-02-01", "male")
    condition(api, "f06", "f06-c", "F06.200")  # needs confirmation: not a member yet
    [plan] = by_type(signing(api, ref("subject", "Patient/smd"), TEAM1), "CarePlan")
    assert plan["instantiatesCanonical"] == BASIC + [PD + "kp-severe-mental-disorder"]
    smd = "kp-severe-mental-disorder.smd-management."
    assert events(plan, smd + "follow-up") == [
        "2026-04-04",
        "2026-07-04",
        "2026-10-04",
        "2027-01-04",
    ]
    check = activities(plan)[smd + "health-check"]  # needs the guardian's consent first
    assert check["status"] == "on-hold" and "监护人" in check["statusReason"]["text"]
    [unconfirmed] = by_type(signing(api, ref("subject", "Patient/f06"), TEAM1), "CarePlan")
    assert unconfirmed["instantiatesCanonical"] == BASIC


def test_sinking_doctor_item_and_explicit_start(api: TestClient) -> None:
    """A doctor of a leading hospital signs at the primary institution (粤(二)); a personalised
    item from the library is signed with the packages; the term starts on `start`."""
    provider(api, "h", primary=False)
    provider(api)
    put(
        api,
        {
            "resourceType": "PractitionerRole",
            "id": "sink",
            "active": True,
            "practitioner": {"reference": "Practitioner/doch"},
            "organization": {"reference": "Organization/org1"},
            "extension": [
                {"url": SD + "sinking-from", "valueReference": {"reference": "Organization/orgh"}}
            ],
        },
    )
    put(
        api,
        {
            "resourceType": "CareTeam",
            "id": "team-sink",
            "status": "active",
            "managingOrganization": [{"reference": "Organization/org1"}],
            "participant": [{"member": {"reference": "PractitionerRole/sink"}}],
        },
    )
    patient(api, "p", "1970-01-01", "male")
    # at the hospital itself the doctor cannot sign
    oo = signing(
        api,
        ref("subject", "Patient/p"),
        ref("practitionerRole", "PractitionerRole/roleh"),
        status=422,
    )
    assert oo["issue"][0]["expression"] == ["practitionerRole"]
    bundle = signing(
        api,
        ref("subject", "Patient/p"),
        ref("practitionerRole", "PractitionerRole/sink"),
        {"name": "start", "valueDate": "2026-03-01"},
        {"name": "item", "valueCanonical": AD + "personalised.annual-health-report"},
    )
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    assert contract["applies"] == {"start": "2026-03-01", "end": "2027-02-28"}
    assert contract["signer"][0]["party"] == {"reference": "PractitionerRole/sink"}
    assert plan["careTeam"] == [{"reference": "CareTeam/team-sink"}]
    assert events(plan, "personalised.annual-health-report") == ["2027-02-28"]
    report = activities(plan)["personalised.annual-health-report"]
    assert report["instantiatesCanonical"] == [AD + "personalised.annual-health-report"]
    own = items(terms(contract)["personal-payment"], "Patient/p")
    assert own["ActivityDefinition/personalised.annual-health-report"]["quantity"]["value"] == 1
    # a doctor in no team of the institution cannot sign alone
    put(
        api,
        {
            "resourceType": "PractitionerRole",
            "id": "loner",
            "active": True,
            "practitioner": {"reference": "Practitioner/doc1"},
            "organization": {"reference": "Organization/org1"},
        },
    )
    patient(api, "q", "1970-01-01", "male")
    oo = signing(
        api,
        ref("subject", "Patient/q"),
        ref("practitionerRole", "PractitionerRole/loner"),
        status=422,
    )
    assert oo["issue"][0]["expression"] == ["practitionerRole"]
    assert "team" in oo["issue"][0]["diagnostics"]


def test_an_extra_package_is_signed_scheduled_charged_and_renewed(api: TestClient) -> None:
    """`package`: a package beyond the derived ones (here a district's own, stored on the server)
    joins the CarePlan, its schedule and the fees; an unknown package is 422 at `package[i]`."""
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    local = PD + "district-home-care"
    put(
        api,
        {
            "resourceType": "PlanDefinition",
            "id": "district-home-care",
            "url": local,
            "status": "active",
            "title": "区级居家护理包（示例）",
            "extension": [
                {
                    "url": SD + "fee-standard",
                    "extension": [
                        {"url": "amount", "valueMoney": {"value": 50, "currency": "CNY"}},
                        {
                            "url": "fundingSource",
                            "valueCodeableConcept": {
                                "coding": [
                                    {"system": CS + "funding-source", "code": "personal-payment"}
                                ]
                            },
                        },
                        {"url": "basis", "valueString": "区级个性化服务包价格（示例）"},
                    ],
                }
            ],
            "action": [
                {
                    "title": "上门护理",
                    "code": [
                        {
                            "coding": [
                                {"system": CS + "service-item", "code": "personalised.home-nursing"}
                            ]
                        }
                    ],
                    "timingTiming": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "a"}},
                    "definitionCanonical": AD + "personalised.home-nursing",
                }
            ],
        },
    )
    oo = signing(
        api,
        ref("subject", "Patient/p"),
        TEAM1,
        {"name": "package", "valueCanonical": PD + "nope"},
        status=422,
    )
    assert oo["issue"][0]["expression"] == ["package[0]"]
    assert get(api, "Contract", subject="Patient/p").get("total", 0) == 0
    bundle = signing(
        api, ref("subject", "Patient/p"), TEAM1, {"name": "package", "valueCanonical": local}
    )
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    assert plan["instantiatesCanonical"] == BASIC + [local]
    assert events(plan, "personalised.home-nursing") == ["2026-07-04", "2027-01-04"]
    own = items(terms(contract)["personal-payment"], "Patient/p")[
        "PlanDefinition/district-home-care"
    ]
    assert own["unitPrice"] == {"value": 50.0, "currency": "CNY"} and own["quantity"]["value"] == 1
    assert totals(contract)["personal-payment"] == 50.0
    renew = f"Contract/{contract['id']}/$renew"
    yes = {"name": "consent", "valueBoolean": True}
    oo = operation(api, renew, yes, {"name": "package", "valueCanonical": PD + "nope"}, status=422)
    assert oo["issue"][0]["expression"] == ["package[0]"]
    renewed = operation(api, renew, yes, {"name": "package", "valueCanonical": local})
    [next_plan] = by_type(renewed, "CarePlan")
    assert next_plan["instantiatesCanonical"] == BASIC + [local]
    assert events(next_plan, "personalised.home-nursing") == ["2027-07-04", "2028-01-04"]


def test_one_active_contract_and_transfer(api: TestClient) -> None:
    provider(api, "1")
    provider(api, "2")
    patient(api, "p", "1970-01-01", "male")
    [first] = by_type(signing(api, ref("subject", "Patient/p"), TEAM1), "Contract")
    team2 = ref("careTeam", "CareTeam/team2")
    oo = signing(api, ref("subject", "Patient/p"), team2, status=409)
    assert oo["issue"][0]["expression"] == ["subject[0]"]
    bundle = signing(
        api, ref("subject", "Patient/p"), team2, {"name": "transfer", "valueBoolean": True}
    )
    old = get(api, f"Contract/{first['id']}")
    assert old["status"] == "terminated"
    assert old["extension"][-1] == {
        "url": SD + "contract-termination-reason",
        "valueCodeableConcept": {
            "coding": [{"system": CS + "contract-termination-reason", "code": "transfer"}]
        },
    }
    assert [c["status"] for c in by_type(bundle, "Contract")] == ["executed", "terminated"]
    plans = get(api, "CarePlan", subject="Patient/p")
    assert sorted(e["resource"]["status"] for e in plans["entry"]) == ["active", "revoked"]
    consents = get(api, "Consent", patient="Patient/p")
    assert sorted(e["resource"]["status"] for e in consents["entry"]) == ["active", "inactive"]


def test_one_member_transfers_out_of_a_family_contract(api: TestClient) -> None:
    provider(api, "1")
    provider(api, "2")
    patient(api, "a", "1970-01-01", "male")
    patient(api, "b", "1972-01-01", "female")
    put(
        api,
        {
            "resourceType": "Group",
            "id": "fam",
            "type": "person",
            "actual": True,
            "member": [
                {"entity": {"reference": "Patient/a"}},
                {"entity": {"reference": "Patient/b"}},
            ],
        },
    )
    family = signing(api, ref("family", "Group/fam"), TEAM1)
    [contract] = by_type(family, "Contract")
    plans = {p["subject"]["reference"]: p for p in by_type(family, "CarePlan")}
    signing(
        api,
        ref("subject", "Patient/b"),
        ref("careTeam", "CareTeam/team2"),
        {"name": "transfer", "valueBoolean": True},
    )
    kept = get(api, f"Contract/{contract['id']}")
    assert kept["status"] == "executed" and kept["meta"]["versionId"] == "2"
    assert kept["subject"] == [{"reference": "Patient/a"}]
    assert [a["context"][0]["reference"]["reference"] for a in terms(kept)["public-health-funds"]["asset"]] == ["Patient/a"]  # fmt: skip
    assert totals(kept)["public-health-funds"] == 20.0
    assert get(api, f"CarePlan/{plans['Patient/a']['id']}")["status"] == "active"
    left = get(api, f"CarePlan/{plans['Patient/b']['id']}")
    assert left["status"] == "revoked" and left["period"]["end"] == "2026-01-05"
    assert "transfer" in left["note"][0]["text"]
    consents = {
        e["resource"]["patient"]["reference"]: e["resource"]["status"]
        for e in get(api, "Consent", **{"source-reference": f"Contract/{contract['id']}"})["entry"]
    }
    assert consents == {"Patient/a": "active", "Patient/b": "inactive"}
    # b is on the new contract only; a can still not sign a second one
    assert get(api, "Contract", subject="Patient/b", status="executed")["total"] == 1
    signing(api, ref("subject", "Patient/a"), ref("careTeam", "CareTeam/team2"), status=409)


def test_rules_broken_give_422_and_change_nothing(api: TestClient) -> None:
    provider(api, "h", primary=False)
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    subject = ref("subject", "Patient/p")
    oo = signing(api, subject, ref("careTeam", "CareTeam/teamh"), status=422)
    assert oo["issue"][0]["expression"] == ["careTeam"]
    oo = signing(api, subject, TEAM1, {"name": "term", "valueInteger": 4}, status=422)
    assert oo["issue"][0]["expression"] == ["term"]
    oo = signing(api, subject, TEAM1, {"name": "item", "valueCanonical": AD + "nope"}, status=422)
    assert oo["issue"][0]["expression"] == ["item[0]"]
    body = {
        "resourceType": "Parameters",
        "parameter": [subject, TEAM1, {"name": "consent", "valueBoolean": False}],
    }
    r = api.post("/fhir/Contract/$sign", json=body)
    assert r.status_code == 422 and r.json()["issue"][0]["expression"] == ["consent"]
    for rtype in ("Contract", "CarePlan", "Consent"):
        assert get(api, rtype, subject="Patient/p").get("total", 0) == 0


def test_renewal_with_a_new_diagnosis_schedule_fees_and_consent(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    [contract] = by_type(signing(api, ref("subject", "Patient/p"), TEAM1), "Contract")
    condition(api, "p", "p-copd", "J44.100")
    renew = f"Contract/{contract['id']}/$renew"
    oo = operation(api, renew, {"name": "consent", "valueBoolean": False}, status=422)
    assert oo["issue"][0]["expression"] == ["consent"]
    renewed = operation(
        api,
        renew,
        {"name": "term", "valueInteger": 2},
        {"name": "consent", "valueBoolean": True},
    )
    new = next(c for c in by_type(renewed, "Contract") if c["id"] != contract["id"])
    [plan] = by_type(renewed, "CarePlan")
    [consent] = by_type(renewed, "Consent")
    assert new["applies"] == {"start": "2027-01-05", "end": "2029-01-04"}
    assert new["supportingInfo"] == [
        {"reference": f"Consent/{consent['id']}"},
        {"reference": f"Contract/{contract['id']}"},
    ]
    status_reason = [e for e in new["extension"] if e["url"] == SD + "contract-status-reason"]
    assert status_reason[0]["valueCodeableConcept"]["coding"][0]["code"] == "renewal"
    assert plan["instantiatesCanonical"] == BASIC + [PD + "kp-copd"]
    assert plan["period"] == {"start": "2027-01-05", "end": "2029-01-04"}
    assert events(plan, "basic-public-health.reminder-consultation.reminder")[0] == "2027-02-04"
    assert len(events(plan, "basic-public-health.reminder-consultation.reminder")) == 24
    assert totals(new)["public-health-funds"] == 40.0  # 2 years
    assert consent["provision"]["period"] == {"start": "2027-01-05", "end": "2029-01-04"}
    old = get(api, f"Contract/{contract['id']}")
    assert old["status"] == "renewed"
    # the renewed contract is still in force: no second contract today, no second renewal
    oo = signing(api, ref("subject", "Patient/p"), TEAM1, status=409)
    assert f"Contract/{contract['id']}" in oo["issue"][0]["diagnostics"]
    again = operation(api, renew, {"name": "consent", "valueBoolean": True}, status=409)
    assert again["issue"][0]["expression"] == ["Contract.status"]


def test_turning_80_during_the_term_brings_the_home_follow_up(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1947-06-10", "female")  # 78 at signing, 80 on 2027-06-10
    bundle = signing(api, ref("subject", "Patient/p"), TEAM1, {"name": "term", "valueInteger": 3})
    [plan] = by_type(bundle, "CarePlan")
    assert events(plan, "kp-elderly-65.home-follow-up-80") == ["2028-01-04", "2029-01-04"]
    patient(api, "q", "1961-06-01", "male")  # 64 at signing, 65 during the first year
    [contract] = by_type(
        signing(api, ref("subject", "Patient/q"), TEAM1, {"name": "term", "valueInteger": 2}),
        "Contract",
    )
    [plan] = [e["resource"] for e in get(api, "CarePlan", subject="Patient/q")["entry"]]
    assert plan["instantiatesCanonical"] == BASIC + [PD + "kp-elderly-65"]
    assert events(plan, "kp-elderly-65.elderly-health-management") == ["2027-01-04", "2028-01-04"]
    assert items(terms(contract)["medical-insurance"], "Patient/q")["PlanDefinition/kp-elderly-65"]["quantity"]["value"] == 2  # fmt: skip


def test_termination_revokes_plans_and_records_the_reason(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1960-01-01", "male", "I10")
    bundle = signing(api, ref("subject", "Patient/p"), TEAM1)
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    path = f"Contract/{contract['id']}/$terminate"
    bad = operation(api, path, reason("bored"), status=422)
    assert bad["issue"][0]["expression"] == ["reason"]
    assert get(api, f"Contract/{contract['id']}")["status"] == "executed"
    done = operation(api, path, reason("moved-out"), {"name": "date", "valueDate": "2026-06-30"})
    assert sorted(e["resource"]["resourceType"] for e in done["entry"]) == [
        "CarePlan",
        "Consent",
        "Contract",
    ]
    ended = get(api, f"Contract/{contract['id']}")
    assert ended["status"] == "terminated" and ended["applies"]["end"] == "2026-06-30"
    assert [e for e in ended["extension"] if e["url"] == SD + "contract-termination-reason"] == [
        {
            "url": SD + "contract-termination-reason",
            "valueCodeableConcept": {
                "coding": [{"system": CS + "contract-termination-reason", "code": "moved-out"}]
            },
        }
    ]
    revoked = get(api, f"CarePlan/{plan['id']}")
    assert revoked["status"] == "revoked" and revoked["period"]["end"] == "2026-06-30"
    again = operation(api, path, reason("moved-out"), status=409)
    assert again["issue"][0]["expression"] == ["Contract.status"]
    # fulfilment after the termination: nothing is due after 06-30
    encounter(api, "fu1", "p", plan["id"], "2026-03-20", "kp-hypertension.hypertension-management.follow-up")  # fmt: skip
    rate, acts = fulfilment(api, f"Contract/{contract['id']}", "2027-01-04")
    # quarterly deadlines 04-04, 07-04, 10-04, 01-04: only 04-04 falls before the end (06-30)
    assert acts["kp-hypertension.hypertension-management.follow-up"] == {
        "due": 1,
        "done": 1,
        "overdue": 0,
        "declined": 0,
    }
    assert acts["basic-public-health.reminder-consultation.reminder"]["due"] == 5  # Feb–Jun
    assert acts["kp-hypertension.hypertension-management.health-check"]["due"] == 0
    assert 0 < rate < 1


def test_terminating_a_renewed_contract_ends_its_renewal(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    [contract] = by_type(signing(api, ref("subject", "Patient/p"), TEAM1), "Contract")
    renewed = operation(
        api, f"Contract/{contract['id']}/$renew", {"name": "consent", "valueBoolean": True}
    )
    new = next(c for c in by_type(renewed, "Contract") if c["id"] != contract["id"])
    operation(api, f"Contract/{contract['id']}/$terminate", reason("death"))
    assert get(api, f"Contract/{contract['id']}")["applies"]["end"] == "2026-01-05"
    later = get(api, f"Contract/{new['id']}")
    assert later["status"] == "terminated" and later["applies"]["end"] == "2027-01-05"


def test_fulfilment_after_a_year_of_partial_services(api: TestClient) -> None:
    provider(api)
    patient(api, "p", "1960-01-01", "male", "I10")
    bundle = signing(api, ref("subject", "Patient/p"), TEAM1)
    [contract] = by_type(bundle, "Contract")
    [plan] = by_type(bundle, "CarePlan")
    fu = "kp-hypertension.hypertension-management.follow-up"
    for i, day in enumerate(["2026-03-01", "2026-06-01", "2026-09-01"]):
        encounter(api, f"fu{i}", "p", plan["id"], day, fu)
    for m in range(1, 11):
        put(
            api,
            {
                "resourceType": "Communication",
                "id": f"push{m}",
                "status": "completed",
                "subject": {"reference": "Patient/p"},
                "basedOn": [{"reference": f"CarePlan/{plan['id']}"}],
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
            "basedOn": [{"reference": f"CarePlan/{plan['id']}"}],
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
    rate, acts = fulfilment(api, f"Contract/{contract['id']}", "2027-01-04")
    assert acts[fu] == {"due": 4, "done": 3, "overdue": 1, "declined": 0}
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
    half = fulfilment(api, f"Contract/{contract['id']}", "2026-07-04")[1]
    assert half[fu] == {"due": 2, "done": 2, "overdue": 0, "declined": 0}
    team = get(api, "CareTeam/team1/$fulfillment", date="2027-01-04")["parameter"]
    org = get(api, "Organization/org1/$fulfillment", date="2027-01-04")["parameter"]
    assert team[0] == org[0] == {"name": "rate", "valueDecimal": rate}
    assert 0 < rate < 1
