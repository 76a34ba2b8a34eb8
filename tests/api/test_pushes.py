"""Health pushes end to end on SQLite and PostgreSQL (issue 7; 国卫办基层发〔2025〕21号（三）; 粤(三),
粤(七)): a contract year simulated month by month (runs on the 1st) for residents of different key
populations, the job through `run_job` and the CLI with the configured inbox, the guide's channel
Consent, retries across runs and channel fall-back, alert fan-out, an interrupted and resumed job
(stopped between pages and by an exception inside one), the preview, the compliance MeasureReport,
and the search-index rows of the bulk writes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.messaging.inbox import LocalInboxSender
from adapters.messaging.webhook import WebhookSender
from fhir_server.app import build_components
from fhir_server.cli import app as cli
from fhir_server.conformance.packages import ig_dir
from fhir_server.domain.pushes import messages as M
from fhir_server.domain.pushes.content import load_library
from fhir_server.domain.pushes.ports import DeliveryReceipt, OutboundMessage
from fhir_server.domain.pushes.record import RecordKeyPopulations
from fhir_server.domain.pushes.rules import add_months, missing_topics
from fhir_server.domain.pushes.service import PushService
from fhir_server.jobs.runner import run_job
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.storage.sql.indexer import table_rows
from fhir_server.storage.sql.search_tables import RESOURCE_TABLES
from tests.api.conftest import BASE, make_settings

START = date(2026, 3, 1)
DIV = "https://jiayi.health/fhir/StructureDefinition/division-code"
ICD = "http://hl7.org/fhir/sid/icd-10"
TOPIC = "https://jiayi.health/fhir/CodeSystem/push-topic"
CHANNEL = "https://jiayi.health/fhir/CodeSystem/push-channel"
RESIDENTS: dict[str, dict[str, Any]] = {
    "adult": {"birth": "1985-05-01", "div": "440106"},
    "heavy": {"birth": "1980-05-01", "div": "440305", "bmi": 27.3},
    "elder": {"birth": "1950-05-01", "div": "440104", "icd": "I10.x00"},
    "mother": {"birth": "1996-05-01", "gender": "female", "div": "440106", "icd": "Z34.001"},
    "child": {"birth": "2022-05-01", "div": "440106"},
    "noinbox": {"birth": "1975-05-01", "div": "440306", "deny": ["app-inbox"]},
    "optout": {"birth": "1990-05-01", "div": "440106", "deny": ["all"]},
    "nodob": {"div": "440111"},
    "midmonth": {"birth": "1988-05-01", "div": "440106", "start": date(2026, 3, 15)},
    "nocare": {"birth": "1970-05-01", "div": "440106", "careplan": False},
}
#: residents whose contract year starts on START and who have a CarePlan
STANDARD = [r for r, s in RESIDENTS.items() if "start" not in s and s.get("careplan", True)]


def _put(repo: FhirRepository, body: dict[str, Any]) -> None:
    repo.update(body["resourceType"], body["id"], body)


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _resident(repo: FhirRepository, rid: str, spec: dict[str, Any]) -> None:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": rid,
        "gender": spec.get("gender", "male"),
        "telecom": [{"system": "phone", "value": "13800000000"}],
        "address": [{"extension": [{"url": DIV, "valueCode": spec["div"]}], "city": "x"}],
    }
    if "birth" in spec:
        patient["birthDate"] = spec["birth"]
    _put(repo, patient)
    start = spec.get("start", START)
    end = (add_months(start, 12) - timedelta(days=1)).isoformat()
    _put(
        repo,
        {
            "resourceType": "Contract",
            "id": f"c-{rid}",
            "status": "executed",
            "extension": [
                {
                    "url": "https://jiayi.health/fhir/StructureDefinition/contract-care-team",
                    "valueReference": {"reference": "CareTeam/team-1"},
                }
            ],
            "subject": [{"reference": f"Patient/{rid}"}],
            "authority": [{"reference": "Organization/org-1"}],
            "signer": [
                {
                    "type": {
                        "system": "http://terminology.hl7.org/CodeSystem/contractsignertypecodes",
                        "code": "AUT",
                    },
                    "party": {"reference": "PractitionerRole/role-1"},
                    "signature": [
                        {
                            "type": [
                                {
                                    "system": "urn:iso-astm:E1762-95:2013",
                                    "code": "1.2.840.10065.1.12.1.1",
                                }
                            ],
                            "when": "2026-02-20T10:00:00+08:00",
                            "who": {"reference": "PractitionerRole/role-1"},
                        }
                    ],
                }
            ],
            "applies": {"start": start.isoformat(), "end": end},
        },
    )
    if spec.get("careplan", True):
        _put(
            repo,
            {
                "resourceType": "CarePlan",
                "id": f"cp-{rid}",
                "status": "active",
                "intent": "plan",
                "subject": {"reference": f"Patient/{rid}"},
                "careTeam": [{"reference": "CareTeam/team-1"}],
                "period": {"start": start.isoformat(), "end": end},
                "supportingInfo": [{"reference": f"Contract/c-{rid}"}],
            },
        )
    if "icd" in spec:
        _put(
            repo,
            {
                "resourceType": "Condition",
                "id": f"cond-{rid}",
                "subject": {"reference": f"Patient/{rid}"},
                "clinicalStatus": _coding(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
                ),
                "code": _coding(ICD, spec["icd"]),
            },
        )
    if "bmi" in spec:
        _put(
            repo,
            {
                "resourceType": "Observation",
                "id": f"bmi-{rid}",
                "status": "final",
                "subject": {"reference": f"Patient/{rid}"},
                "code": _coding("http://loinc.org", "39156-5"),
                "effectiveDateTime": "2026-01-10",
                "valueQuantity": {"value": spec["bmi"], "unit": "kg/m2"},
            },
        )
    if "deny" in spec:
        _put(repo, _deny_consent(rid, spec["deny"]))


def _deny_consent(rid: str, channels: list[str]) -> dict[str, Any]:
    """The top-level deny form: `provision.code` with push-channel codes."""
    return {
        "resourceType": "Consent",
        "id": f"consent-{rid}",
        "status": "active",
        "scope": _coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        "category": [_coding("http://loinc.org", "59284-0")],
        "patient": {"reference": f"Patient/{rid}"},
        "policyRule": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTOUT"),
        "provision": {"type": "deny", "code": [_coding(CHANNEL, c) for c in channels]},
    }


def _repo(client: TestClient) -> FhirRepository:
    components = client.app.state.components  # type: ignore[attr-defined]
    return FhirRepository(RequestContext(BASE, system_name="test"), components)


@pytest.fixture
def repo(client: TestClient) -> FhirRepository:
    r = _repo(client)
    for rid, spec in RESIDENTS.items():
        _resident(r, rid, spec)
    measure = json.loads(
        (ig_dir("profiles") / "measures" / "Measure-push-compliance.json").read_text("utf-8")
    )
    _put(r, measure)
    return r


def _sms(handler: Any) -> WebhookSender:
    return WebhookSender(
        "sms",
        "https://sms.example/send",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=lambda s: None,
    )


def _service(
    repo: FhirRepository, tmp_path: Path, page_size: int = 200, channels: Any = None
) -> tuple[PushService, LocalInboxSender, list[str]]:
    inbox = LocalInboxSender(tmp_path / "inbox")
    sms_calls: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sms_calls.append(json.loads(request.content)["recipient"])
        return httpx.Response(202, json={})

    service = PushService(
        repo,
        load_library(),
        RecordKeyPopulations(),
        plans=repo.components.push_plans,
        channels=channels if channels is not None else (inbox, _sms(gateway)),
        page_size=page_size,
    )
    return service, inbox, sms_calls


def _pushes(
    repo: FhirRepository, rid: str, kinds: tuple[str, ...] = ("routine", "personalised")
) -> list[dict[str, Any]]:
    page = repo.search(["Communication"], [("subject", f"Patient/{rid}")], page_size=1000)
    return [m.content for m in page.matches if M.kind_of(m.content) in kinds]


def _first_of_months(n: int) -> list[date]:
    return [add_months(START, k) for k in range(n)]


def test_a_year_run_on_the_first_of_each_month(
    repo: FhirRepository, client: TestClient, tmp_path: Path
) -> None:
    service, inbox, sms_calls = _service(repo, tmp_path)
    library = load_library()
    for month, run_on in enumerate(_first_of_months(12)):
        summary = service.run(run_on)
        assert summary.finished, summary.line()
        for rid in STANDARD:
            assert len(_pushes(repo, rid)) == month + 1, (rid, run_on)
        assert len(_pushes(repo, "midmonth")) == month  # its months begin on the 15th
        assert _pushes(repo, "nocare") == []  # no CarePlan: no planned pushes
    assert service.run(add_months(START, 11)).created == 0  # idempotent
    assert service.run(add_months(START, 12)).created == 1  # midmonth's 12th, in its last month
    assert len(_pushes(repo, "midmonth")) == 12

    by_url = {i.url: i for i in library.items}
    for rid in [*STANDARD, "midmonth"]:
        pushes = _pushes(repo, rid)
        items = [p["instantiatesCanonical"][0] for p in pushes]
        assert len(items) == len(set(items)) == 12  # nothing twice
        months = Counter(M.parse_slot(p)[2] for p in pushes)  # type: ignore[index]
        assert sorted(months) == list(range(12)) and set(months.values()) == {1}
        assert missing_topics([by_url[u] for u in items], library) == []
        assert Counter(M.kind_of(p) for p in pushes)["personalised"] >= 1
        for p in pushes:
            assert p["subject"] == {"reference": f"Patient/{rid}"} == p["recipient"][0]
            assert p["basedOn"] == [{"reference": f"CarePlan/cp-{rid}"}]
            assert p["sender"] == {"reference": "PractitionerRole/role-1"}
            assert p["meta"]["profile"] == [M.PROFILE]
            ext = {e["url"]: e for e in p["extension"]}
            assert ext[M.TERM_EXT]["valueCodeableConcept"]["coding"][0]["code"]
            slot = M.parse_slot(p)
            assert slot is not None
            assert ext[M.DUE_EXT]["valueDate"][:7] in {
                add_months(slot[1], slot[2]).isoformat()[:7],
                add_months(slot[1], slot[2] + 1).isoformat()[:7],
            }
        if rid == "optout":
            assert {p["status"] for p in pushes} == {"not-done"}
            assert {p["statusReason"]["coding"][0]["code"] for p in pushes} == {"opted-out"}
            assert inbox.messages(rid) == [] and rid not in sms_calls
        else:
            assert {p["status"] for p in pushes} == {"completed"}, rid
            assert all(p.get("sent") for p in pushes)
    assert inbox.messages("noinbox") == [] and sms_calls.count("noinbox") == 12
    assert {p["medium"][0]["coding"][0]["code"] for p in _pushes(repo, "noinbox")} == {"sms"}
    assert len(inbox.messages("adult")) == 12

    personalised = {
        rid: {
            p["instantiatesCanonical"][0].rsplit("/", 1)[1]
            for p in _pushes(repo, rid)
            if M.kind_of(p) == "personalised"
        }
        for rid in RESIDENTS
    }
    assert "push-p-weight-plan" in personalised["heavy"]
    assert {
        "push-p-hbp-salt",
        "push-p-hbp-selfcheck",
        "push-p-elderly-falls",
        "push-p-elderly-vaccines",
    } <= personalised["elder"]
    assert "push-p-prenatal-nutrition" in personalised["mother"]
    assert "push-p-child-immunisation" in personalised["child"]
    assert personalised["adult"] == {"push-p-adult-checkup"}
    assert personalised["nodob"] == {"push-p-record-review"}  # nothing on record: the default

    # the compliance report over the contract year, per team, per city, per institution
    url = "/fhir/Measure/push-compliance/$evaluate-measure"
    period = {"periodStart": "2026-03-01", "periodEnd": "2027-02-28"}
    report = client.get(url, params=period).json()
    main = report["group"][0]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in main["population"]}
    assert counts == {
        "initial-population": 10,
        "denominator": 10,
        "denominator-exception": 1,
        "numerator": 8,
    }
    assert main["measureScore"]["value"] == round(8 / 9, 4)
    lists = {c["id"]: c for c in report["contained"]}
    assert [e["item"]["reference"] for e in lists["exceptions"]["entry"]] == ["Patient/optout"]
    short = {e["item"]["reference"]: e["flag"]["text"] for e in lists["shortfall"]["entry"]}
    assert list(short) == ["Patient/nocare"]
    assert "pushes 0/12" in short["Patient/nocare"]
    assert "months without a push: 2026-03" in short["Patient/nocare"]
    team = client.get(url, params={**period, "subject": "CareTeam/team-1"}).json()
    assert team["group"][0]["population"][0]["count"] == 10
    assert team["subject"]["identifier"]["value"] == "CareTeam/team-1"
    for key in ("subject", "reporter"):  # 深圳市: heavy + noinbox, by subject or by reporter
        city = client.get(url, params={**period, key: "440300"}).json()
        assert city["group"][0]["population"][0]["count"] == 2, city
    org = client.get(url, params={**period, "reporter": "Organization/org-1"}).json()
    assert org["group"][0]["population"][0]["count"] == 10
    assert org["reporter"] == {"reference": "Organization/org-1"}
    both = client.get(url, params={**period, "subject": "440300", "reporter": "440100"})
    assert both.status_code == 400
    half = client.get(
        url,
        params={"periodStart": "2026-03-01", "periodEnd": "2026-08-31", "subject": "Patient/elder"},
    ).json()
    assert half["group"][0]["population"][-1]["count"] == 1  # 6 of 6 months due: compliant
    assert half["group"][2]["population"][0]["count"] == 0  # topics not assessed on half a year
    listed = client.get(url, params={**period, "reportType": "subject-list"}).json()
    assert listed["type"] == "subject-list"
    lists = {c["id"]: c for c in listed["contained"]}
    numerator = [
        p for p in listed["group"][0]["population"] if p["code"]["coding"][0]["code"] == "numerator"
    ]
    assert numerator[0]["subjectResults"] == {"reference": "#numerator"}
    assert len(lists["numerator"]["entry"]) == 8
    bad = client.get(url, params={**period, "reportType": "everything"})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["reportType"]


def test_alerts_do_not_count_toward_the_twelve(
    repo: FhirRepository, client: TestClient, tmp_path: Path
) -> None:
    service, _, _ = _service(repo, tmp_path)
    posted = client.post(
        "/fhir/Communication/$alert",
        json=_alert_params(["440106"], [], "登革热预警", "2026-03-01", "2026-03-10"),
    )
    assert posted.status_code == 201
    for run_on in _first_of_months(11):  # one month short
        service.run(run_on)
    assert len(_pushes(repo, "adult", ("alert",))) == 1
    assert len(_pushes(repo, "adult")) == 11
    report = client.get(
        "/fhir/Measure/push-compliance/$evaluate-measure",
        params={"periodStart": "2026-03-01", "periodEnd": "2027-02-28", "subject": "Patient/adult"},
    ).json()
    short = {c["id"]: c for c in report["contained"]}["shortfall"]["entry"][0]
    assert "pushes 11/12" in short["flag"]["text"]


def _alert_params(
    areas: list[str], pops: list[str], text: str, start: str, end: str
) -> dict[str, Any]:
    params: list[dict[str, Any]] = [{"name": "area", "valueCode": a} for a in areas]
    params += [{"name": "population", "valueCode": p} for p in pops]
    params += [
        {"name": "topic", "valueCoding": {"system": TOPIC, "code": "climate-sensitive"}},
        {"name": "message", "valueString": text},
        {"name": "effective", "valuePeriod": {"start": start, "end": end}},
    ]
    return {"resourceType": "Parameters", "parameter": params}


def test_alert_fans_out_to_exactly_the_right_residents(
    repo: FhirRepository, client: TestClient, tmp_path: Path
) -> None:
    service, inbox, _ = _service(repo, tmp_path)

    def post(
        areas: list[str], pops: list[str], text: str, end: str = "2026-07-20"
    ) -> httpx.Response:
        return client.post(
            "/fhir/Communication/$alert", json=_alert_params(areas, pops, text, "2026-07-01", end)
        )

    heat = post(["440100"], ["hypertension", "elderly-65"], "高温预警：减少午间外出")
    assert heat.status_code == 201, heat.text
    dengue = post(["440106"], [], "天河区登革热预警：清积水防蚊")
    assert dengue.status_code == 201
    short = post(["440300"], [], "深圳暴雨预警", end="2026-07-05")  # ends between monthly runs
    assert short.status_code == 201
    bad = post(["4401"], [], "x")
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["area"]
    assert post(["440100"], ["nobody"], "x").status_code in (400, 422)

    service.run(date(2026, 6, 30))  # before the alerts begin

    def alerts() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for rid in RESIDENTS:
            for p in _pushes(repo, rid, ("alert",)):
                out.setdefault(p["payload"][0]["contentString"][:4], set()).add(rid)
                assert p["priority"] == "urgent"
                assert p["topic"]["text"].startswith("预警提醒")
                assert p["meta"]["profile"] == [M.PROFILE]
                care = [b for b in p["basedOn"] if b["reference"].startswith("CarePlan/")]
                assert care == ([] if rid == "nocare" else [{"reference": f"CarePlan/cp-{rid}"}])
        return out

    assert alerts() == {}
    service.run(date(2026, 7, 1))
    service.run(date(2026, 7, 2))  # once each
    assert alerts() == {
        "高温预警": {"elder"},
        "天河区登": {"adult", "mother", "child", "optout", "midmonth", "nocare"},
        "深圳暴雨": {"heavy", "noinbox"},
    }
    assert [m["text"] for m in inbox.messages("elder") if m["kind"] == "alert"] == [
        "高温预警：减少午间外出"
    ]
    assert inbox.messages("optout") == []
    requests = {
        r.content["payload"][0]["contentString"][:4]: r.content["status"]
        for r in repo.search(["CommunicationRequest"], [], page_size=10).matches
    }
    assert requests == {"高温预警": "active", "天河区登": "active", "深圳暴雨": "active"}
    service.run(date(2026, 8, 1))  # every period is over: completed, nothing sent again
    assert len(alerts()["天河区登"]) == 6
    assert all(
        r.content["status"] == "completed"
        for r in repo.search(["CommunicationRequest"], [], page_size=10).matches
    )


def test_an_alert_ending_between_monthly_runs_goes_out_on_the_next(
    repo: FhirRepository, client: TestClient, tmp_path: Path
) -> None:
    service, _, _ = _service(repo, tmp_path)
    service.run(date(2026, 7, 1))
    posted = client.post(
        "/fhir/Communication/$alert",
        json=_alert_params(["440305"], [], "台风预警", "2026-07-03", "2026-07-08"),
    )
    assert posted.status_code == 201
    service.run(date(2026, 8, 1))
    assert [p["payload"][0]["contentString"] for p in _pushes(repo, "heavy", ("alert",))] == [
        "台风预警"
    ]
    request = repo.read("CommunicationRequest", posted.json()["id"]).content
    assert request["status"] == "completed"


def test_the_guides_channel_consent_is_honoured(
    repo: FhirRepository, client: TestClient, tmp_path: Path
) -> None:
    example = json.loads(
        (ig_dir("profiles") / "examples" / "Consent-example-push-consent.json").read_text("utf-8")
    )
    example["patient"] = {"reference": "Patient/adult"}
    assert client.put(f"/fhir/Consent/{example['id']}", json=example).status_code in (200, 201)
    inbox = LocalInboxSender(tmp_path / "inbox")
    sms_calls: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sms_calls.append(json.loads(request.content)["recipient"])
        return httpx.Response(200, json={})

    service, _, _ = _service(repo, tmp_path, channels=(_sms(gateway), inbox))  # SMS preferred
    service.run(START)
    assert "adult" not in sms_calls and len(inbox.messages("adult")) == 1
    assert "heavy" in sms_calls and inbox.messages("heavy") == []
    (push,) = _pushes(repo, "adult")
    assert push["medium"][0]["coding"][0]["code"] == "app-inbox"


RT = "http://hl7.org/fhir/resource-types"


@pytest.mark.parametrize(
    ("change", "stopped"),
    [
        # withdrawn from pushes: a deny of Communication for disclose (R4, services/consent.py)
        (
            {
                "provision": {
                    "type": "deny",
                    "class": [{"system": RT, "code": "Communication"}],
                    "action": [_coding("http://terminology.hl7.org/CodeSystem/consentaction", "disclose")],
                }
            },
            True,
        ),
        ({"provision": None}, True),  # a bare OPTOUT (policyRule only, no provisions)
        ({"provision": {"type": "deny"}}, True),  # a deny of everything covers pushes
        ({"scope": _coding("http://terminology.hl7.org/CodeSystem/consentscope", "research")}, False),
    ],
)  # fmt: skip
def test_a_withdrawal_or_optout_stops_every_push(
    repo: FhirRepository, tmp_path: Path, change: dict[str, Any], stopped: bool
) -> None:
    """The `adult` resident's Consent (the `all` deny, changed as given) is judged by the same
    evaluator as every access decision: every push stops, or (a research Consent) none."""
    consent = {**_deny_consent("adult", ["all"]), **change}
    consent = {k: v for k, v in consent.items() if v is not None}
    _put(repo, consent)
    service, inbox, _ = _service(repo, tmp_path)
    summary = service.run(START)
    (push,) = _pushes(repo, "adult")
    if stopped:
        assert push["status"] == "not-done"
        assert push["statusReason"]["coding"][0]["code"] == "opted-out"
        assert inbox.messages("adult") == [] and summary.opted_out == 2  # and `optout`
    else:
        assert push["status"] == "completed" and len(inbox.messages("adult")) == 1
        assert summary.opted_out == 1


def test_a_failed_webhook_is_retried_by_the_next_run(repo: FhirRepository, tmp_path: Path) -> None:
    state = {"up": False, "calls": 0}

    def gateway(request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        return httpx.Response(200, json={}) if state["up"] else httpx.Response(503, text="busy")

    service, _, _ = _service(repo, tmp_path, channels=(_sms(gateway),))
    first = service.run(START)
    pushes = _pushes(repo, "adult")
    assert [p["status"] for p in pushes] == ["in-progress"]
    assert M.runs_of(pushes[0]) == 1 and "3 tries" in pushes[0]["statusReason"]["text"]
    assert first.failed == len(STANDARD) - 1 and first.opted_out == 1 and first.delivered == 0
    state["up"] = True
    second = service.run(START + timedelta(days=1))
    assert second.retried_delivered == first.failed and "retried" in second.line()
    (push,) = _pushes(repo, "adult")
    assert push["status"] == "completed" and M.runs_of(push) == 2
    assert "statusReason" not in push


def test_delivery_falls_back_and_gives_up_after_three_runs(
    repo: FhirRepository, tmp_path: Path
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down")

    inbox = LocalInboxSender(tmp_path / "inbox")
    service, _, _ = _service(repo, tmp_path, channels=(_sms(down), inbox))
    service.run(START)
    (push,) = _pushes(repo, "adult")  # SMS failed, the inbox took it in the same run
    assert push["status"] == "completed" and push["medium"][0]["coding"][0]["code"] == "app-inbox"

    service, _, _ = _service(repo, tmp_path, channels=(_sms(down),))
    for day in range(3):
        service.run(add_months(START, 1) + timedelta(days=day))
    statuses = {p["status"] for p in _pushes(repo, "adult") if M.parse_slot(p)[2] == 1}  # type: ignore[index]
    assert statuses == {"not-done"}
    (given_up,) = [p for p in _pushes(repo, "adult") if M.parse_slot(p)[2] == 1]  # type: ignore[index]
    assert M.runs_of(given_up) == 3 and "after 3 delivery runs" in given_up["statusReason"]["text"]


def test_interrupted_job_resumes_without_duplicates(repo: FhirRepository, tmp_path: Path) -> None:
    service, inbox, _ = _service(repo, tmp_path, page_size=2)
    on = add_months(START, 2)  # three months due at once
    first = service.run(on, max_pages=2)
    assert not first.finished and first.created == 12
    assert repo.read("Task", "job-pushes-20260501").content["status"] == "in-progress"
    second = service.run(on)
    assert second.resumed and second.finished
    assert second.created == 3 * len(STANDARD) + 2 - 12  # midmonth: two months begun
    assert repo.read("Task", "job-pushes-20260501").content["status"] == "completed"
    assert service.run(on).created == 0
    for rid in STANDARD:
        ids = [p["id"] for p in _pushes(repo, rid)]
        assert len(ids) == len(set(ids)) == 3
    assert len(inbox.messages("adult")) == 3


class Crash(BaseException):
    """The process is stopped in the middle of a page (as by a kill or a crash)."""


class CrashingInbox(LocalInboxSender):
    def __init__(self, root: Path, after: int) -> None:
        super().__init__(root)
        self.left = after

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if self.left == 0:
            raise Crash()
        self.left -= 1
        return super().send(message)


def test_an_exception_inside_a_page_loses_only_that_page(
    repo: FhirRepository, tmp_path: Path
) -> None:
    crashing = CrashingInbox(tmp_path / "inbox", after=4)
    service, _, _ = _service(repo, tmp_path, page_size=3, channels=(crashing,))
    with pytest.raises(Crash):
        service.run(START)
    written = {rid: len(_pushes(repo, rid)) for rid in RESIDENTS}
    assert sum(written.values()) == 3  # the first page committed, the second rolled back
    assert sum(len(crashing.messages(r)) for r in RESIDENTS) == 4  # one went out before the crash
    healthy = LocalInboxSender(tmp_path / "inbox")
    service, _, _ = _service(repo, tmp_path, page_size=3, channels=(healthy,))
    summary = service.run(START)
    assert summary.resumed and summary.finished
    for rid in STANDARD:
        assert len(_pushes(repo, rid)) == 1
        if rid not in ("optout", "noinbox"):
            assert len(healthy.messages(rid)) == 1  # idempotent per push id: never twice


def test_the_job_delivers_through_the_configured_inbox(database_url: str, tmp_path: Path) -> None:
    inbox_dir = tmp_path / "push-inbox"
    settings = make_settings(database_url, push_inbox_dir=inbox_dir)
    components = build_components(settings)
    try:
        repo = FhirRepository(RequestContext(BASE, system_name="test"), components)
        for rid in ("adult", "elder"):
            _resident(repo, rid, RESIDENTS[rid])
        line = run_job(settings, components, "pushes", START)
        assert "2 years planned" in line and "2 created" in line and "2 delivered" in line
        for rid in ("adult", "elder"):
            (push,) = _pushes(repo, rid)
            assert push["status"] == "completed"
            assert push["medium"][0]["coding"][0]["code"] == "app-inbox"
            lines = (inbox_dir / f"{rid}.ndjson").read_text("utf-8").splitlines()
            assert [json.loads(x)["id"] for x in lines] == [push["id"]]
    finally:
        components.database.dispose()
    result = CliRunner().invoke(
        cli,
        ["jobs", "run", "pushes", "--date", "2026-04-01", "--database-url", database_url],
        env={"JIAYI_PUSH_INBOX_DIR": str(inbox_dir), "JIAYI_BASE_URL": BASE},
    )
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output and "2 delivered" in result.output
    assert len((inbox_dir / "adult.ndjson").read_text("utf-8").splitlines()) == 2


def test_bulk_writes_carry_the_index_rows_a_create_would(
    repo: FhirRepository, tmp_path: Path
) -> None:
    service, _, _ = _service(repo, tmp_path)
    service.run(START)
    database = repo.components.database
    extractor = database.indexer.extractor  # type: ignore[attr-defined]
    pushes = [p for rid in RESIDENTS for p in _pushes(repo, rid)]
    assert len(pushes) == len(STANDARD)
    with database.engine.connect() as conn:  # type: ignore[attr-defined]
        for push in pushes:
            want = table_rows("Communication", push["id"], extractor.extract(push))
            for table in RESOURCE_TABLES:
                stored = conn.execute(
                    select(table).where(
                        table.c.res_type == "Communication", table.c.res_id == push["id"]
                    )
                ).all()
                kind = next(k for k, t in _KIND_TABLES().items() if t is table)
                expected = want.get(kind, [])
                got = sorted(repr(_normal(dict(r._mapping), expected)) for r in stored)
                assert got == sorted(repr(_normal(dict(r), expected)) for r in expected), kind
    found = repo.search(
        ["Communication"],
        [("category", "https://jiayi.health/fhir/CodeSystem/push-kind|personalised")],
        page_size=100,
    ).matches
    assert {m.content["subject"]["reference"] for m in found} <= {f"Patient/{r}" for r in RESIDENTS}
    by_subject = repo.search(
        ["Communication"], [("subject", "Patient/elder"), ("status", "completed")], page_size=10
    ).matches
    assert len(by_subject) == 1


def _KIND_TABLES() -> dict[str, Any]:
    from fhir_server.storage.sql.indexer import _table

    kinds = ("token", "string", "date", "number", "quantity", "reference", "uri")
    return {k: _table(k) for k in (*kinds, "position", "text", "sort")}


def _normal(row: dict[str, Any], like: list[dict[str, Any]]) -> dict[str, Any]:
    """The row's columns; `_content` as its sorted words (PostgreSQL's JSONB hands objects back
    in another key order, and `_content` joins the strings in document order)."""
    keys = set(like[0]) if like else set(row)
    out = {k: row.get(k) for k in sorted(keys) if k not in ("id",)}
    if out.get("param") == "_content":
        out["value"] = sorted(str(out["value"]).split(" "))
    return out


def test_preview(repo: FhirRepository, client: TestClient, tmp_path: Path) -> None:
    response = client.get("/fhir/Patient/elder/$push-plan-preview", params={"date": "2026-09-10"})
    assert response.status_code == 200, response.text
    params = response.json()["parameter"]
    pushes = [p for p in params if p["name"] == "push"]
    assert len(pushes) == 12
    assert {p["valueCode"] for p in params if p["name"] == "populations"} == {
        "elderly-65",
        "hypertension",
    }
    assert {p["name"]: p.get("valueBoolean") for p in params}["persisted"] is False
    assert _pushes(repo, "elder") == []  # nothing written
    service, _, _ = _service(repo, tmp_path)
    service.run(START)
    after = client.get("/fhir/Patient/elder/$push-plan-preview", params={"date": "2026-03-10"})
    params = after.json()["parameter"]
    assert {p["name"]: p.get("valueBoolean") for p in params}["persisted"] is True
    sent = [
        {q["name"]: q.get("valueBoolean") for q in p["part"]}["sent"]
        for p in params
        if p["name"] == "push"
    ]
    assert sent == [True] + [False] * 11
    assert client.get("/fhir/Patient/nobody/$push-plan-preview").status_code == 404


def test_bulk_writes_record_their_outbox_events(repo: FhirRepository, tmp_path: Path) -> None:
    """`create_instances` records the outbox events a create would (`OutboxWriter.record_many`):
    a delivered push matches the push-delivered topic, one event each, in history order, with a
    pending delivery for the subscription fan-out (a Subscription is live: without one the
    fan-out takes nothing, tests/outbox/test_outbox.py); an undelivered one records nothing."""
    from fhir_server.outbox.tables import outbox_delivery, outbox_event
    from fhir_server.storage.sql.tables import resource_history

    repo.create(
        "Subscription",
        {
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "push deliveries",
            "criteria": "Communication?",
            "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook"},
        },
    )
    service, _, _ = _service(repo, tmp_path)
    summary = service.run(START)
    pushes = [p for rid in RESIDENTS for p in _pushes(repo, rid)]
    delivered = {p["id"] for p in pushes if p["status"] == "completed"}
    assert summary.created == len(pushes) and summary.delivered == len(delivered) > 0
    assert len(delivered) < len(pushes)  # "optout" is not-done
    engine = repo.components.database.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        events = conn.execute(
            select(outbox_event).where(outbox_event.c.res_type == "Communication")
        ).all()
        history = {
            r.res_id: (r.version_id, r.method, r.seq)
            for r in conn.execute(
                select(resource_history).where(resource_history.c.res_type == "Communication")
            )
        }
        deliveries = conn.execute(
            select(
                outbox_delivery.c.event_seq, outbox_delivery.c.consumer, outbox_delivery.c.status
            )
        ).all()
    assert sorted(e.res_id for e in events) == sorted(delivered)
    push_delivered = "https://jiayi.health/fhir/SubscriptionTopic/push-delivered"
    for e in events:
        assert (e.version_id, e.method, e.history_seq) == history[e.res_id]
        assert e.version_id == 1
        assert push_delivered in e.topics
    ordered = sorted(events, key=lambda e: e.seq)
    assert [e.history_seq for e in ordered] == sorted(e.history_seq for e in events)
    by_event = {seq: (consumer, status) for seq, consumer, status in deliveries}
    assert all(by_event[e.seq] == ("subscriptions", "pending") for e in events)


def test_planner_statistics_are_refreshed_after_large_writes(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job writes faster than autovacuum analyses; `refresh_statistics` ANALYZEs the tables
    changed by more than the threshold (PostgreSQL), once; SQLite has nothing to do."""
    from sqlalchemy import text

    from fhir_server.storage.sql import SqlDatabase
    from fhir_server.storage.sql import push_plan as PP

    db = SqlDatabase(database_url)
    try:
        monkeypatch.setattr(PP, "_STALE_MIN", 20)
        factory = PP.PushPlanFactory(db.engine)
        with db.engine.connect() as conn:
            conn.execute(
                PP.push_state.insert(), [{"name": f"n{i}", "value": "v"} for i in range(50)]
            )
            conn.commit()
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_stat_force_next_flush()"))
                conn.commit()
        refreshed = factory.refresh_statistics()
        if db.engine.dialect.name != "postgresql":
            assert refreshed == []
            return
        assert "push_state" in refreshed
        assert "push_state" not in factory.refresh_statistics()  # analysed now
        with db.engine.connect() as conn:
            analysed = conn.execute(
                text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'push_state'")
            ).scalar_one()
        assert analysed is not None
    finally:
        db.dispose()


