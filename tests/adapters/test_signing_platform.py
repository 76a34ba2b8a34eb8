"""Provincial signing platform adapter against its simulator over real HTTP on 127.0.0.1
(issue 9): normal sync; the platform down then back (nothing lost, nothing duplicated); duplicate
answers; a bad payload refused by the simulator and reported clearly; a timeout; signed requests;
a reconcile repairing a drift; inbound import without duplicates.  Both databases."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from adapters.signing_platform import mapping as M
from adapters.signing_platform.adapter import CHINA, SigningPlatformAdapter
from adapters.signing_platform.client import PlatformUnavailable, SigningPlatformClient
from adapters.signing_platform.simulator.app import PlatformState, create_simulator
from fhir_server.app import build_components
from fhir_server.outbox.dispatcher import Backoff, Dispatcher
from fhir_server.outbox.writer import OutboxConsumer, OutboxWriter
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
from tests.outbox.harness import BASE, outbox_database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def platform() -> Iterator[tuple[str, PlatformState]]:
    state = PlatformState(signing_key=b"k3y", timeout_seconds=1.0)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_simulator(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", state
    server.should_exit = True
    thread.join(5)


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def env(database_url: str, platform: tuple[str, PlatformState]) -> Iterator[dict[str, Any]]:
    url, state = platform
    state.records.clear()
    state.received.clear()
    state.mode = "normal"
    writer = OutboxWriter(
        [OutboxConsumer("signing-platform", SigningPlatformAdapter.resource_types)]
    )
    db = outbox_database(database_url, writer)
    settings = Settings(database_url=database_url, auth="off", base_url=BASE)
    repo = FhirRepository(
        RequestContext(BASE, system_name="sync"), build_components(settings, database=db)
    )
    http = httpx.Client(base_url=url, timeout=0.5)
    client = SigningPlatformClient(http, signing_key=b"k3y", retries=1, backoff_seconds=0.01)
    adapter = SigningPlatformAdapter(client)
    clock = Clock()
    dispatcher = Dispatcher(
        db.engine,
        "signing-platform",
        lambda ev: adapter.deliver(repo, ev),
        clock=clock,
        backoff=Backoff(1, 60),
    )
    yield {
        "repo": repo,
        "state": state,
        "adapter": adapter,
        "dispatcher": dispatcher,
        "clock": clock,
        "http": http,
    }
    http.close()
    db.dispose()


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


def test_normal_sync_and_duplicate_answers(env: dict[str, Any]) -> None:
    ids = _world(env["repo"])
    assert len(env["dispatcher"].drain().delivered) == 3
    state = env["state"]
    assert sorted(state.records) == sorted(
        [
            f"contract:Contract/{ids['contract']}",
            f"doctor:PractitionerRole/{ids['role']}",
            f"institution:Organization/{ids['org']}",
        ]
    )
    assert state.records[f"contract:Contract/{ids['contract']}"]["payload"]["status"] == "in-force"
    state.mode = "duplicates"
    env["repo"].update(
        "Organization",
        ids["org"],
        {"resourceType": "Organization", "id": ids["org"], "name": "Renamed"},
    )
    assert len(env["dispatcher"].drain().delivered) == 1
    assert len(state.received) == len(set(state.received)) == 4


def test_platform_down_then_back_nothing_lost_nothing_duplicated(env: dict[str, Any]) -> None:
    state, dispatcher, clock = env["state"], env["dispatcher"], env["clock"]
    state.mode = "fail"
    _world(env["repo"])
    for _ in range(5):
        assert dispatcher.run_once().delivered == []
        clock.at += timedelta(seconds=30)
    state.mode = "normal"
    clock.at += timedelta(seconds=61)
    assert len(dispatcher.drain().delivered) == 3
    assert len(state.received) == len(set(state.received)) == 3


def test_bad_payload_is_refused_and_reported(env: dict[str, Any]) -> None:
    env["repo"].create(
        "Contract", {"resourceType": "Contract", "status": "executed"}
    )  # no resident
    result = env["dispatcher"].drain()
    [reason] = result.rejected.values()
    assert reason.startswith("payload/resident_ids: ") and "non-empty" in reason


def test_timeout_is_transient(env: dict[str, Any]) -> None:
    env["state"].mode = "timeout"
    with pytest.raises(PlatformUnavailable):
        env["adapter"].client.push([M.to_record("Organization", "o", 1, "2026-01-01", {"id": "o"})])
    env["state"].mode = "normal"


def test_bad_signature_is_refused(env: dict[str, Any]) -> None:
    bad = SigningPlatformClient(env["http"], signing_key=b"wrong", retries=0)
    with pytest.raises(ValueError, match="401"):
        bad.push([M.to_record("Organization", "o", 1, "2026-01-01", {"id": "o"})])


def test_reconcile_repairs_drift(env: dict[str, Any]) -> None:
    ids = _world(env["repo"])
    env["dispatcher"].drain()
    state = env["state"]
    del state.records[f"contract:Contract/{ids['contract']}"]  # lost on the platform
    state.records[f"institution:Organization/{ids['org']}"]["checksum"] = "0" * 64  # corrupted
    today = datetime.now(UTC).astimezone(CHINA).date()
    summary = env["adapter"].reconcile(env["repo"], today)
    assert "2 resent (0 refused)" in summary, summary
    again = env["adapter"].reconcile(env["repo"], today)
    assert "0 resent" in again and "3 local, 3 on the platform" in again


def test_inbound_import_without_duplicates(env: dict[str, Any]) -> None:
    state = env["state"]
    state.doctors = [{"doctor_id": "D1", "name": "王医生", "specialties": ["gp"], "active": True}]
    state.contracts = [
        {"contract_id": "C1", "status": "in-force", "resident_ids": ["p7"], "start": "2026-01-01"}
    ]
    assert env["adapter"].import_inbound(env["repo"]) == "2 created"
    assert env["adapter"].import_inbound(env["repo"]) == "2 unchanged"
    found = env["repo"].search(["Contract"], [("identifier", f"{M.PLATFORM_SYSTEM}|C1")]).matches
    assert len(found) == 1 and found[0].content["status"] == "executed"


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
            {"status": "in-force", "resident_ids": ["1"], "start": "2026-01-01"},
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
    ],
)
def test_mapping_table(resource: dict[str, Any], expected: dict[str, Any]) -> None:
    payload = M.PAYLOADS[resource["resourceType"]](resource)
    assert {k: payload[k] for k in expected} == expected
    assert M.checksum(payload) == M.checksum(dict(reversed(list(payload.items()))))


def test_date_helper() -> None:
    from adapters.signing_platform.adapter import day_of

    assert day_of(datetime(2026, 1, 1, 17, 0, tzinfo=UTC)) == "2026-01-02"
    assert isinstance(date.today(), date)
