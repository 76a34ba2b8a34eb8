"""Issue 6 through the REST API, on SQLite and PostgreSQL: personalised items ordered and accepted
as standard `Task` writes (点单/接单, 粤(八)); the doctor report `$signing-report`;
`Patient?key-population=`; the contract search parameters of the guide; the contract audit; and
`PlanDefinition/$apply` with R4 semantics.  The clock is frozen at 2026-01-05."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.domain.populations.search import years_before
from fhir_server.jobs.runner import run_job
from tests.api.conftest import make_settings
from tests.api.contracting_support import (
    AD,
    CS,
    PD,
    SD,
    TODAY,
    activities,
    api,
    by_type,
    condition,
    events,
    get,
    ids,
    items,
    make_api,
    operation,
    patient,
    provider,
    put,
    ref,
    signing,
    terms,
    totals,
)

__all__ = ["api"]
TEAM1 = ref("careTeam", "CareTeam/team1")
KP = CS + "key-population"


def order(c: TestClient, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = c.post("/fhir/Task", json={"resourceType": "Task", "intent": "order", **body})
    assert r.status_code == status, r.text
    return r.json()


def update(c: TestClient, resource: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = c.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert r.status_code == status, r.text
    return r.json()


def signed(
    c: TestClient, pid: str, birth: str = "1950-03-01"
) -> tuple[dict[str, Any], dict[str, Any]]:
    patient(c, pid, birth, "female")
    bundle = signing(
        c, ref("subject", f"Patient/{pid}"), TEAM1, {"name": "term", "valueInteger": 2}
    )
    return by_type(bundle, "Contract")[0], by_type(bundle, "CarePlan")[0]


# -- 点单 / 接单 ------------------------------------------------------------------------------------
def test_resident_orders_an_item_and_the_team_accepts(api: TestClient) -> None:
    provider(api)
    contract, plan = signed(api, "p")
    # the resident orders home nursing from the library, 4 visits agreed (focus → the item)
    task = order(
        api,
        {
            "status": "requested",
            "focus": {"reference": "ActivityDefinition/personalised.home-nursing"},
            "for": {"reference": "Patient/p"},
            "restriction": {"repetitions": 4},
        },
    )
    assert task["meta"]["profile"] == [SD + "jiayi-service-item-order"]
    assert task["focus"] == {"reference": f"Contract/{contract['id']}"}
    assert task["instantiatesCanonical"] == AD + "personalised.home-nursing"
    assert task["code"]["coding"][0]["code"] == "personalised.home-nursing"
    assert task["owner"] == {"reference": "CareTeam/team1"}
    assert task["requester"] == {"reference": "Patient/p"}
    assert "output" not in task
    assert get(api, f"Contract/{contract['id']}")["meta"]["versionId"] == "1"  # not yet accepted
    # the team accepts (接单): the item joins the CarePlan and the fees, in the same transaction
    accepted = update(api, {**task, "status": "accepted"})
    assert accepted["output"] == [
        {
            "type": {"text": "家庭医生签约服务计划 / care plan the item joined"},
            "valueReference": {"reference": f"CarePlan/{plan['id']}"},
        }
    ]
    assert accepted["executionPeriod"]["start"] == "2026-01-05T09:00:00.000Z"
    stored = get(api, f"CarePlan/{plan['id']}")
    nursing = activities(stored)["personalised.home-nursing"]
    assert nursing["status"] == "scheduled"
    assert nursing["instantiatesCanonical"] == [AD + "personalised.home-nursing"]
    assert events(stored, "personalised.home-nursing") == [
        "2026-07-05",
        "2027-01-04",
        "2027-07-05",
        "2028-01-04",
    ]
    fees = get(api, f"Contract/{contract['id']}")
    for source in ("medical-insurance", "personal-payment"):
        line = items(terms(fees)[source], "Patient/p")[
            "ActivityDefinition/personalised.home-nursing"
        ]
        assert line["quantity"] == {"value": 2, "unit": "人·年"}
        assert line["payment"].endswith("按医药服务收费标准执行")
    # the same item again: refused, nothing changes
    again = order(
        api,
        {
            "status": "accepted",
            "instantiatesCanonical": AD + "personalised.home-nursing",
            "for": {"reference": "Patient/p"},
        },
        status=409,
    )
    assert again["issue"][0]["expression"] == ["Task.code"]
    assert get(api, "Task", **{"for": "Patient/p"})["total"] == 1
    # cancelled after acceptance: the activity is cancelled and the fee line removed
    update(api, {**accepted, "status": "cancelled"})
    assert activities(get(api, f"CarePlan/{plan['id']}"))["personalised.home-nursing"]["status"] == "cancelled"  # fmt: skip
    after = get(api, f"Contract/{contract['id']}")
    assert "ActivityDefinition/personalised.home-nursing" not in items(
        terms(after)["medical-insurance"], "Patient/p"
    )


def test_a_locally_priced_item_is_charged(api: TestClient) -> None:
    """A city sets the price of a library item (fee-standard amount): accepting the order adds
    amount × contract years left to the personal payment."""
    provider(api)
    contract, plan = signed(api, "p")
    local = get(api, "ActivityDefinition/personalised.indicator-monitoring")
    local["extension"] = [e for e in local["extension"] if e["url"] != SD + "fee-standard"] + [
        {
            "url": SD + "fee-standard",
            "extension": [
                {"url": "amount", "valueMoney": {"value": 120, "currency": "CNY"}},
                {
                    "url": "fundingSource",
                    "valueCodeableConcept": {
                        "coding": [{"system": CS + "funding-source", "code": "personal-payment"}]
                    },
                },
                {"url": "basis", "valueString": "番禺区个性化服务包价格（示例）"},
            ],
        }
    ]
    update(api, local)
    task = order(
        api,
        {
            "status": "accepted",
            "code": {
                "coding": [
                    {"system": CS + "service-item", "code": "personalised.indicator-monitoring"}
                ]
            },
            "focus": {"reference": f"Contract/{contract['id']}"},
            "for": {"reference": "Patient/p"},
            "owner": {"reference": "PractitionerRole/role1"},
        },
    )
    assert task["owner"] == {"reference": "PractitionerRole/role1"}  # kept
    fees = get(api, f"Contract/{contract['id']}")
    line = items(terms(fees)["personal-payment"], "Patient/p")[
        "ActivityDefinition/personalised.indicator-monitoring"
    ]
    assert line["unitPrice"] == {"value": 120.0, "currency": "CNY"}
    assert line["net"] == {"value": 240.0, "currency": "CNY"}
    assert totals(fees)["personal-payment"] == 240.0
    assert totals(fees)["public-health-funds"] == 40.0
    # per agreement without repetitions: on demand, never due
    detail = activities(get(api, f"CarePlan/{plan['id']}"))["personalised.indicator-monitoring"]
    assert detail["status"] == "not-started"


def test_declining_and_broken_orders(api: TestClient) -> None:
    provider(api)
    contract, plan = signed(api, "p")
    patient(api, "nobody", "1970-01-01", "male")
    base = {"status": "requested", "instantiatesCanonical": AD + "personalised.home-rounds"}
    oo = order(api, {**base, "for": {"reference": "Patient/nobody"}}, status=422)
    assert oo["issue"][0]["expression"] == ["Task.for"]  # no contract in force
    oo = order(
        api,
        {
            "status": "requested",
            "instantiatesCanonical": AD + "nope",
            "for": {"reference": "Patient/p"},
        },
        status=422,
    )
    assert oo["issue"][0]["expression"] == ["Task.instantiatesCanonical"]
    task = order(api, {**base, "for": {"reference": "Patient/p"}})
    oo = update(api, {**task, "status": "rejected"}, status=422)
    assert oo["issue"][0]["expression"] == ["Task.statusReason"]
    declined = update(
        api, {**task, "status": "rejected", "statusReason": {"text": "团队暂无上门巡诊能力"}}
    )
    assert declined["status"] == "rejected" and "output" not in declined
    assert "personalised.home-rounds" not in activities(get(api, f"CarePlan/{plan['id']}"))
    assert get(api, f"Contract/{contract['id']}")["meta"]["versionId"] == "1"
    # a referral Task and a confirmation Task are no orders
    put(
        api,
        {
            "resourceType": "Task",
            "id": "other",
            "status": "requested",
            "intent": "order",
            "focus": {"reference": f"Contract/{contract['id']}"},
            "for": {"reference": "Patient/nobody"},
        },
    )


# -- doctor reports ----------------------------------------------------------------------------------
def test_signing_report_panel_channels_and_fees(api: TestClient) -> None:
    provider(api, "h", primary=False)
    provider(api, "1", extra_roles=("sink",))
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
    patient(api, "a", "1970-01-01", "male")
    patient(api, "b", "1971-01-01", "female")
    patient(api, "c", "2000-01-01", "female")
    signing(api, ref("subject", "Patient/a"), TEAM1, {"name": "term", "valueInteger": 3})
    signing(
        api,
        ref("subject", "Patient/b"),
        ref("subject", "Patient/c"),
        ref("practitionerRole", "PractitionerRole/sink"),
        channel="online",
    )
    r = api.get(
        "/fhir/Organization/org1/$signing-report",
        params={"periodStart": "2026-01-01", "periodEnd": "2026-12-31"},
    )
    assert r.status_code == 200, r.text
    params = r.json()["parameter"]
    top = {p["name"]: p for p in params if "part" not in p}
    assert top["panelSize"]["valueInteger"] == 3
    assert top["signingFee"]["valueMoney"] == {"value": 30.0, "currency": "CNY"}
    doctors = {
        p["part"][0]["valueReference"]["reference"]: {q["name"]: q for q in p["part"]}
        for p in params
        if p["name"] == "doctor"
    }
    assert sorted(doctors) == ["PractitionerRole/role1", "PractitionerRole/sink"]
    sink = doctors["PractitionerRole/sink"]
    assert sink["sinking"]["valueBoolean"] is True
    assert sink["sinkingFrom"]["valueReference"] == {"reference": "Organization/orgh"}
    assert sink["practitioner"]["valueReference"] == {"reference": "Practitioner/doch"}
    assert (sink["panelSize"]["valueInteger"], sink["residentYears"]["valueInteger"]) == (2, 2)
    assert sink["signingFee"]["valueMoney"]["value"] == 20.0
    own = doctors["PractitionerRole/role1"]
    assert own["sinking"]["valueBoolean"] is False and "sinkingFrom" not in own
    assert own["signingFee"]["valueMoney"]["value"] == 10.0
    channels = {
        p["part"][0]["valueCoding"]["code"]: (
            p["part"][1]["valueInteger"],
            p["part"][2]["valueInteger"],
        )
        for p in params
        if p["name"] == "channel"
    }
    assert channels == {"on-site": (1, 1), "online": (1, 2)}
    teams = {
        p["part"][0]["valueReference"]["reference"]: p["part"][1]["valueInteger"]
        for p in params
        if p["name"] == "team"
    }
    assert teams == {"CareTeam/team1": 3}
    # the second year of the 3-year contract: a's doctor again 10 yuan, the 1-year contract ended
    later = get(
        api,
        "PractitionerRole/role1/$signing-report",
        periodStart="2027-01-01",
        periodEnd="2027-12-31",
    )
    later_top = {p["name"]: p for p in later["parameter"] if "part" not in p}
    assert later_top["panelSize"]["valueInteger"] == 1
    assert later_top["signingFee"]["valueMoney"]["value"] == 10.0
    sinks = get(
        api,
        "PractitionerRole/sink/$signing-report",
        periodStart="2027-01-01",
        periodEnd="2027-12-31",
    )
    assert {p["name"]: p for p in sinks["parameter"] if "part" not in p}["panelSize"][
        "valueInteger"
    ] == 0
    team = get(
        api, "CareTeam/team1/$signing-report", periodStart="2026-01-01", periodEnd="2026-12-31"
    )
    assert {p["name"]: p for p in team["parameter"] if "part" not in p}["signingFee"]["valueMoney"][
        "value"
    ] == 30.0
    bad = api.get(
        "/fhir/CareTeam/team1/$signing-report",
        params={"periodStart": "2026-12-31", "periodEnd": "2026-01-01"},
    )
    assert bad.status_code == 422 and bad.json()["issue"][0]["expression"] == ["periodEnd"]
    assert api.get("/fhir/CareTeam/nope/$signing-report").status_code == 404


# -- Patient?key-population= -----------------------------------------------------------------------
def test_key_population_search_matches_the_derivation(api: TestClient) -> None:
    today = TODAY.date()  # the server's clock (frozen), not the real date

    def born(years: int, days: int = 0) -> str:
        """The birth date of someone `years` old today (`days` later: younger by that)."""
        return date.fromordinal(years_before(today, years).toordinal() - days).isoformat()

    patient(api, "old", born(82), "male")
    patient(api, "just65", born(65), "female")  # 65 today
    patient(api, "almost65", born(65, -1), "female")  # 65 tomorrow
    patient(api, "htn", born(50), "male", "I10.x00")
    patient(api, "htn-refuted", born(50), "male")
    condition(api, "htn-refuted", "r1", "I10", verification="refuted")
    patient(api, "htn-resolved", born(50), "male")
    condition(api, "htn-resolved", "r2", "I11.9", clinical="resolved")
    patient(api, "htn-nostatus", born(50), "male")
    condition(api, "htn-nostatus", "r3", "I15.0", clinical=None)
    patient(api, "kid", born(4), "female")
    patient(api, "seven", born(7), "female")
    patient(api, "preg-m", born(30), "male", "Z34.0")  # a pregnancy code on a man: not maternal
    patient(api, "preg", born(30), "female", "Z34.0")
    patient(api, "f06", born(40), "male")
    condition(api, "f06", "f06c", "F06.2")
    patient(api, "f06-ok", born(40), "male")
    condition(api, "f06-ok", "f06d", "F06.2", verification="confirmed")
    patient(api, "dis", born(40), "male")
    put(
        api,
        {
            "resourceType": "Flag",
            "id": "dis-flag",
            "status": "active",
            "code": {"coding": [{"system": KP, "code": "disabled"}]},
            "subject": {"reference": "Patient/dis"},
        },
    )
    patient(api, "dis-old", born(40), "male")
    put(
        api,
        {
            "resourceType": "Flag",
            "id": "dis-old-flag",
            "status": "active",
            "code": {"coding": [{"system": KP, "code": "disabled"}]},
            "subject": {"reference": "Patient/dis-old"},
            "period": {"start": "2020-01-01", "end": "2021-12-31"},
        },
    )

    def found(*values: str) -> list[str]:
        r = api.get(
            "/fhir/Patient", params=[("key-population", v) for v in values] + [("_count", "100")]
        )
        assert r.status_code == 200, r.text
        return ids(r.json(), "Patient")

    assert found("elderly-65") == ["Patient/just65", "Patient/old"]
    assert found("hypertension") == ["Patient/htn", "Patient/htn-nostatus"]
    assert found("child-0-6") == ["Patient/kid"]
    assert found("maternal") == ["Patient/preg"]
    assert found("severe-mental-disorder") == ["Patient/f06-ok"]
    assert found("disabled") == ["Patient/dis"]
    assert found(f"{KP}|disabled") == ["Patient/dis"]
    assert found("http://other.example|disabled") == []
    assert found("no-such-population") == []
    assert found("hypertension,child-0-6") == [
        "Patient/htn",
        "Patient/htn-nostatus",
        "Patient/kid",
    ]  # any
    patient(api, "both", born(70), "male", "I10")
    assert found("elderly-65", "hypertension") == ["Patient/both"]  # all
    # `:not` cannot be expanded into search terms: refused under Prefer: handling=strict, left out
    # with a warning otherwise (the server's lenient handling of unsupported modifiers)
    r = api.get(
        "/fhir/Patient",
        params={"key-population:not": "hypertension"},
        headers={"Prefer": "handling=strict"},
    )
    assert r.status_code == 400 and r.json()["issue"][0]["expression"] == ["key-population:not"]
    lenient = get(api, "Patient", **{"key-population:not": "hypertension"})
    [warning] = by_type(lenient, "OperationOutcome")
    assert warning["issue"][0]["severity"] == "warning"
    assert warning["issue"][0]["expression"] == ["key-population:not"]
    assert "key-population" not in next(
        li["url"] for li in lenient["link"] if li["relation"] == "self"
    )
    # the search agrees with $key-populations (at the server's date) for every resident
    everyone = ids(get(api, "Patient", _count="100"), "Patient")
    for pid in everyone:
        derived = [
            p["part"][0]["valueCoding"]["code"]
            for p in get(api, f"{pid}/$key-populations", date=today.isoformat())["parameter"]
            if p["name"] == "population"
        ]
        for code in ("elderly-65", "hypertension", "child-0-6", "maternal", "disabled"):
            assert (pid in found(code)) == (code in derived), (pid, code)
    metadata = get(api, "metadata")
    [patient_rest] = [r for r in metadata["rest"][0]["resource"] if r["type"] == "Patient"]
    assert "key-population" in {p["name"] for p in patient_rest["searchParam"]}


@pytest.fixture(params=["2026-01-04", "2026-01-05", "2026-01-06"])
def around_65th(
    request: pytest.FixtureRequest, database_url: str
) -> Iterator[tuple[TestClient, str]]:
    """The server's clock frozen the day before, on and the day after a 65th birthday."""
    at = datetime.combine(date.fromisoformat(request.param), TODAY.time(), tzinfo=UTC)
    for client in make_api(database_url, at):
        yield client, request.param