def test_a_second_contract_year_avoids_the_first_years_items(
    repo: FhirRepository, tmp_path: Path
) -> None:
    """A two-year contract is planned year by year; the second year's routine items prefer those
    not sent in the first (`PushPlanStore.history`), still covering every required topic."""
    contract = repo.read("Contract", "c-adult").content
    contract["applies"]["end"] = (add_months(START, 24) - timedelta(days=1)).isoformat()
    contract.pop("meta", None)
    _put(repo, contract)
    service, _, _ = _service(repo, tmp_path)
    service.run(START)
    second = add_months(START, 12)
    # the adult's second year, and midmonth's first (its contract runs to 2027-03-14)
    assert service.run(second).planned == 2
    store = repo.components.push_plans()
    first_year, second_year = store.plans_of("adult")
    assert (first_year["year_start"], second_year["year_start"]) == (START, second)
    library = load_library()
    by_id = library.by_id()
    items = [{s["item"] for s in plan["slots"]} for plan in (first_year, second_year)]
    assert all(len(plan["slots"]) == 12 for plan in (first_year, second_year))
    assert missing_topics([by_id[i] for i in items[1]], library) == []
    routine = [{s["item"] for s in p["slots"] if not s["p"]} for p in (first_year, second_year)]
    assert routine[1] != routine[0] and len(routine[1] & routine[0]) < len(routine[0])
    (push,) = [p for p in _pushes(repo, "adult") if p["sent"][:10] == second.isoformat()]
    assert M.kind_of(push) is not None


