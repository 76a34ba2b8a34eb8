"""Health pushes end to end on SQLite and PostgreSQL (issue 7; 国卫办基层发〔2025〕21号（三）; 粤(三),
粤(七)): a contract year simulated month by month for residents of different key populations, alert
fan-out, an interrupted and resumed job, the preview and the compliance MeasureReport."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.messaging.inbox import LocalInboxSender
from adapters.messaging.webhook import WebhookSender
from fhir_server.conformance.packages import ig_dir
from fhir_server.domain.pushes import messages as M
from fhir_server.domain.pushes.content import load_library
from fhir_server.domain.pushes.record import RecordKeyPopulations
from fhir_server.domain.pushes.rules import add_months, missing_topics
from fhir_server.domain.pushes.service import PushService
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from tests.api.conftest import BASE

START = date(2026, 3, 1)
DIV = "https://jiayi.health/fhir/StructureDefinition/division-code"
ICD = "http://hl7.org/fhir/sid/icd-10"
RESIDENTS: dict[str, dict[str, Any]] = {
    "adult": {"birth": "1985-05-01", "gender": "male", "div": "440106"},
    "heavy": {"birth": "1980-05-01", "gender": "female", "div": "440305", "bmi": 27.3},
    "elder": {"birth": "1950-05-01", "gender": "male", "div": "440104", "icd": "I10.x00"},
    "mother": {"birth": "1996-05-01", "gender": "female", "div": "440106", "icd": "Z34.001"},
    "child": {"birth": "2022-05-01", "gender": "female", "div": "440106"},
    "noinbox": {"birth": "1975-05-01", "gender": "male", "div": "440306", "deny": ["app-inbox"]},
    "optout": {"birth": "1990-05-01", "gender": "male", "div": "440106", "deny": ["all"]},
}


def _put(repo: FhirRepository, body: dict[str, Any]) -> None:
    repo.update(body["resourceType"], body["id"], body)


def _resident(repo: FhirRepository, rid: str, spec: dict[str, Any]) -> None:
    _put(
        repo,
        {
            "resourceType": "Patient",
            "id": rid,
            "birthDate": spec["birth"],
            "gender": spec["gender"],
            "telecom": [{"system": "phone", "value": "13800000000"}],
            "address": [{"extension": [{"url": DIV, "valueCode": spec["div"]}], "city": "x"}],
        },
    )
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
            "applies": {
                "start": START.isoformat(),
                "end": (add_months(START, 12) - timedelta(days=1)).isoformat(),
            },
        },
    )
    _put(
        repo,
        {
            "resourceType": "CarePlan",
            "id": f"cp-{rid}",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": f"Patient/{rid}"},
            "careTeam": [{"reference": "CareTeam/team-1"}],
            "period": {
                "start": START.isoformat(),
                "end": (add_months(START, 12) - timedelta(days=1)).isoformat(),
            },
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
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {"coding": [{"system": ICD, "code": spec["icd"]}]},
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
                "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
                "effectiveDateTime": "2026-01-10",
                "valueQuantity": {"value": spec["bmi"], "unit": "kg/m2"},
            },
        )
    if "deny" in spec:
        _put(
            repo,
            {
                "resourceType": "Consent",
                "id": f"consent-{rid}",
                "status": "active",
                "scope": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                            "code": "patient-privacy",
                        }
                    ]
                },
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": f"Patient/{rid}"},
                "policyRule": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                            "code": "OPTOUT",
                        }
                    ]
                },
                "provision": {
                    "type": "deny",
                    "code": [
                        {
                            "coding": [
                                {
                                    "system": "https://jiayi.health/fhir/CodeSystem/push-channel",
                                    "code": c,
                                }
                            ]
                        }
                        for c in spec["deny"]
                    ],
                },
            },
        )


@pytest.fixture
def repo(client: TestClient) -> FhirRepository:
    components = client.app.state.components  # type: ignore[attr-defined]
    r = FhirRepository(RequestContext(BASE, system_name="test"), components)
    for rid, spec in RESIDENTS.items():
        _resident(r, rid, spec)
    measure = json.loads(
        (ig_dir("profiles") / "measures" / "Measure-push-compliance.json").read_text("utf-8")
    )
    _put(r, measure)
    return r


def _service(
    repo: FhirRepository, tmp_path: Path, page_size: int = 200
) -> tuple[PushService, LocalInboxSender, list[str]]:
    inbox = LocalInboxSender(tmp_path / "inbox")
    sms_calls: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sms_calls.append(json.loads(request.content)["recipient"])
        return httpx.Response(202, json={})

    sms = WebhookSender(
        "sms",
        "https://sms.example/send",
        client=httpx.Client(transport=httpx.MockTransport(gateway)),
        sleep=lambda s: None,
    )
    service = PushService(
        repo, load_library(), RecordKeyPopulations(), channels=(inbox, sms), page_size=page_size
    )
    return service, inbox, sms_calls


def _pushes(repo: FhirRepository, rid: str) -> list[dict[str, Any]]:
    page = repo.search(["Communication"], [("subject", f"Patient/{rid}")], page_size=1000)
    return [m.content for m in page.matches]


def test_a_year_month_by_month(repo: FhirRepository, client: TestClient, tmp_path: Path) -> None:
    service, inbox, sms_calls = _service(repo, tmp_path)
    library = load_library()
    for month in range(12):
        run_on = add_months(START, month + 1) - timedelta(days=1)
        summary = service.run(run_on)
        assert summary.finished and summary.residents == len(RESIDENTS)
        for rid in RESIDENTS:
            assert len(_pushes(repo, rid)) == month + 1, (rid, month)
    assert service.run(add_months(START, 12) - timedelta(days=1)).created == 0  # idempotent

    for rid in RESIDENTS:
        pushes = _pushes(repo, rid)
        items = [p["instantiatesCanonical"][0] for p in pushes]
        assert len(items) == len(set(items)) == 12  # nothing twice
        months = Counter(M.parse_slot(p)[2] for p in pushes)  # type: ignore[index]
        assert sorted(months) == list(range(12)) and set(months.values()) == {1}
        by_url = {i.url: i for i in library.items}
        assert missing_topics([by_url[u] for u in items], library) == []
        kinds = Counter(M.kind_of(p) for p in pushes)
        assert kinds["personalised"] >= 1
        for p in pushes:
            assert p["subject"] == {"reference": f"Patient/{rid}"} == p["recipient"][0]
            assert p["basedOn"] == [{"reference": f"CarePlan/cp-{rid}"}]
        if rid == "optout":
            assert {p["status"] for p in pushes} == {"not-done"}
            assert inbox.messages(rid) == [] and rid not in sms_calls
        else:
            assert {p["status"] for p in pushes} == {"completed"}
            assert all(
                p.get("sent") and p.get("received" if rid != "noinbox" else "sent") for p in pushes
            )
    assert inbox.messages("noinbox") == [] and sms_calls.count("noinbox") == 12
    assert {p["medium"][0]["coding"][0]["code"] for p in _pushes(repo, "noinbox")} == {"sms"}

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

    # the compliance report for the whole year, per team, per city
    url = "/fhir/Measure/push-compliance/$evaluate-measure"
    period = {"periodStart": "2026-03-01", "periodEnd": "2027-02-28"}
    report = client.get(url, params=period).json()
    main = report["group"][0]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in main["population"]}
    assert counts == {
        "initial-population": 7,
        "denominator": 7,
        "denominator-exception": 1,
        "numerator": 6,
    }
    assert main["measureScore"]["value"] == 1.0
    lists = {c["id"]: c for c in report["contained"]}
    assert [e["item"]["reference"] for e in lists["exceptions"]["entry"]] == ["Patient/optout"]
    assert "entry" not in lists["shortfall"]
    team = client.get(url, params={**period, "subject": "CareTeam/team-1"}).json()
    assert team["group"][0]["population"][0]["count"] == 7
    city = client.get(url, params={**period, "subject": "440300"}).json()  # 深圳市: heavy + noinbox
    assert city["group"][0]["population"][0]["count"] == 2
    half = client.get(
        url,
        params={"periodStart": "2026-03-01", "periodEnd": "2026-08-31", "subject": "Patient/elder"},
    ).json()
    short = {c["id"]: c for c in half["contained"]}["shortfall"]["entry"][0]
    assert short["item"]["reference"] == "Patient/elder" and "pushes 6/12" in short["flag"]["text"]


def test_alert_fans_out_to_exactly_the_right_residents(
    repo: FhirRepository, client: TestClient, tmp_path: Path
) -> None:
    service, inbox, _ = _service(repo, tmp_path)

    def post(areas: list[str], pops: list[str], text: str) -> httpx.Response:
        params = [{"name": "area", "valueCode": a} for a in areas] + [
            {"name": "population", "valueCode": p} for p in pops
        ]
        params += [
            {
                "name": "topic",
                "valueCoding": {
                    "system": "https://jiayi.health/fhir/CodeSystem/push-topic",
                    "code": "climate-sensitive",
                },
            },
            {"name": "message", "valueString": text},
            {"name": "effective", "valuePeriod": {"start": "2026-07-01", "end": "2026-07-20"}},
        ]
        return client.post(
            "/fhir/Communication/$alert", json={"resourceType": "Parameters", "parameter": params}
        )

    heat = post(["440100"], ["hypertension", "elderly-65"], "高温预警：减少午间外出")
    assert heat.status_code == 201, heat.text
    dengue = post(["440106"], [], "天河区登革热预警：清积水防蚊")
    assert dengue.status_code == 201
    assert post(["4401"], [], "x").status_code == 400
    assert post(["440100"], ["nobody"], "x").status_code in (400, 422)

    service.run(date(2026, 6, 30))  # before the alerts are in force

    def alerts() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for rid in RESIDENTS:
            for p in _pushes(repo, rid):
                if M.kind_of(p) == "alert":
                    out.setdefault(p["payload"][0]["contentString"][:4], set()).add(rid)
                    assert p["priority"] == "urgent"
                    assert {"reference": f"CarePlan/cp-{rid}"} in p["basedOn"]
        return out

    assert alerts() == {}
    service.run(date(2026, 7, 2))
    service.run(date(2026, 7, 3))
    assert alerts() == {"高温预警": {"elder"}, "天河区登": {"adult", "mother", "child", "optout"}}
    assert [m["text"] for m in inbox.messages("elder") if m["kind"] == "alert"] == [
        "高温预警：减少午间外出"
    ]
    assert inbox.messages("optout") == []


def test_interrupted_job_resumes_without_duplicates(repo: FhirRepository, tmp_path: Path) -> None:
    service, _, _ = _service(repo, tmp_path, page_size=2)
    on = date(2026, 5, 31)  # three months due
    first = service.run(on, max_pages=2)
    assert not first.finished and first.created == 12
    task = repo.read("Task", "job-pushes-20260531").content
    assert task["status"] == "in-progress"
    second = service.run(on)
    assert second.resumed and second.finished and second.created == 9
    assert repo.read("Task", "job-pushes-20260531").content["status"] == "completed"
    assert service.run(on).created == 0
    for rid in RESIDENTS:
        ids = [p["id"] for p in _pushes(repo, rid)]
        assert len(ids) == len(set(ids)) == 3


def test_preview(repo: FhirRepository, client: TestClient) -> None:
    response = client.get("/fhir/Patient/elder/$push-plan-preview", params={"date": "2026-09-10"})
    assert response.status_code == 200, response.text
    params = response.json()["parameter"]
    pushes = [p for p in params if p["name"] == "push"]
    assert len(pushes) == 12
    assert {p["valueCode"] for p in params if p["name"] == "populations"} == {
        "elderly-65",
        "hypertension",
    }
    assert _pushes(repo, "elder") == []  # nothing written
    assert client.get("/fhir/Patient/nobody/$push-plan-preview").status_code == 404
