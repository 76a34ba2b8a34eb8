"""Provincial signing platform adapter against its simulator over real HTTP on 127.0.0.1
(issue 9), through the production outbox path (`build_components` with
`JIAYI_SIGNING_PLATFORM_URL`: the writer records `signing-platform` events in each transaction):
normal sync; the platform down for a while and for an hour (injected clock: back-off, then
nothing lost, nothing duplicated); the server killed between commit and delivery; duplicate
answers; bad payloads refused and reported; 400 / 413 batches split, 401 a permanent consumer
error; signed requests with replay protection; mutual TLS with a local CA; a reconcile that
repairs drift, deletions and records only on the platform; fulfilment summaries from
`$fulfillment`; doctors with their Practitioner, service areas and services, re-sent when those
change; inbound import without duplicates and without echo.  Both databases."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import ssl
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from adapters.signing_platform import mapping as M
from adapters.signing_platform.adapter import CHINA, SigningPlatformAdapter, day_of
from adapters.signing_platform.client import (
    PlatformUnavailable,
    SigningPlatformClient,
    mtls_client,
    sign,
    tls_context,
)
from adapters.signing_platform.simulator.app import SCHEMA_DIR, PlatformState, create_simulator
from fhir_server.app import build_components
from fhir_server.domain.sync.ports import PermanentFailure
from fhir_server.outbox.dispatcher import Backoff, Dispatcher, consumer_states, outbox_status
from fhir_server.outbox.wiring import Integrations
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
from tests.adapters.conftest import Clock, Served, served

BASE = "http://testserver/fhir"
KEY = b"k3y"
SERVICE_ITEM = "https://jiayi.health/fhir/CodeSystem/service-item"
ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
ID_A = "11010519491231002X"  # GB 11643 check digit valid
ID_B = "44010619900307765X"


@pytest.fixture(scope="module")
def platform() -> Iterator[tuple[Served, PlatformState]]:
    state = PlatformState(signing_key=KEY, timeout_seconds=1.0)
    yield from ((s, state) for s in served(create_simulator(state)))


@dataclasses.dataclass
class Env:
    repo: FhirRepository
    state: PlatformState
    adapter: SigningPlatformAdapter
    dispatcher: Dispatcher
    clock: Clock
    http: httpx.Client
    url: str
    settings: Settings
    database_url: str


def _settings(database_url: str, url: str) -> Settings:
    return Settings(
        database_url=database_url,
        auth="off",
        base_url=BASE,
        background_tasks=False,
        signing_platform_url=url,
        signing_platform_key=KEY.decode(),
    )


@pytest.fixture
def env(database_url: str, platform: tuple[Served, PlatformState]) -> Iterator[Env]:
    server, state = platform
    state.records.clear()
    state.received.clear()
    state.doctors.clear()
    state.contracts.clear()
    state.mode = "normal"
    settings = _settings(database_url, server.url())
    components = build_components(settings)  # the writer records signing-platform events
    http = httpx.Client(base_url=server.url(), timeout=0.5)
    client = SigningPlatformClient(http, signing_key=KEY, retries=1, backoff_seconds=0.01)
    adapter = SigningPlatformAdapter(client)
    clock = Clock()
    integrations = Integrations(
        components, settings, signing_platform=adapter, clock=clock, backoff=Backoff(1, 60)
    )
    repo = FhirRepository(RequestContext(BASE, system_name="sync"), integrations.components)
    yield Env(
        repo,
        state,
        adapter,
        integrations.dispatcher("signing-platform", adapter),
        clock,
        http,
        server.url(),
        settings,
        database_url,
    )
    http.close()
    components.database.dispose()


def _world(repo: FhirRepository) -> dict[str, str]:
    org = repo.create(
        "Organization", {"resourceType": "Organization", "name": "Community centre"}
    ).record.id
    role = repo.create(
        "PractitionerRole",
        {
            "resourceType": "PractitionerRole",
            "organization": {"reference": f"Organization/{org}"},
            "specialty": [{"coding": [{"code": "general-practice"}]}],
        },
    ).record.id
    contract = repo.create(
        "Contract",
        {
            "resourceType": "Contract",
            "status": "executed",
            "subject": [{"reference": "Patient/p1"}],
            "authority": [{"reference": f"Organization/{org}"}],
            "signer": [
                {
                    "type": {"code": "doctor"},
                    "party": {"reference": f"PractitionerRole/{role}"},
                    "signature": [
                        {
                            "type": [
                                {
                                    "system": "urn:iso-astm:E1762-95:2013",
                                    "code": "1.2.840.10065.1.12.1.1",
                                }
                            ],
                            "when": "2026-01-01T00:00:00Z",
                            "who": {"reference": f"PractitionerRole/{role}"},
                        }
                    ],
                }
            ],
        },
    ).record.id
    return {"org": org, "role": role, "contract": contract}


def _keys(ids: dict[str, str]) -> list[str]:
    return sorted(
        [
            f"contract:Contract/{ids['contract']}",
            f"doctor:PractitionerRole/{ids['role']}",
            f"institution:Organization/{ids['org']}",
        ]
    )


# -- outbound --------------------------------------------------------------------------------------
def test_normal_sync_and_duplicate_answers(env: Env) -> None:
    ids = _world(env.repo)
    assert len(env.dispatcher.drain().delivered) == 3
    assert sorted(env.state.records) == _keys(ids)
    contract = env.state.records[f"contract:Contract/{ids['contract']}"]["payload"]
    assert contract["status"] == "in-force" and contract["doctor_id"] == ids["role"]
    env.state.mode = "duplicates"
    env.repo.update(
        "Organization",
        ids["org"],
        {"resourceType": "Organization", "id": ids["org"], "name": "Renamed"},
    )
    assert len(env.dispatcher.drain().delivered) == 1
    assert len(env.state.received) == len(set(env.state.received)) == 4


def test_platform_down_then_back_nothing_lost_nothing_duplicated(env: Env) -> None:
    env.state.mode = "fail"
    _world(env.repo)
    for _ in range(5):
        assert env.dispatcher.run_once().delivered == []
        env.clock.at += timedelta(seconds=30)
    env.state.mode = "normal"
    env.clock.at += timedelta(seconds=61)
    assert len(env.dispatcher.drain().delivered) == 3
    assert len(env.state.received) == len(set(env.state.received)) == 3


def test_platform_down_for_an_hour(env: Env) -> None:
    """An hour on the injected clock, a change every minute: the dispatcher backs off (far fewer
    attempts than minutes), then delivers every change once, in order."""
    hourly = Dispatcher(
        env.dispatcher.engine,
        "signing-platform",
        env.dispatcher.handler,
        clock=env.clock,
        backoff=Backoff(1, 600),
    )
    env.state.mode = "fail"
    ids, attempts = [], 0
    for minute in range(60):
        org = {"resourceType": "Organization", "name": f"Centre {minute}"}
        ids.append(env.repo.create("Organization", org).record.id)
        if hourly.run_once().skipped is None:
            attempts += 1
        env.clock.at += timedelta(minutes=1)
    assert env.state.received == [] and attempts < 15
    env.state.mode = "normal"
    env.clock.at += timedelta(minutes=11)
    assert len(hourly.drain().delivered) == 60
    assert env.state.received == [f"institution:Organization/{i}@1" for i in ids]


def test_bad_payload_is_refused_and_reported(env: Env) -> None:
    env.repo.create("Contract", {"resourceType": "Contract", "status": "executed"})  # no resident
    result = env.dispatcher.drain()
    [reason] = result.rejected.values()
    assert "payload/resident_ids: " in reason and "non-empty" in reason
    assert outbox_status(env.dispatcher.engine)["signing-platform"] == {"rejected": 1}


def test_a_batch_refused_whole_is_split_to_the_bad_record(env: Env) -> None:
    env.state.mode = "reject-batch"  # 400 for a batch holding an invalid record
    ids = _world(env.repo)
    bad = env.repo.create("Contract", {"resourceType": "Contract", "status": "executed"})
    result = env.dispatcher.drain()
    assert len(result.delivered) == 3 and sorted(env.state.records) == _keys(ids)
    [reason] = result.rejected.values()
    assert f"Contract/{bad.record.id}" in reason and "refused (400)" in reason


def test_a_batch_too_large_is_split(env: Env) -> None:
    env.state.mode = "too-large"  # 413 above two records a batch
    ids = _world(env.repo)
    env.repo.create("Organization", {"resourceType": "Organization", "name": "Another"})
    env.repo.create("Organization", {"resourceType": "Organization", "name": "And another"})
    assert len(env.dispatcher.drain().delivered) == 5
    assert set(_keys(ids)) < set(env.state.records) and len(env.state.records) == 5


def test_timeout_is_transient(env: Env) -> None:
    env.state.mode = "timeout"
    with pytest.raises(PlatformUnavailable):
        env.adapter.client.push([M.to_record("Organization", "o", 1, "2026-01-01", {"id": "o"})])


def test_bad_credentials_are_a_permanent_consumer_error(env: Env) -> None:
    bad = SigningPlatformClient(env.http, signing_key=b"wrong", retries=0)
    with pytest.raises(PermanentFailure, match="401"):
        bad.push([M.to_record("Organization", "o", 1, "2026-01-01", {"id": "o"})])
    wrong = Dispatcher(
        env.dispatcher.engine,
        "signing-platform",
        lambda events: SigningPlatformAdapter(bad).deliver(env.repo, events),
        clock=env.clock,
        backoff=Backoff(1, 3600),
    )
    env.repo.create("Organization", {"resourceType": "Organization", "name": "x"})
    result = wrong.run_once()
    assert result.error is not None and result.error.startswith("permanent: ")
    assert result.rejected == {}  # no record is blamed …
    state = consumer_states(env.dispatcher.engine)["signing-platform"]
    assert state.retry_at is not None and state.retry_at - env.clock.at >= timedelta(hours=1)
    assert outbox_status(env.dispatcher.engine)["signing-platform"] == {"pending": 1}  # … or lost


def test_signatures_expire_and_cannot_be_replayed(env: Env) -> None:
    body = json.dumps({"records": []}).encode()

    def send(ts: str, nonce: str) -> int:
        headers = {
            "X-Jiayi-Timestamp": ts,
            "X-Jiayi-Nonce": nonce,
            "X-Jiayi-Signature": sign(KEY, ts, nonce, "POST", "/v1/records", body),
        }
        return env.http.post("/v1/records", content=body, headers=headers).status_code

    now, n1, n2, n3 = str(int(time.time())), uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    assert send(now, n1) == 200
    assert send(now, n1) == 401  # the same request again: a replay
    assert send(str(int(time.time()) - 3600), n2) == 401  # an hour old
    assert send(now, n3) == 200


def test_reconcile_repairs_drift(env: Env) -> None:
    ids = _world(env.repo)
    gone = env.repo.create("Organization", {"resourceType": "Organization", "name": "Closed"})
    env.dispatcher.drain()
    state = env.state
    today = datetime.now(UTC).astimezone(CHINA).date()
    env.repo.delete("Organization", gone.record.id)  # a deletion the platform never heard of
    del state.records[f"contract:Contract/{ids['contract']}"]  # lost on the platform
    state.records[f"institution:Organization/{ids['org']}"]["checksum"] = "0" * 64  # corrupted
    phantom = {**M.to_record("Organization", "ghost", 3, today.isoformat(), {"id": "ghost"})}
    state.records[phantom["record_key"]] = phantom  # on the platform only, unknown here
    summary = env.adapter.reconcile(env.repo, today)
    assert "4 local" in summary and "3 resent" in summary, summary
    assert "1 only on the platform (1 repaired)" in summary, summary
    ghost = state.records["institution:Organization/ghost"]
    assert ghost["deleted"] is True and ghost["version"] == 4
    closed = state.records[f"institution:Organization/{gone.record.id}"]
    assert closed["deleted"] is True and closed["version"] == 2
    again = env.adapter.reconcile(env.repo, today)
    assert "0 resent" in again and "0 only on the platform" in again, again


def test_reconcile_resends_a_newer_version_the_platform_missed(env: Env) -> None:
    org = env.repo.create("Organization", {"resourceType": "Organization", "name": "A"}).record
    env.dispatcher.drain()
    key = f"institution:Organization/{org.id}"
    first = dict(env.state.records[key])
    env.repo.update(
        "Organization", org.id, {"resourceType": "Organization", "id": org.id, "name": "B"}
    )
    env.dispatcher.drain()
    yesterday = (datetime.now(UTC).astimezone(CHINA) - timedelta(days=1)).date()
    env.state.records[key] = {**first, "day": yesterday.isoformat()}  # it lost version 2
    summary = env.adapter.reconcile(env.repo, yesterday)
    assert "1 only on the platform (1 repaired)" in summary, summary
    held = env.state.records[key]
    assert held["version"] == 2 and held["payload"]["name"] == "B"
    assert held["day"] == day_of(datetime.now(UTC))


# -- what the records carry ------------------------------------------------------------------------
def _geo() -> str:
    polygon = {"type": "Polygon", "coordinates": [[[113.2, 23.1], [113.3, 23.1], [113.3, 23.2]]]}
    return base64.b64encode(json.dumps(polygon).encode()).decode()


def test_doctor_records_carry_practitioner_areas_services_and_are_resent(env: Env) -> None:
    repo = env.repo
    prac = repo.create(
        "Practitioner",
        {"resourceType": "Practitioner", "name": [{"family": "王", "given": ["芳"]}]},
    ).record.id
    area = repo.create(
        "Location",
        {
            "resourceType": "Location",
            "name": "东山片区",
            "extension": [
                {
                    "url": M.BOUNDARY,
                    "valueAttachment": {"contentType": "application/geo+json", "data": _geo()},
                }
            ],
        },
    ).record.id
    service = repo.create(
        "HealthcareService", {"resourceType": "HealthcareService", "name": "家庭医生门诊"}
    ).record.id
    hospital = repo.create("Organization", {"resourceType": "Organization", "name": "市一医院"})
    role = repo.create(
        "PractitionerRole",
        {
            "resourceType": "PractitionerRole",
            "practitioner": {"reference": f"Practitioner/{prac}"},
            "location": [{"reference": f"Location/{area}"}],
            "healthcareService": [{"reference": f"HealthcareService/{service}"}],
            "availableTime": [
                {
                    "daysOfWeek": ["mon", "wed"],
                    "availableStartTime": "08:00:00",
                    "availableEndTime": "12:00:00",
                }
            ],
            "extension": [
                {
                    "url": M.SD + "sinking-from",
                    "valueReference": {"reference": f"Organization/{hospital.record.id}"},
                }
            ],
        },
    ).record.id
    env.dispatcher.drain()
    doctor = env.state.records[f"doctor:PractitionerRole/{role}"]["payload"]
    assert doctor["name"] == "王芳" and doctor["practitioner_id"] == prac
    assert doctor["service_areas"] == [area] and doctor["hours"] == ["mon,wed 08:00:00-12:00:00"]
    [detail] = doctor["service_area_details"]
    assert detail["name"] == "东山片区" and detail["boundary"]["type"] == "Polygon"
    assert doctor["services"] == [{"service_id": service, "name": "家庭医生门诊"}]
    assert doctor["sinking_from"] == hospital.record.id
    # The Practitioner is renamed: the doctor record follows.
    repo.update(
        "Practitioner",
        prac,
        {"resourceType": "Practitioner", "id": prac, "name": [{"text": "王芳芳"}]},
    )
    env.dispatcher.drain()
    assert env.state.records[f"doctor:PractitionerRole/{role}"]["payload"]["name"] == "王芳芳"
    repo.update(
        "HealthcareService",
        service,
        {"resourceType": "HealthcareService", "id": service, "name": "签约门诊"},
    )
    env.dispatcher.drain()
    services = env.state.records[f"doctor:PractitionerRole/{role}"]["payload"]["services"]
    assert services == [{"service_id": service, "name": "签约门诊"}]


def test_contract_records_carry_channel_and_id_numbers(env: Env) -> None:
    env.repo.update(
        "Patient",
        "p1",
        {
            "resourceType": "Patient",
            "id": "p1",
            "identifier": [{"system": ID_NUMBER, "value": ID_A}],
        },
    )
    contract = env.repo.create(
        "Contract",
        {
            "resourceType": "Contract",
            "status": "executed",
            "subject": [{"reference": "Patient/p1"}],
            "extension": [
                {
                    "url": M.SD + "signing-channel",
                    "valueCoding": {
                        "system": "https://jiayi.health/fhir/CodeSystem/signing-channel",
                        "code": "home-visit",
                    },
                }
            ],
        },
    ).record.id
    env.dispatcher.drain()
    payload = env.state.records[f"contract:Contract/{contract}"]["payload"]
    assert payload["channel"] == "home-visit" and payload["resident_id_numbers"] == [ID_A]


def _plan(contract: str, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "supportingInfo": [{"reference": f"Contract/{contract}"}],
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "code": {
                        "coding": [
                            {"system": SERVICE_ITEM, "code": "basic-public-health.health-record"}
                        ],
                        "text": "健康档案",
                    },
                    "scheduledTiming": {"event": ["2026-01-15", "2026-02-15"]},
                }
            }
        ],
    }


def test_fulfilment_summaries_follow_deliveries(env: Env) -> None:
    repo = env.repo
    contract = repo.create(
        "Contract",
        {
            "resourceType": "Contract",
            "status": "executed",
            "subject": [{"reference": "Patient/p1"}],
            "applies": {"start": "2026-01-01", "end": "2026-12-31"},
        },
    ).record.id
    plan = repo.create("CarePlan", _plan(contract, "p1")).record.id
    env.dispatcher.drain()
    repo.create(
        "Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"},
            "basedOn": [{"reference": f"CarePlan/{plan}"}],
            "type": [
                {"coding": [{"system": SERVICE_ITEM, "code": "basic-public-health.health-record"}]}
            ],
            "period": {"start": "2026-01-20T09:00:00+08:00"},
        },
    )
    result = env.dispatcher.drain()
    assert result.rejected == {}, result.rejected
    day = day_of(datetime.now(UTC))
    record = env.state.records[M.fulfilment_key(contract, day)]
    # The payload is what $fulfillment answers for that contract and day.
    from fhir_server.domain.fulfilment import rules, service

    tallies = service.contract_tallies(
        repo, repo.read("Contract", contract).content or {}, date.fromisoformat(day)
    )
    payload = record["payload"]
    assert payload["rate"] == round(rules.rate(tallies), 4) and payload["day"] == day
    assert [(a["code"], a["due"], a["done"]) for a in payload["activities"]] == [
        (t.code, t.due, t.done) for t in tallies
    ]
    assert payload["activities"][0]["done"] == 1


def test_payload_schemas_accept_what_the_mapping_makes() -> None:
    validators = {
        p.stem: Draft202012Validator(json.loads(p.read_text("utf-8")))
        for p in SCHEMA_DIR.glob("*.json")
    }
    payload = M.fulfilment_payload(
        "c1",
        "2026-03-01",
        0.5,
        [{"code": "x", "title": "t", "due": 2, "done": 1, "overdue": 1, "declined": 0}],
    )
    assert list(validators["fulfilment"].iter_errors(payload)) == []
    record = M.envelope(
        M.FULFILMENT, M.fulfilment_key("c1", "2026-03-01"), 1, "2026-03-01", payload
    )
    assert list(validators["record"].iter_errors(record)) == []
    doctor = M.doctor_payload(
        {"id": "r", "location": [{"reference": "Location/l"}]},
        {"name": [{"text": "张三"}]},
        [{"id": "l", "name": "片区"}],
    )
    assert list(validators["doctor"].iter_errors(doctor)) == []


# -- inbound -----------------------------------------------------------------------------------------
def test_inbound_import_without_duplicates_or_echo(env: Env) -> None:
    today = day_of(datetime.now(UTC))
    env.repo.update(
        "Patient",
        "known",
        {
            "resourceType": "Patient",
            "id": "known",
            "identifier": [{"system": ID_NUMBER, "value": ID_A}],
        },
    )
    env.dispatcher.drain()
    held = len(env.state.records)
    env.state.add_native(
        [
            {
                "doctor_id": "D1",
                "name": "王医生",
                "institution_id": "chc-1",
                "specialties": ["gp"],
                "service_areas": ["area-9"],
                "hours": ["mon,tue 08:00:00-12:00:00"],
                "active": True,
            }
        ],
        [
            {
                "contract_id": "C1",
                "status": "in-force",
                "resident_ids": ["R-1", "R-2"],
                "resident_id_numbers": [ID_A, ID_B],
                "resident_names": ["陈一", "林二"],
                "doctor_id": "D1",
                "start": "2026-01-01",
                "end": "2026-12-31",
                "channel": "online",
            }
        ],
        today,
    )
    native = len(env.state.records)
    assert env.adapter.import_inbound(env.repo) == "2 created"
    env.dispatcher.drain()
    assert len(env.state.records) == native == held + 2  # nothing echoed back, nothing new
    assert env.state.received == []
    assert env.adapter.import_inbound(env.repo) == "2 unchanged"

    [role] = env.repo.search(
        ["PractitionerRole"], [("identifier", f"{M.PLATFORM_SYSTEM}|D1")]
    ).matches
    assert role.content["location"] == [{"reference": "Location/area-9"}]
    assert role.content["availableTime"] == [
        {
            "daysOfWeek": ["mon", "tue"],
            "availableStartTime": "08:00:00",
            "availableEndTime": "12:00:00",
        }
    ]
    [contract] = env.repo.search(["Contract"], [("identifier", f"{M.PLATFORM_SYSTEM}|C1")]).matches
    subjects = [s["reference"] for s in contract.content["subject"]]
    assert subjects[0] == "Patient/known"  # found by the ID number, not Patient/R-1
    new = env.repo.read("Patient", subjects[1].split("/")[1]).content or {}
    assert new["identifier"] == [{"system": ID_NUMBER, "value": ID_B}]
    assert contract.content["signer"][0]["party"] == {"reference": f"PractitionerRole/{role.id}"}

    # A local change of an imported doctor is sent, under the platform's key (no duplicate).
    env.repo.update("PractitionerRole", role.id, {**role.content, "active": False})
    env.dispatcher.drain()
    assert len(env.state.records) == native
    assert env.state.received == ["doctor:platform/D1@2"]
    assert env.state.records["doctor:platform/D1"]["payload"]["active"] is False


# -- transport ---------------------------------------------------------------------------------------
_CHILD = """
import os, sys
sys.path.insert(0, {root!r})
from fhir_server.app import build_components
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
settings = Settings(database_url={url!r}, auth="off", base_url={base!r}, background_tasks=False,
                    signing_platform_url={platform!r})
