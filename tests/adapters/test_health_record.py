"""Health-record store adapter against the reference store (a minimal FHIR endpoint served over
real HTTP on 127.0.0.1), through the production outbox path (`build_components` with
`JIAYI_HEALTH_RECORD_URL`): normal sync (a valid document Bundle with an IPS-style Composition
plus the changed resources, each version observed once); the store down then back; the server
killed between commit and delivery; a Consent denying disclosure withdraws the resident (and
lifting it publishes the whole record again), a type-level denial keeps that type out; a refusal
by the store reported, credentials refused as a permanent error.  `Patient/$everything` and
`Patient/$summary`: paging, `_since`, `_type`, and only for the resident's own patient-scoped
token.  Both databases."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.health_record.adapter import HealthRecordAdapter
from adapters.health_record.client import FhirStoreClient, summary_id
from adapters.health_record.simulator.app import StoreState, create_store
from fhir_server.app import build_components, create_app
from fhir_server.outbox.dispatcher import Backoff, Dispatcher, outbox_status
from fhir_server.outbox.wiring import Integrations
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
from tests.adapters.conftest import Clock, Served, served
from tests.support.access_world import World, make_world

BASE = "http://testserver/fhir"
STORE_ORG = "health-record-store"
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}
OPTIN = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]
}
DISCLOSE = [
    {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "disclose"}
        ]
    }
]


@pytest.fixture(scope="module")
def store() -> Iterator[tuple[Served, StoreState]]:
    state = StoreState()
    yield from ((s, state) for s in served(create_store(state)))


@dataclasses.dataclass
class Env:
    repo: FhirRepository
    state: StoreState
    dispatcher: Dispatcher
    clock: Clock
    url: str
    database_url: str
    components: Any


def _settings(database_url: str, url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        auth="off",
        base_url=BASE,
        background_tasks=False,
        health_record_url=url,
        health_record_organization=STORE_ORG,
        **extra,
    )


@pytest.fixture
def env(database_url: str, store: tuple[Served, StoreState]) -> Iterator[Env]:
    server, state = store
    state.resources.clear()
    state.deleted.clear()
    state.received.clear()
    state.documents.clear()
    state.repeats = 0
    state.mode = "normal"
    url = server.url() + "/fhir"
    settings = _settings(database_url, url)
    components = build_components(settings)  # the writer records health-record events
    http = httpx.Client(base_url=url, timeout=2.0)
    adapter = HealthRecordAdapter(FhirStoreClient(http), organization=STORE_ORG)
    clock = Clock()
    integrations = Integrations(
        components, settings, health_record=adapter, clock=clock, backoff=Backoff(1, 60)
    )
    repo = FhirRepository(RequestContext(BASE, system_name="test"), integrations.components)
    yield Env(
        repo,
        state,
        integrations.dispatcher("health-record", adapter),
        clock,
        url,
        database_url,
        integrations.components,
    )
    http.close()
    components.database.dispose()


def _obs(patient: str, code: str, category: str = "vital-signs", value: float = 120) -> Any:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": code},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2026-03-01T08:00:00+08:00",
        "valueQuantity": {"value": value, "unit": "mmHg"},
    }


def _resident(repo: FhirRepository, pid: str) -> dict[str, str]:
    repo.update("Patient", pid, {"resourceType": "Patient", "id": pid, "name": [{"text": pid}]})
    condition = repo.create(
        "Condition",
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
        },
    ).record.id
    vital = repo.create("Observation", _obs(pid, "8480-6")).record.id
    lab = repo.create("Observation", _obs(pid, "2345-7", "laboratory", 5.4)).record.id
    return {"condition": condition, "vital": vital, "lab": lab}


def _consent(pid: str, provision: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": f"consent-{pid}",
        "status": status,
        "scope": CONSENT_SCOPE,
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{pid}"},
        "policyRule": OPTIN,
        "provision": provision,
    }


def _deny_store(classes: tuple[str, ...] = ()) -> dict[str, Any]:
    deny: dict[str, Any] = {
        "type": "deny",
        "action": DISCLOSE,
        "actor": [
            {
                "role": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "IRCP",
                        }
                    ]
                },
                "reference": {"reference": f"Organization/{STORE_ORG}"},
            }
        ],
    }
    if classes:
        deny["class"] = [
            {"system": "http://hl7.org/fhir/resource-types", "code": c} for c in classes
        ]
    return {"type": "permit", "provision": [deny]}


def _sections(document: dict[str, Any]) -> dict[str, list[str]]:
    composition = document["entry"][0]["resource"]
    return {
        s["code"]["coding"][0]["code"]: [e["reference"] for e in s.get("entry", [])]
        for s in composition["section"]
    }


def test_normal_sync_publishes_a_valid_document_and_each_version_once(env: Env) -> None:
    ids = _resident(env.repo, "p1")
    result = env.dispatcher.drain()
    assert len(result.delivered) == 4 and result.rejected == {}
    document = env.state.resources[f"Bundle/{summary_id('p1')}"]
    assert document["type"] == "document"
    assert [i for i in env.components.validator.validate(document) if i.is_error] == []
    sections = _sections(document)
    assert sections["11450-4"] == [f"Condition/{ids['condition']}"]  # problems
    assert sections["8716-3"] == [f"Observation/{ids['vital']}"]  # vital signs
    assert sections["30954-2"] == [f"Observation/{ids['lab']}"]  # results
    assert sections["10160-0"] == []  # medications: none (emptyReason + text)
    assert sorted(env.state.received) == sorted(
        ["Patient/p1@1", f"Condition/{ids['condition']}@1"]
        + [f"Observation/{ids[k]}@1" for k in ("vital", "lab")]
    )
    # A change sends that version (and a fresh summary), nothing else again.
    obs = env.repo.read("Observation", ids["vital"]).content or {}
    env.repo.update(
        "Observation", ids["vital"], {**obs, "valueQuantity": {"value": 135, "unit": "mmHg"}}
    )
    env.dispatcher.drain()
    assert env.state.received[-1] == f"Observation/{ids['vital']}@2"
    assert len(env.state.received) == 5 and env.state.repeats == 0
    assert env.state.documents["Patient/p1"] == 2
    env.repo.delete("Observation", ids["lab"])
    env.dispatcher.drain()
    assert f"Observation/{ids['lab']}" in env.state.deleted
    assert _sections(env.state.resources[f"Bundle/{summary_id('p1')}"])["30954-2"] == []


def test_store_down_then_back_nothing_lost_nothing_duplicated(env: Env) -> None:
    env.state.mode = "fail"
    ids = _resident(env.repo, "p1")
    _resident(env.repo, "p2")
    for _ in range(5):
        assert env.dispatcher.run_once().delivered == []
        env.clock.at += timedelta(seconds=30)
    assert env.state.received == []
    env.state.mode = "normal"
    env.clock.at += timedelta(seconds=61)
    assert len(env.dispatcher.drain().delivered) == 8
    assert len(env.state.received) == len(set(env.state.received)) == 8
    assert env.state.repeats == 0 and f"Observation/{ids['vital']}@1" in env.state.received
    assert outbox_status(env.dispatcher.engine)["health-record"] == {"delivered": 8}


def test_refusal_is_reported_and_credentials_are_permanent(env: Env) -> None:
    env.state.mode = "refuse"
    env.repo.update("Patient", "p1", {"resourceType": "Patient", "id": "p1"})
    result = env.dispatcher.drain()
    [reason] = result.rejected.values()
    assert reason.startswith("Patient/p1: HTTP 422") and "refuses this record" in reason
    env.state.mode = "unauthorized"
    env.repo.update("Patient", "p2", {"resourceType": "Patient", "id": "p2"})
    result = env.dispatcher.drain()
    assert result.error is not None and result.error.startswith("permanent: ")
    assert outbox_status(env.dispatcher.engine)["health-record"] == {"rejected": 1, "pending": 1}


def test_consent_withdrawn_then_restored(env: Env) -> None:
    ids = _resident(env.repo, "p1")
    _resident(env.repo, "p2")
    env.dispatcher.drain()
    assert env.state.of_patient("p1")
    env.repo.update("Consent", "consent-p1", _consent("p1", _deny_store()))
    env.dispatcher.drain()
    assert env.state.of_patient("p1") == []  # withdrawn: summary and resources gone
    assert f"Bundle/{summary_id('p1')}" in env.state.deleted
    assert env.state.of_patient("p2")  # the other resident is untouched
    received = len(env.state.received)
    env.repo.create("Observation", _obs("p1", "8462-4"))  # a change while withdrawn
    env.dispatcher.drain()
    assert len(env.state.received) == received and env.state.of_patient("p1") == []
    # The resident lifts the denial: the whole record is published again.
    env.repo.update("Consent", "consent-p1", _consent("p1", _deny_store(), status="inactive"))
    env.dispatcher.drain()
    held = env.state.of_patient("p1")
    assert f"Condition/{ids['condition']}" in held and f"Observation/{ids['vital']}" in held
    assert len([r for r in held if r.startswith("Observation/")]) == 3


def test_consent_denying_a_type_keeps_it_out(env: Env) -> None:
    ids = _resident(env.repo, "p1")
    env.dispatcher.drain()
    env.repo.update("Consent", "consent-p1", _consent("p1", _deny_store(("Observation",))))
    env.dispatcher.drain()
    held = env.state.of_patient("p1")
    assert f"Condition/{ids['condition']}" in held
    assert not [r for r in held if r.startswith("Observation/")]
    document = env.state.resources[f"Bundle/{summary_id('p1')}"]
    assert _sections(document)["8716-3"] == []


_CHILD = """
import os, sys
sys.path.insert(0, {root!r})
from fhir_server.app import build_components
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
settings = Settings(database_url={url!r}, auth="off", base_url={base!r}, background_tasks=False,
                    health_record_url={store!r})
