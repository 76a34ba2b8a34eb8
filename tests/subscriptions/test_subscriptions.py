"""Subscriptions R5 Backport (issue 9): topics matched in the writing transaction, handshake,
event-notification (id-only and full-resource) numbered per subscription, filters, a receiver down
then back (nothing lost, nothing duplicated, in order), heartbeat, `$status`, `$events`
missed-event recovery.  Receivers are `httpx.MockTransport`s.  Both databases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.outbox.dispatcher import Backoff
from fhir_server.outbox.writer import OutboxConsumer, OutboxWriter
from fhir_server.settings import Settings
from fhir_server.subscriptions.manager import FANOUT_CONSUMER, SubscriptionManager
from fhir_server.subscriptions.topics import TopicCatalog
from tests.outbox.harness import BASE, outbox_database

BP = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SIGNED = "https://jiayi.health/fhir/SubscriptionTopic/contract-signed"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class Hook:
    def __init__(self) -> None:
        self.up = True
        self.received: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            return httpx.Response(503)
        assert request.headers["content-type"] == "application/fhir+json"
        assert request.headers["authorization"] == "Bearer secret"
        self.received.append(orjson.loads(request.content))
        return httpx.Response(200)

    def status(self, i: int) -> dict[str, Any]:
        params = self.received[i]["entry"][0]["resource"]["parameter"]
        return {p["name"]: p for p in params}

    def numbers(self) -> list[int]:
        out = []
        for b in self.received:
            for p in b["entry"][0]["resource"]["parameter"]:
                if p["name"] == "notification-event":
                    out += [int(x["valueString"]) for x in p["part"] if x["name"] == "event-number"]
        return out


@pytest.fixture
def env(database_url: str) -> Iterator[tuple[TestClient, SubscriptionManager, Hook, Clock]]:
    writer = OutboxWriter([OutboxConsumer(FANOUT_CONSUMER, needs_topic=True)], TopicCatalog.load())
    db = outbox_database(database_url, writer)
    settings = Settings(database_url=database_url, auth="off", base_url=BASE)
    clock = Clock()
    components = dataclasses.replace(build_components(settings, database=db), clock=clock)
    hook = Hook()
    http = httpx.Client(transport=httpx.MockTransport(hook))
    manager = SubscriptionManager(components, BASE, http, backoff=Backoff(1, 60))
    with TestClient(create_app(settings, components=components)) as client:
        yield client, manager, hook, clock
    db.dispose()


def _subscription(content: str, patient: str | None = None) -> dict[str, Any]:
    criteria: dict[str, Any] = {}
    if patient:
        criteria = {
            "extension": [
                {
                    "url": BP + "backport-filter-criteria",
                    "valueString": f"Contract?patient=Patient/{patient}",
                }
            ]
        }
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "provincial oversight",
        "criteria": SIGNED,
        **({"_criteria": criteria} if criteria else {}),
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://receiver.test/hook",
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [{"url": BP + "backport-payload-content", "valueCode": content}]
            },
            "header": ["Authorization: Bearer secret"],
            "extension": [{"url": BP + "backport-heartbeat-period", "valueUnsignedInt": 60}],
        },
    }


def _contract(client: TestClient, patient: str, status: str = "executed") -> dict[str, Any]:
    r = client.post(
        "/fhir/Contract",
        json={
            "resourceType": "Contract",
            "status": status,
            "subject": [{"reference": f"Patient/{patient}"}],
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_handshake_events_outage_heartbeat_status_and_recovery(env: Any) -> None:
    client, manager, hook, clock = env
    sub = client.post(
        "/fhir/Subscription", json=_subscription("full-resource", patient="p1")
    ).json()
    manager.run_once()
    assert hook.status(0)["type"]["valueCode"] == "handshake"
    assert client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "active"

    first = _contract(client, "p1")
    _contract(client, "p2")  # filtered out
    _contract(client, "p1", status="offered")  # no topic
    manager.run_once()
    assert hook.numbers() == [1]
    note = hook.received[1]
    assert note["type"] == "history" and hook.status(1)["type"]["valueCode"] == "event-notification"
    assert note["entry"][1]["resource"]["id"] == first["id"]  # full-resource

    hook.up = False
    later = [_contract(client, "p1") for _ in range(3)]
    for _ in range(5):
        manager.run_once()
        clock.at += timedelta(seconds=5)
    assert hook.numbers() == [1]
    hook.up = True
    clock.at += timedelta(seconds=61)
    manager.run_once()
    assert hook.numbers() == [1, 2, 3, 4]  # in order, none lost, none twice
    assert [b["entry"][1]["resource"]["id"] for b in hook.received[2:5]] == [c["id"] for c in later]

    count = len(hook.received)
    clock.at += timedelta(seconds=61)
    manager.run_once()
    assert hook.status(count)["type"]["valueCode"] == "heartbeat"
    assert hook.status(count)["events-since-subscription-start"]["valueString"] == "4"

    status = client.get(f"/fhir/Subscription/{sub['id']}/$status").json()
    params = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
    assert params["events-since-subscription-start"]["valueString"] == "4"
    assert (
        params["type"]["valueCode"] == "query-status" and params["status"]["valueCode"] == "active"
    )

    # Missed-event recovery: the receiver lost events 2-3 and asks for them again.
    r = client.get(
        f"/fhir/Subscription/{sub['id']}/$events?eventsSinceNumber=2&eventsUntilNumber=3&content=id-only"
    )
    bundle = r.json()
    assert r.status_code == 200, r.text
    assert [e["fullUrl"] for e in bundle["entry"][1:]] == [
        f"{BASE}/Contract/{c['id']}" for c in later[:2]
    ]
    assert all("resource" not in e for e in bundle["entry"][1:])


def test_id_only_and_failed_handshake(env: Any) -> None:
    client, manager, hook, _clock = env
    sub = client.post("/fhir/Subscription", json=_subscription("id-only")).json()
    manager.run_once()
    c = _contract(client, "p9")
    manager.run_once()
    entry = hook.received[-1]["entry"][1]
    assert entry["fullUrl"] == f"{BASE}/Contract/{c['id']}" and "resource" not in entry
    hook.up = False
    bad = client.post("/fhir/Subscription", json=_subscription("empty")).json()
    manager.run_once()
    assert client.get(f"/fhir/Subscription/{bad['id']}").json()["status"] == "error"
    assert client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "active"


def test_topics_seed_as_valid_basic_resources(env: Any) -> None:
    client, *_ = env
    for topic in TopicCatalog.load().topics.values():
        rid = "topic-" + topic.url.rsplit("/", 1)[-1]
        from fhir_server.conformance.ig import load_ig_resources

        body = next(r for r in load_ig_resources() if r.get("id") == rid)
        assert client.put(f"/fhir/Basic/{rid}", json=body).status_code in (200, 201)