repo = FhirRepository(RequestContext({base!r}, system_name="child"), build_components(settings))
repo.update("Organization", "killed", {{"resourceType": "Organization", "id": "killed", "name": "k"}})
os._exit(9)  # killed right after commit, before any delivery
"""


def test_killed_between_commit_and_delivery_still_delivered_once(env: Env, tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    script = textwrap.dedent(
        _CHILD.format(root=root, url=env.database_url, base=BASE, platform=env.url)
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 9
    assert len(env.dispatcher.drain().delivered) == 1
    assert env.dispatcher.drain().delivered == []
    assert env.state.received == ["institution:Organization/killed@1"]


def _certificates(folder: Path) -> dict[str, str]:
    """A local CA, a server certificate for 127.0.0.1 and a client certificate (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Jiayi test CA"))
        .issuer_name(name("Jiayi test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    out = {}

    def leaf(cn: str, usage: Any, san: Any | None) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        (folder / f"{cn}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{cn}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[cn] = str(folder / f"{cn}.pem")
        out[f"{cn}-key"] = str(folder / f"{cn}.key")

    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out["ca"] = str(folder / "ca.pem")
    leaf(
        "server",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    leaf("client", ExtendedKeyUsageOID.CLIENT_AUTH, None)
    return out


def test_mutual_tls_with_a_local_ca(tmp_path: Path) -> None:
    certs = _certificates(tmp_path)
    state = PlatformState()
    tls = {
        "ssl_certfile": certs["server"],
        "ssl_keyfile": certs["server-key"],
        "ssl_ca_certs": certs["ca"],
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
    }
    for server in served(create_simulator(state), **tls):
        record = M.to_record("Organization", "o", 1, "2026-01-01", {"id": "o"})
        with mtls_client(
            server.url("https"), (certs["client"], certs["client-key"]), certs["ca"]
        ) as http:
            result = SigningPlatformClient(http, retries=0).push([record])
        assert result.accepted == ["institution:Organization/o"]
        anonymous = httpx.Client(
            base_url=server.url("https"), verify=tls_context(None, certs["ca"]), timeout=2
        )
        with anonymous, pytest.raises(PlatformUnavailable):  # no client certificate: refused
            SigningPlatformClient(anonymous, retries=0).push([record])
        # The settings path builds the same client (JIAYI_SIGNING_PLATFORM_CERT/_CERT_KEY/_CA).
        from fhir_server.outbox.wiring import signing_platform_http

        settings = Settings(
            signing_platform_url=server.url("https"),
            signing_platform_cert=certs["client"],
            signing_platform_cert_key=certs["client-key"],
            signing_platform_ca=certs["ca"],
        )
        with signing_platform_http(settings) as http:
            assert SigningPlatformClient(http, retries=0).records("2026-01-01") == {
                "institution:Organization/o": {"checksum": record["checksum"], "version": 1}
            }


# -- pure mapping ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            {
                "resourceType": "Contract",
                "id": "c",
                "status": "executed",
                "subject": [{"reference": "Patient/1"}],
                "applies": {"start": "2026-01-01T00:00:00+08:00"},
            },
            {"status": "in-force", "resident_ids": ["1"], "start": "2026-01-01", "channel": None},
        ),
        (
            {"resourceType": "Contract", "id": "c", "status": "terminated", "subject": []},
            {"status": "terminated", "resident_ids": []},
        ),
        (
            {"resourceType": "Organization", "id": "o", "active": False},
            {"active": False, "institution_id": "o"},
        ),
        (
            {
                "resourceType": "CareTeam",
                "id": "t",
                "participant": [{"member": {"reference": "PractitionerRole/r"}}],
            },
            {"members": ["r"], "active": True},
        ),
        (
            {
                "resourceType": "PractitionerRole",
                "id": "r",
                "practitioner": {"display": "李医生"},
                "identifier": [{"system": M.PLATFORM_SYSTEM, "value": "D7"}],
            },
            {"doctor_id": "D7", "name": "李医生", "service_areas": []},
        ),
    ],
)
def test_mapping_table(resource: dict[str, Any], expected: dict[str, Any]) -> None:
    payload = M.PAYLOADS[resource["resourceType"]](resource)
    assert {k: payload[k] for k in expected} == expected
    assert M.checksum(payload) == M.checksum(dict(reversed(list(payload.items()))))


@pytest.mark.parametrize(
    ("rtype", "resource", "key"),
    [
        ("Contract", {"id": "c"}, "contract:Contract/c"),
        (
            "Contract",
            {"id": "c", "identifier": [{"system": M.PLATFORM_SYSTEM, "value": "C9"}]},
            "contract:platform/C9",
        ),
        ("PractitionerRole", {"id": "r"}, "doctor:PractitionerRole/r"),
    ],
)
def test_record_keys(rtype: str, resource: dict[str, Any], key: str) -> None:
    assert M.record_key(rtype, resource["id"], resource) == key


@pytest.mark.parametrize(
    ("text", "fhir"),
    [
        (
            "mon,tue 08:00:00-12:00:00",
            {
                "daysOfWeek": ["mon", "tue"],
                "availableStartTime": "08:00:00",
                "availableEndTime": "12:00:00",
            },
        ),
        (
            "sat 14:00-17:30",
            {
                "daysOfWeek": ["sat"],
                "availableStartTime": "14:00:00",
                "availableEndTime": "17:30:00",
            },
        ),
        ("holidays", None),
    ],
)
def test_hours_round_trip(text: str, fhir: dict[str, Any] | None) -> None:
    assert M.hours_to_fhir(text) == fhir


def test_echo_is_recognised_until_changed() -> None:
    body = {"resourceType": "PractitionerRole", "id": "r", "active": True}
    imported = {**body, "meta": {"source": M.imported_source(body), "versionId": "1"}}
    assert M.is_echo(imported)
    assert not M.is_echo({**imported, "active": False})
    assert not M.is_echo(body)


def test_date_helper() -> None:
    assert day_of(datetime(2026, 1, 1, 17, 0, tzinfo=UTC)) == "2026-01-02"