def test_key_population_search_follows_the_servers_clock(
    around_65th: tuple[TestClient, str],
) -> None:
    """`Patient?key-population=elderly-65` and `age` at the injected clock's date, not the real one (a
    resident born 1961-01-05 is 65 from 2026-01-05), as `$key-populations` derives it."""
    api, today = around_65th
    patient(api, "born-0105", "1961-01-05", "female")
    patient(api, "born-0104", "1961-01-04", "male")
    found = ids(get(api, "Patient", **{"key-population": "elderly-65"}), "Patient")
    derived = get(api, "Patient/born-0105/$key-populations")["parameter"]
    codes = {p["part"][0]["valueCoding"]["code"] for p in derived if p["name"] == "population"}
    if today == "2026-01-04":
        assert found == ["Patient/born-0104"] and "elderly-65" not in codes
    else:
        assert found == ["Patient/born-0104", "Patient/born-0105"] and "elderly-65" in codes
    # `age` (a computed parameter too) counts years at the same injected date
    aged_65 = ids(get(api, "Patient", age="ge65"), "Patient")
    aged_64 = ids(get(api, "Patient", age="64"), "Patient")
    if today == "2026-01-04":
        assert aged_65 == ["Patient/born-0104"] and aged_64 == ["Patient/born-0105"]
    else:
        assert aged_65 == ["Patient/born-0104", "Patient/born-0105"] and aged_64 == []