repo = FhirRepository(RequestContext({base!r}, system_name="child"), build_components(settings))
repo.update("Patient", "k1", {{"resourceType": "Patient", "id": "k1"}})
os._exit(9)  # killed right after commit, before any delivery
"""


def test_killed_between_commit_and_delivery_still_delivered_once(env: Env, tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    script = textwrap.dedent(
        _CHILD.format(root=root, url=env.database_url, base=BASE, store=env.url)
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 9
    assert len(env.dispatcher.drain().delivered) == 1
    assert env.dispatcher.drain().delivered == []
    assert env.state.received == ["Patient/k1@1"] and env.state.documents["Patient/k1"] == 1


def test_publish_all_job(env: Env) -> None:
    from fhir_server.jobs.runner import run_job

    # Residents written before the store was configured are published by the job.
    settings = Settings(database_url=env.database_url, auth="off", base_url=BASE)
    components = build_components(settings)  # no health-record consumer: nothing recorded
    plain = FhirRepository(RequestContext(BASE, system_name="before"), components)
    _resident(plain, "old")
    components.database.dispose()
    assert env.dispatcher.drain().delivered == []
    with_store = build_components(_settings(env.database_url, env.url))
    try:
        from datetime import date

        summary = run_job(
            _settings(env.database_url, env.url), with_store, "health-record-publish", date.today()
        )
    finally:
        with_store.database.dispose()
    assert summary == "1 published"
    assert len([r for r in env.state.of_patient("old") if not r.startswith("Bundle/")]) == 4


# -- $everything and $summary ------------------------------------------------------------------------
@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url, auth="off", base_url=BASE, background_tasks=False
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_everything_pages_since_and_type(api: TestClient) -> None:
    repo = FhirRepository(
        RequestContext(BASE, system_name="t"),
        api.app.state.components,  # type: ignore[attr-defined]
    )
    _resident(repo, "p1")
    _resident(repo, "p2")
    org = repo.create("Organization", {"resourceType": "Organization", "name": "CHC"}).record.id
    enc = repo.create(
        "Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"},
            "serviceProvider": {"reference": f"Organization/{org}"},
        },
    ).record
    ids: list[str] = []
    url: str | None = "/fhir/Patient/p1/$everything?_count=2"
    pages = 0
    while url:
        r = api.get(url)
        assert r.status_code == 200, r.text
        bundle = r.json()
        matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
        assert len(matches) <= 2
        ids += [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in matches]
        includes = [
            e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"
        ]
        if any(e["resource"]["resourceType"] == "Encounter" for e in matches):
            assert includes == [org]  # the supporting Organization comes along
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0].removeprefix("http://testserver") if nxt else None
        pages += 1
    assert pages == 3 and ids[0] == "Patient/p1" and len(ids) == len(set(ids)) == 5
    assert all("p2" not in i for i in ids)
    r = api.get("/fhir/Patient/p1/$everything?_type=Observation")
    assert {e["resource"]["resourceType"] for e in r.json()["entry"]} == {"Observation"}
    since = enc.content["meta"]["lastUpdated"] if enc.content else ""
    later = repo.create("Observation", _obs("p1", "8867-4")).record.id
    r = api.get("/fhir/Patient/p1/$everything", params={"_since": since})
    assert [e["resource"]["id"] for e in r.json()["entry"] if e["search"]["mode"] == "match"] == [
        later
    ]
    bad = api.get("/fhir/Patient/p1/$everything?_type=Practitioner")
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["_type"]


def test_summary_document(api: TestClient) -> None:
    components = api.app.state.components  # type: ignore[attr-defined]
    repo = FhirRepository(RequestContext(BASE, system_name="t"), components)
    ids = _resident(repo, "p1")
    r = api.get("/fhir/Patient/p1/$summary")
    assert r.status_code == 200, r.text
    document = r.json()
    assert [i for i in components.validator.validate(document) if i.is_error] == []
    assert document["entry"][0]["resource"]["resourceType"] == "Composition"
    assert _sections(document)["11450-4"] == [f"Condition/{ids['condition']}"]
    held = {e["fullUrl"] for e in document["entry"][1:]}
    assert f"{BASE}/Patient/p1" in held and f"{BASE}/Observation/{ids['lab']}" in held


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


@pytest.mark.parametrize("operation", ["$everything", "$summary"])
def test_only_the_residents_own_patient_scoped_token(world: World, operation: str) -> None:
    get = world.client.get
    own = get(f"/fhir/Patient/a/{operation}", headers=world.resident("patient/*.rs"))
    assert own.status_code == 200, own.text
    held = {e["resource"]["id"] for e in own.json()["entry"]}
    assert "a" in held and "oa" in held  # `oa` names b as performer: in a's compartment too
    assert not held & {"b", "ob", "ob2", "ob3", "secret", "eb"}  # nothing else of b
    other = get(f"/fhir/Patient/b/{operation}", headers=world.resident("patient/*.rs"))
    assert other.status_code == 404
    doctor = get(f"/fhir/Patient/a/{operation}", headers=world.doctor())
    assert doctor.status_code == 403 and doctor.json()["issue"][0]["code"] == "forbidden"
    assert get(f"/fhir/Patient/a/{operation}").status_code == 401
    admin = get(f"/fhir/Patient/b/{operation}", headers=world.admin())
    assert admin.status_code == 403 and admin.json()["issue"][0]["code"] == "forbidden"
    system = world.headers("system/*.rs", kind="system", client_id="records-service")
    assert get(f"/fhir/Patient/b/{operation}", headers=system).status_code == 403