@pytest.mark.parametrize("channels", ["inbox", "inbox+sms"])
def test_no_push_for_a_deleted_patient(repo: FhirRepository, tmp_path: Path, channels: str) -> None:
    inbox = LocalInboxSender(tmp_path / "inbox")
    chosen = (inbox,) if channels == "inbox" else (inbox, _sms(lambda r: httpx.Response(202)))
    service, _, _ = _service(repo, tmp_path, channels=chosen)
    service.run(START)
    repo.delete("Patient", "adult")
    summary = service.run(add_months(START, 1))
    assert len(_pushes(repo, "adult")) == 1  # the first month's only
    assert len(inbox.messages("adult")) == 1
    assert summary.without_patient == 1
    assert all(len(_pushes(repo, rid)) == 2 for rid in STANDARD if rid != "adult")


def test_a_deleted_residents_pending_push_is_withdrawn_not_retried(
    repo: FhirRepository, tmp_path: Path
) -> None:
    """A push waiting for a retry whose resident's Patient is then deleted becomes `not-done`
    (push-delivery-reason `recipient-deleted`) on the next run, and later runs leave it alone."""
    calls = {"n": 0}

    def down(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(503, text="busy")

    service, _, _ = _service(repo, tmp_path, channels=(_sms(down),))
    service.run(START)
    (pending,) = _pushes(repo, "adult")
    assert pending["status"] == "in-progress"
    repo.delete("Patient", "adult")
    before = calls["n"]
    second = service.run(START + timedelta(days=1))
    assert second.withdrawn == 1 and "1 pending pushes withdrawn" in second.line()
    (withdrawn,) = _pushes(repo, "adult")
    assert withdrawn["status"] == "not-done"
    assert withdrawn["statusReason"]["coding"][0]["code"] == "recipient-deleted"
    assert M.runs_of(withdrawn) == M.runs_of(pending)
    # the other residents' pending pushes were retried (each a call), the deleted one's not
    retried_calls = calls["n"] - before
    assert second.retried == len(STANDARD) - 2  # minus the opted-out resident and the deleted
    version = repo.read("Communication", withdrawn["id"]).version_id
    third = service.run(START + timedelta(days=2))
    assert third.withdrawn == 0
    assert repo.read("Communication", withdrawn["id"]).version_id == version
    assert retried_calls > 0


def test_workers_split_the_due_step_without_duplicates(database_url: str, tmp_path: Path) -> None:
    inbox_dir = tmp_path / "push-inbox"
    settings = make_settings(database_url, push_inbox_dir=inbox_dir)
    components = build_components(settings)
    try:
        repo = FhirRepository(RequestContext(BASE, system_name="test"), components)
        for rid in STANDARD:
            _resident(repo, rid, RESIDENTS[rid])
        for month, on in enumerate(_first_of_months(2), start=1):
            line = run_job(settings, components, "pushes", on, workers=3)
            assert f"{len(STANDARD)} created" in line, line
            for rid in STANDARD:
                ids = [p["id"] for p in _pushes(repo, rid)]
                assert len(ids) == len(set(ids)) == month
        assert "0 created" in run_job(settings, components, "pushes", START, workers=3)
        task = repo.read("Task", "job-pushes-20260401").content
        assert task["status"] == "completed"
        lines = (inbox_dir / "adult.ndjson").read_text("utf-8").splitlines()
        assert len(lines) == len({json.loads(x)["id"] for x in lines}) == 2
    finally:
        components.database.dispose()