# -- the guide's contract search parameters ---------------------------------------------------------
def test_contract_search_parameters(api: TestClient) -> None:
    provider(api)
    provider(api, "2")
    contract, plan = signed(api, "p")
    patient(api, "q", "1980-01-01", "male", "I10")
    other = by_type(
        signing(api, ref("subject", "Patient/q"), ref("careTeam", "CareTeam/team2")), "Contract"
    )[0]
    put(
        api,
        {
            "resourceType": "CarePlan",
            "id": "unrelated",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": "Patient/p"},
        },
    )
    cref = f"Contract/{contract['id']}"
    assert ids(get(api, "CarePlan", contract=cref)) == [f"CarePlan/{plan['id']}"]
    assert ids(get(api, "Contract", **{"care-team": "CareTeam/team1"})) == [cref]
    assert ids(get(api, "Contract", **{"care-team": "CareTeam/team2"})) == [
        f"Contract/{other['id']}"
    ]
    assert ids(get(api, "Contract", package=PD + "kp-elderly-65")) == [cref]
    assert ids(get(api, "Contract", package=PD + "kp-hypertension")) == [f"Contract/{other['id']}"]
    assert len(ids(get(api, "Contract", package=PD + "basic-medical"))) == 2
    both = get(api, "Contract", _id=contract["id"], _revinclude="CarePlan:contract")
    assert ids(both) == sorted([cref, f"CarePlan/{plan['id']}"])
    assert ids(get(api, "Contract", **{"signing-channel": CS + "signing-channel|on-site"})) == sorted([cref, f"Contract/{other['id']}"])  # fmt: skip


# -- the contract audit ------------------------------------------------------------------------------
def test_contract_audit_findings_deduplicated(api: TestClient, database_url: str) -> None:
    provider(api)
    patient(api, "a", "1970-01-01", "male")
    patient(api, "b", "1972-01-01", "female")
    put(api, {"resourceType": "Group", "id": "fam", "type": "person", "actual": True, "member": [{"entity": {"reference": "Patient/a"}}, {"entity": {"reference": "Patient/b"}}]})  # fmt: skip
    family = by_type(
        signing(api, ref("family", "Group/fam"), TEAM1, {"name": "term", "valueInteger": 2}),
        "Contract",
    )[0]
    lone = signed(api, "c")[0]
    # a second contract in force for c, written directly (as an exchange partner might)
    twin = {**lone, "id": "twin"}
    twin.pop("meta")
    put(api, twin)
    # the family's consents are lost
    for consent in by_type(
        get(api, "Consent", **{"source-reference": f"Contract/{family['id']}"}), "Consent"
    ):
        assert api.delete(f"/fhir/Consent/{consent['id']}").status_code in (200, 204)
    put(api, {"resourceType": "Encounter", "id": "seen", "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}, "subject": {"reference": "Patient/a"}, "period": {"start": "2026-08-01"}})  # fmt: skip
    settings = make_settings(database_url)
    from fhir_server.app import build_components

    comps = build_components(settings)
    summary = run_job(settings, comps, "contract-audit", date(2027, 2, 1))
    assert "3 contract(s) checked" in summary

    def found(contract_id: str) -> list[tuple[str, str | None]]:
        issues = by_type(
            get(api, "DetectedIssue", implicated=f"Contract/{contract_id}"), "DetectedIssue"
        )
        for i in issues:
            assert i["meta"]["profile"] == [SD + "jiayi-contract-audit-finding"]
        return sorted(
            (i["code"]["coding"][0]["code"], (i.get("patient") or {}).get("reference"))
            for i in issues
        )

    assert found(family["id"]) == [("no-consent", None), ("no-contact", "Patient/b")]
    assert found(lone["id"]) == [("no-contact", "Patient/c"), ("signed-twice", "Patient/c")]
    assert found("twin") == [
        ("no-consent", None),
        ("no-contact", "Patient/c"),
        ("signed-twice", "Patient/c"),
    ]
    assert "0 issue(s) recorded" in run_job(settings, comps, "contract-audit", date(2027, 2, 2))


def test_renewal_window_confirmation_tasks_and_a_signer_without_role(
    api: TestClient, database_url: str
) -> None:
    """粤(十): from 1 October to 31 March every executed contract ending by the window's end gets
    one confirmation Task for its team (once); a 2-year contract and a renewed one do not."""
    provider(api)
    patient(api, "p", "1970-01-01", "male")
    due = by_type(signing(api, ref("subject", "Patient/p"), TEAM1), "Contract")[0]
    later = signed(api, "q")[0]  # 2 years: ends 2028-01-04
    patient(api, "r", "1975-01-01", "female")
    old = by_type(signing(api, ref("subject", "Patient/r"), TEAM1), "Contract")[0]
    renewed = operation(
        api, f"Contract/{old['id']}/$renew", {"name": "consent", "valueBoolean": True}
    )
    assert {c["status"] for c in by_type(renewed, "Contract")} == {"renewed", "executed"}
    settings = make_settings(database_url)
    from fhir_server.app import build_components

    comps = build_components(settings)
    assert "outside the confirmation window" in run_job(
        settings, comps, "renewal-window", date(2026, 6, 1)
    )
    assert get(api, "Task").get("total", 0) == 0
    summary = run_job(settings, comps, "renewal-window", date(2026, 11, 1))
    assert summary == "renewal window 2026-10-01..2027-03-31: 1 confirmation task(s) created"
    [task] = by_type(get(api, "Task"), "Task")
    assert task["meta"]["profile"] == [SD + "jiayi-contract-confirmation"]
    assert task["status"] == "requested" and task["intent"] == "order"
    assert task["businessStatus"]["coding"] == [
        {"system": CS + "contract-status-reason", "code": "confirmation-pending"}
    ]
    assert task["code"]["coding"] == [
        {"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "approve"}
    ]
    assert task["focus"] == {"reference": f"Contract/{due['id']}"}
    assert task["for"] == {"reference": "Patient/p"}
    assert task["owner"] == {"reference": "CareTeam/team1"}
    assert task["restriction"]["period"] == {"start": "2026-10-01", "end": "2027-03-31"}
    assert "0 confirmation" in run_job(settings, comps, "renewal-window", date(2027, 1, 2))
    assert get(api, "Task", focus=f"Contract/{later['id']}").get("total", 0) == 0
    # the signing doctor's role ends: every contract they signed is a finding
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
    run_job(settings, comps, "contract-audit", date(2026, 11, 2))
    issues = by_type(get(api, "DetectedIssue", code=CS + "contract-audit|signer-without-role"), "DetectedIssue")  # fmt: skip
    assert sorted(i["implicated"][0]["reference"] for i in issues) == sorted(
        f"Contract/{c['id']}" for c in (due, later, old)
    )
    assert all("patient" not in i for i in issues)


# -- PlanDefinition/$apply --------------------------------------------------------------------------
def test_apply_r4_semantics(api: TestClient) -> None:
    patient(api, "p82", "1943-06-10", "male", "I10.x00")
    patient(api, "kid", "2021-09-15", "female")
    put(api, {"resourceType": "Group", "id": "g", "type": "person", "actual": True, "member": [{"entity": {"reference": "Patient/p82"}}, {"entity": {"reference": "Patient/kid"}}]})  # fmt: skip
    kp = get(api, "Patient/p82/$key-populations")["parameter"]
    assert [p["part"][0]["valueCoding"]["code"] for p in kp] == ["elderly-65", "hypertension"]
    plan = operation(
        api,
        "PlanDefinition/kp-hypertension/$apply",
        {"name": "subject", "valueString": "Patient/p82"},
        {"name": "practitioner", "valueString": "PractitionerRole/role9"},
        {"name": "encounter", "valueString": "Encounter/e1"},
        {
            "name": "userLanguage",
            "valueCodeableConcept": {"coding": [{"system": "urn:ietf:bcp:47", "code": "zh-CN"}]},
        },
        {"name": "setting", "valueCodeableConcept": {"text": "home"}},
        {"name": "userType", "valueCodeableConcept": {"text": "family doctor"}},
    )
    assert plan["resourceType"] == "CarePlan" and (plan["status"], plan["intent"]) == (
        "draft",
        "proposal",
    )
    assert plan["instantiatesCanonical"] == [PD + "kp-hypertension"]
    assert plan["author"] == {"reference": "PractitionerRole/role9"}
    assert plan["encounter"] == {"reference": "Encounter/e1"} and plan["language"] == "zh-CN"
    contained = {r["id"]: r for r in plan["contained"]}
    group = contained["rg"]
    assert plan["activity"][0] == {"reference": {"reference": "#rg"}}
    assert group["resourceType"] == "RequestGroup" and group["instantiatesCanonical"] == [
        PD + "kp-hypertension"
    ]
    assert group["author"] == {"reference": "PractitionerRole/role9"}
    follow = next(a for a in group["action"] if a["code"][0]["coding"][0]["code"] == "kp-hypertension.hypertension-management.follow-up")  # fmt: skip
    request = contained[follow["resource"]["reference"][1:]]
    assert request["resourceType"] == "ServiceRequest"
    assert request["instantiatesCanonical"] == [
        AD + "kp-hypertension.hypertension-management.follow-up"
    ]
    assert len(request["occurrenceTiming"]["event"]) == 4
    assert request["requester"] == {"reference": "PractitionerRole/role9"}
    assert request["locationCode"] == [{"text": "home"}]
    prescription = next(a for a in group["action"] if a["code"][0]["coding"][0]["code"] == "kp-hypertension.long-term-prescription")  # fmt: skip
    assert contained[prescription["resource"]["reference"][1:]]["resourceType"] == "Task"
    assert len(group["action"]) == len([a for a in plan["activity"] if "detail" in a])
    assert len(events(plan, "kp-hypertension.hypertension-management.follow-up")) == 4
    context = contained["context"]
    assert {e["url"].rsplit("-", 1)[-1] for e in context["extension"]} == {"systemUserLanguage", "encounterClass", "systemUserType"}  # fmt: skip
    assert plan["supportingInfo"] == [{"reference": "#context"}]
    # no practitioner or organization: no author at all (never "None")
    bare = operation(
        api,
        "PlanDefinition/kp-hypertension/$apply",
        {"name": "subject", "valueString": "Patient/p82"},
    )
    assert "author" not in bare and "author" not in {r["id"]: r for r in bare["contained"]}["rg"]
    # a package that does not apply to the subject: an empty request group
    none = operation(
        api, "PlanDefinition/kp-t2dm/$apply", {"name": "subject", "valueString": "Patient/p82"}
    )
    assert [a for a in none["activity"] if "detail" in a] == []
    assert "action" not in {r["id"]: r for r in none["contained"]}["rg"]
    # a Group: one CarePlan per member
    both = operation(
        api,
        "PlanDefinition/basic-public-health/$apply",
        {"name": "subject", "valueString": "Group/g"},
    )
    assert both["resourceType"] == "Bundle"
    assert [e["resource"]["subject"]["reference"] for e in both["entry"]] == [
        "Patient/p82",
        "Patient/kid",
    ]
    # an inline package at the type level
    inline = {
        "resourceType": "PlanDefinition",
        "status": "active",
        "title": "个性化上门护理包",
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
    }
    typed = operation(
        api,
        "PlanDefinition/$apply",
        {"name": "planDefinition", "resource": inline},
        {"name": "subject", "valueString": "Patient/kid"},
    )
    assert typed["instantiatesCanonical"] == ["#pd"]
    assert {r["resourceType"] for r in typed["contained"]} >= {
        "PlanDefinition",
        "RequestGroup",
        "ServiceRequest",
    }
    assert events(typed, "personalised.home-nursing") == ["2026-07-04", "2027-01-04"]  # 2 a year
    oo = operation(
        api, "PlanDefinition/$apply", {"name": "subject", "valueString": "Patient/kid"}, status=400
    )
    assert oo["issue"][0]["expression"] == ["planDefinition"]
    oo = operation(
        api,
        "PlanDefinition/kp-t2dm/$apply",
        {"name": "subject", "valueString": "Practitioner/x"},
        status=422,
    )
    assert oo["issue"][0]["expression"] == ["subject[0]"]


# -- the health commission ---------------------------------------------------------------------------
def test_the_commission_sees_fulfilment_and_signing_reports_as_aggregates(
    database_url: str,
) -> None:
    """Done-when of issue 6: a health commission sees, per contract, team and institution, what
    was promised and delivered — the operations run as the system for role `commission` and the
    answer names no resident (plain REST reads stay refused)."""
    import json

    from tests.support.access_world import make_world

    fu = "kp-hypertension.hypertension-management.follow-up"
    for world in make_world(database_url):
        world.repo.update("CarePlan", "pa", {"resourceType": "CarePlan", "id": "pa", "status": "active", "intent": "plan", "subject": {"reference": "Patient/a"}, "period": {"start": "2026-01-01", "end": "2026-12-31"}, "supportingInfo": [{"reference": "Contract/c1"}], "activity": [{"detail": {"status": "scheduled", "code": {"coding": [{"system": CS + "service-item", "code": fu}]}, "scheduledTiming": {"event": ["2026-03-01", "2026-06-01"]}}}]})  # fmt: skip
        world.repo.update("Encounter", "ea2", {"resourceType": "Encounter", "id": "ea2", "status": "finished", "class": {"code": "AMB"}, "subject": {"reference": "Patient/a"}, "basedOn": [{"reference": "CarePlan/pa"}], "period": {"start": "2026-02-10"}, "type": [{"coding": [{"system": CS + "service-item", "code": fu}]}]})  # fmt: skip
        commission = world.headers(
            "user/*.rs", kind="user", role="commission", fhir_user="Practitioner/d2"
        )
        for path in ("Contract/c1", "CareTeam/t1", "Organization/chc"):
            r = world.client.get(
                f"/fhir/{path}/$fulfillment", params={"date": "2026-12-31"}, headers=commission
            )
            assert r.status_code == 200, r.text
            rate, activity = r.json()["parameter"]
            assert rate == {"name": "rate", "valueDecimal": 0.5}
            assert {p["name"]: p.get("valueInteger") for p in activity["part"][1:]} == {
                "due": 2,
                "done": 1,
                "overdue": 1,
                "declined": 0,
            }
            assert "Patient/" not in r.text
        r = world.client.get(
            "/fhir/Organization/chc/$signing-report",
            params={"periodStart": "2026-01-01", "periodEnd": "2026-12-31"},
            headers=commission,
        )
        assert r.status_code == 200, r.text
        report = {p["name"]: p for p in r.json()["parameter"]}
        assert report["panelSize"] == {"name": "panelSize", "valueInteger": 1}  # c1 in force
        assert "Patient/" not in json.dumps(r.json())
        assert world.client.get("/fhir/Contract/c1", headers=commission).status_code == 403
