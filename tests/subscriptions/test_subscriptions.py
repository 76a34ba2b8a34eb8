"""Subscriptions R5 Backport (issue 9) through the production wiring (`create_app`, the outbox
hook in `SqlDatabase`, `Integrations.subscriptions`): topics matched in the writing
transaction, handshake (and its retry), event-notification (id-only and full-resource) numbered
per subscription with the right `request.method`, filters resolved through the Patient
compartment / search parameters (no leak to other residents), the subscriber's own access on
full-resource content, validation on create, a receiver down then back (nothing lost, nothing
duplicated, chunks never re-sent), heartbeat, `$status`, `$events` recovery, a process killed
between commit and delivery.  Receivers are `httpx.MockTransport`s; the clock is injected.
Both databases."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import build_components, create_app
from fhir_server.outbox.dispatcher import Backoff
from fhir_server.outbox.wiring import Integrations
from fhir_server.settings import Settings
from fhir_server.subscriptions.manager import SubscriptionManager
from fhir_server.subscriptions.topics import TopicCatalog
from tests.support.access_world import World, make_world

BASE = "http://testserver/fhir"
BP = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
TOPIC = "https://jiayi.health/fhir/SubscriptionTopic/"
SIGNED = TOPIC + "contract-signed"
RECORD = TOPIC + "record-changed"
VITAL = "http://terminology.hl7.org/CodeSystem/observation-category"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


class Hook:
    """A rest-hook receiver; `fail_after` posts succeed, then it answers 503."""

    def __init__(self) -> None:
        self.up = True
        self.fail_after: int | None = None
        self.received: list[dict[str, Any]] = []
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if not self.up or (self.fail_after is not None and len(self.received) >= self.fail_after):
            return httpx.Response(503)
        assert request.headers["content-type"] == "application/fhir+json"
        assert request.headers["authorization"] == "Bearer secret"
        self.received.append(orjson.loads(request.content))
        return httpx.Response(200)

    def status(self, i: int) -> dict[str, Any]:
        params = self.received[i]["entry"][0]["resource"]["parameter"]
        return {p["name"]: p for p in params}

    def kinds(self) -> list[str]:
        return [self.status(i)["type"]["valueCode"] for i in range(len(self.received))]

    def notifications(self) -> list[dict[str, Any]]:
        return [b for i, b in enumerate(self.received) if self.kinds()[i] == "event-notification"]

    def numbers(self) -> list[int]:
        out = []
        for b in self.received:
            for p in b["entry"][0]["resource"]["parameter"]:
                if p["name"] == "notification-event":
                    out += [int(x["valueString"]) for x in p["part"] if x["name"] == "event-number"]
        return out

    def focus(self) -> list[dict[str, Any]]:
        return [e for b in self.notifications() for e in b["entry"][1:]]


@dataclasses.dataclass
class Env:
    client: TestClient
    manager: SubscriptionManager
    hook: Hook
    clock: Clock
    url: str


def _integrations(components: Any, settings: Settings, hook: Hook, clock: Clock) -> Integrations:
    http = httpx.Client(transport=httpx.MockTransport(hook))
    return Integrations(
        components, settings, subscription_http=http, clock=clock, backoff=Backoff(1, 60)
    )


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    settings = Settings(
        database_url=database_url, auth="off", base_url=BASE, background_tasks=False
    )
    clock = Clock()
    components = dataclasses.replace(build_components(settings), clock=clock)
    hook = Hook()
    manager = _integrations(components, settings, hook, clock).subscriptions
    with TestClient(create_app(settings, components=components)) as client:
        yield Env(client, manager, hook, clock, database_url)


def subscription(
    content: str = "full-resource",
    topic: str = SIGNED,
    filters: tuple[str, ...] = (),
    endpoint: str = "https://receiver.test/hook",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "provincial oversight",
        "criteria": topic,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [{"url": BP + "backport-payload-content", "valueCode": content}]
            },
            "header": ["Authorization: Bearer secret"],
            "extension": [{"url": BP + "backport-heartbeat-period", "valueUnsignedInt": 60}],
        },
        **extra,
    }
    if filters:
        body["_criteria"] = {
            "extension": [
                {"url": BP + "backport-filter-criteria", "valueString": f} for f in filters
            ]
        }
    return body


def _max_count(body: dict[str, Any], n: int) -> dict[str, Any]:
    body["channel"]["extension"].append({"url": BP + "backport-max-count", "valuePositiveInt": n})
    return body


def _contract(client: TestClient, patient: str, status: str = "executed", **extra: Any) -> Any:
    r = client.post(
        "/fhir/Contract",
        json={
            "resourceType": "Contract",
            "status": status,
            "subject": [{"reference": f"Patient/{patient}"}],
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def _active(env: Env, body: dict[str, Any]) -> dict[str, Any]:
    r = env.client.post("/fhir/Subscription", json=body)
    assert r.status_code == 201, r.text
    env.manager.run_once()
    sub = env.client.get(f"/fhir/Subscription/{r.json()['id']}").json()
    assert sub["status"] == "active", sub
    return sub


def test_handshake_events_outage_heartbeat_status_and_recovery(env: Env) -> None:
    client, manager, hook, clock = env.client, env.manager, env.hook, env.clock
    sub = _active(env, subscription(filters=("Contract?patient=Patient/p1",)))
    assert hook.kinds() == ["handshake"]

    first = _contract(client, "p1")
    _contract(client, "p2")  # filtered out
    _contract(client, "p1", status="offered")  # no topic
    manager.run_once()
    assert hook.numbers() == [1]
    note = hook.notifications()[0]
    assert note["type"] == "history"
    assert note["entry"][1]["resource"]["id"] == first["id"]  # full-resource
    assert note["entry"][1]["request"] == {"method": "POST", "url": "Contract"}

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
    assert [e["resource"]["id"] for e in hook.focus()[1:]] == [c["id"] for c in later]

    count = len(hook.received)
    clock.at += timedelta(seconds=61)
    manager.run_once()
    assert hook.kinds()[count] == "heartbeat"
    assert hook.status(count)["events-since-subscription-start"]["valueString"] == "4"

    status = client.get(f"/fhir/Subscription/{sub['id']}/$status").json()
    params = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
    assert params["events-since-subscription-start"]["valueString"] == "4"
    assert params["type"]["valueCode"] == "query-status"
    assert params["status"]["valueCode"] == "active"

    # Missed-event recovery: the receiver lost events 2-3 and asks for them again.
    r = client.get(
        f"/fhir/Subscription/{sub['id']}/$events"
        "?eventsSinceNumber=2&eventsUntilNumber=3&content=id-only"
    )
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert [e["fullUrl"] for e in bundle["entry"][1:]] == [
        f"{BASE}/Contract/{c['id']}" for c in later[:2]
    ]
    assert all("resource" not in e for e in bundle["entry"][1:])
    assert [e["request"]["method"] for e in bundle["entry"][1:]] == ["POST", "POST"]


def test_receiver_down_for_an_hour_then_back(env: Env) -> None:
    """An hour of outage on the injected clock: back-off (no hammering), then everything once."""
    sub = subscription("id-only")
    sub["channel"]["extension"] = []  # no heartbeats: count notification attempts only
    _active(env, _max_count(sub, 50))
    env.manager.backoff = Backoff(1, 600)
    env.hook.up = False
    posts_before, calls_before = len(env.hook.received), env.hook.calls
    written = [_contract(env.client, f"p{i}")["id"] for i in range(12)]
    for _minute in range(60):
        env.manager.run_once()
        env.clock.at += timedelta(minutes=1)
    assert len(env.hook.received) == posts_before  # nothing got through while down
    assert env.hook.calls - calls_before < 15  # backed off exponentially, not every minute
    env.hook.up = True
    env.clock.at += timedelta(minutes=11)
    env.manager.run_once()
    ids = [e["fullUrl"].rsplit("/", 1)[-1] for e in env.hook.focus()]
    assert ids == written and env.hook.numbers() == list(range(1, 13))


def test_method_of_each_interaction(env: Env) -> None:
    _active(env, subscription(topic=RECORD, filters=("Patient?patient=Patient/p1",)))
    client = env.client
    assert client.put("/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"}).is_success
    obs = client.post(
        "/fhir/Observation",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "bp"},
            "subject": {"reference": "Patient/p1"},
        },
    ).json()
    client.put(f"/fhir/Observation/{obs['id']}", json={**obs, "status": "amended"})
    client.delete(f"/fhir/Observation/{obs['id']}")
    env.manager.run_once()
    requests = [e["request"] for e in env.hook.focus()]
    assert requests == [
        {"method": "PUT", "url": "Patient/p1"},
        {"method": "POST", "url": "Observation"},
        {"method": "PUT", "url": f"Observation/{obs['id']}"},
        {"method": "DELETE", "url": f"Observation/{obs['id']}"},
    ]
    deleted = env.hook.focus()[-1]
    assert "resource" not in deleted and deleted["response"]["status"] == "204"


def test_patient_filter_is_resolved_through_the_compartment(env: Env) -> None:
    """`Patient?patient=Patient/p1` on record-changed: p1's record only, whatever the type;
    `Contract?patient=` means Contract.subject, not any reference (a guardian signer)."""
    client = env.client
    _active(env, subscription(topic=RECORD, filters=("Patient?patient=Patient/p1",)))
    for pid in ("p1", "p2"):
        client.put(f"/fhir/Patient/{pid}", json={"resourceType": "Patient", "id": pid})
        client.post(
            "/fhir/Observation",
            json={
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": f"Patient/{pid}"},
            },
        )
        client.post(
            "/fhir/Condition",
            json={
                "resourceType": "Condition",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"text": "高血压"},
            },
        )
    # p2's Observation that merely mentions p1 as a focus is not in p1's compartment.
    client.post(
        "/fhir/Observation",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "y"},
            "subject": {"reference": "Patient/p2"},
            "focus": [{"reference": "Patient/p1"}],
        },
    )
    env.manager.run_once()
    seen = [e["resource"] for e in env.hook.focus()]
    assert [r["resourceType"] for r in seen] == ["Patient", "Observation", "Condition"]
    assert all(r.get("id") == "p1" or r["subject"]["reference"] == "Patient/p1" for r in seen)

    before = len(env.hook.focus())
    _active(env, subscription(filters=("Contract?patient=Patient/p1",)))
    _contract(
        client,
        "p2",
        signer=[
            {
                "type": {"code": "guardian"},
                "party": {"reference": "Patient/p1"},
                "signature": [
                    {
                        "type": [
                            {
                                "system": "urn:iso-astm:E1762-95:2013",
                                "code": "1.2.840.10065.1.12.1.7",
                            }
                        ],
                        "when": "2026-01-01T00:00:00Z",
                        "who": {"reference": "Patient/p1"},
                    }
                ],
            }
        ],
    )
    env.manager.run_once()
    assert len(env.hook.focus()) == before  # not p1's contract


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (subscription(topic=TOPIC + "nope"), "Subscription.criteria"),
        (
            subscription(filters=("Contract?requester=PractitionerRole/r1",)),
            "Subscription.criteria.extension[0].value",
        ),
        (subscription(filters=("patient=Patient/p1",)), "Subscription.criteria.extension[0].value"),
        (
            {**subscription(), "channel": {**subscription()["channel"], "type": "websocket"}},
            "Subscription.channel.type",
        ),
        (subscription(endpoint="http://receiver.example/hook"), "Subscription.channel.endpoint"),
        (subscription(endpoint="ftp://127.0.0.1/x"), "Subscription.channel.endpoint"),
        ({**subscription(), "status": "active"}, "Subscription.status"),
        (
            {**subscription(), "channel": {**subscription()["channel"], "payload": "text/xml"}},
            "Subscription.channel.payload",
        ),
    ],
)
def test_bad_subscriptions_are_refused(env: Env, body: dict[str, Any], expression: str) -> None:
    r = env.client.post("/fhir/Subscription", json=body)
    assert r.status_code == 422, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert expression in [x for i in outcome["issue"] for x in i.get("expression", [])]
    assert env.client.get("/fhir/Subscription").json().get("total", 0) == 0  # nothing written


def test_loopback_http_and_filters_the_topic_offers_are_accepted(env: Env) -> None:
    ok = subscription(
        topic=TOPIC + "referral-status-changed",
        endpoint="http://127.0.0.1:9999/hook",
        filters=("ServiceRequest?requester=PractitionerRole/r1",),
    )
    assert env.client.post("/fhir/Subscription", json=ok).status_code == 201


def test_client_cannot_activate_and_a_failed_handshake_is_retried(env: Env) -> None:
    client, manager, hook, clock = env.client, env.manager, env.hook, env.clock
    hook.up = False
    sub = client.post("/fhir/Subscription", json=subscription("id-only")).json()
    manager.run_once()
    stored = client.get(f"/fhir/Subscription/{sub['id']}").json()
    assert stored["status"] == "error" and "handshake failed" in stored["error"]
    # The client may not declare it active itself …
    r = client.put(f"/fhir/Subscription/{sub['id']}", json={**stored, "status": "active"})
    assert r.status_code == 422, r.text
    # … but the server retries with back-off once the endpoint answers.
    hook.up = True
    manager.run_once()
    assert client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "error"  # backing off
    clock.at += timedelta(seconds=61)
    manager.run_once()
    assert client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "active"
    c = _contract(client, "p9")
    manager.run_once()
    entry = hook.notifications()[-1]["entry"][1]
    assert entry["fullUrl"] == f"{BASE}/Contract/{c['id']}" and "resource" not in entry


def test_client_may_set_requested_to_retry_now(env: Env) -> None:
    env.hook.up = False
    sub = env.client.post("/fhir/Subscription", json=subscription("empty")).json()
    env.manager.run_once()
    stored = env.client.get(f"/fhir/Subscription/{sub['id']}").json()
    assert stored["status"] == "error"
    env.hook.up = True
    retry = {k: v for k, v in stored.items() if k != "error"} | {"status": "requested"}
    assert env.client.put(f"/fhir/Subscription/{sub['id']}", json=retry).status_code == 200
    env.manager.run_once()
    assert env.client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "active"


def test_posted_chunks_are_not_sent_again_when_a_later_one_fails(env: Env) -> None:
    _active(env, _max_count(subscription("id-only"), 1))
    ids = [_contract(env.client, "p1")["id"] for _ in range(3)]
    env.hook.fail_after = len(env.hook.received) + 1  # the second notification fails
    env.manager.run_once()
    assert env.hook.numbers() == [1]
    env.hook.fail_after = None
    env.clock.at += timedelta(seconds=61)
    env.manager.run_once()
    assert env.hook.numbers() == [1, 2, 3]
    assert [e["fullUrl"].rsplit("/", 1)[-1] for e in env.hook.focus()] == ids


def test_subscription_ends(env: Env) -> None:
    sub = _active(env, subscription(end="2026-03-02T00:00:00Z"))
    env.clock.at += timedelta(days=2)
    env.manager.run_once()
    assert env.client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "off"


def test_capability_statement_names_the_topics(env: Env) -> None:
    statement = env.client.get("/fhir/metadata").json()
    sub = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription")
    named = {
        e["valueCanonical"]
        for e in sub["extension"]
        if e["url"] == BP + "capabilitystatement-subscriptiontopic-canonical"
    }
    assert named == set(TopicCatalog.load().topics)
    assert {"status", "events"} <= {o["name"] for o in sub["operation"]}


def test_topics_seed_as_valid_basic_resources(env: Env) -> None:
    from fhir_server.conformance.ig import load_ig_resources

    for topic in TopicCatalog.load().topics.values():
        rid = "topic-" + topic.url.rsplit("/", 1)[-1]
        body = next(r for r in load_ig_resources() if r.get("id") == rid)
        assert env.client.put(f"/fhir/Basic/{rid}", json=body).status_code in (200, 201)


_CHILD = """
import os, sys
sys.path.insert(0, {root!r})
from fhir_server.app import build_components
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
settings = Settings(database_url={url!r}, auth="off", base_url={base!r}, background_tasks=False)
repo = FhirRepository(RequestContext({base!r}, system_name="child"), build_components(settings))
repo.create("Contract", {{"resourceType": "Contract", "status": "executed",
                         "subject": [{{"reference": "Patient/k1"}}]}})
os._exit(9)  # killed right after commit, before any notification
"""


def test_process_killed_between_commit_and_notification(env: Env, tmp_path: Path) -> None:
    _active(env, subscription("id-only"))
    root = str(Path(__file__).resolve().parents[2])
    script = textwrap.dedent(_CHILD.format(root=root, url=env.url, base=BASE))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 9
    env.manager.run_once()
    env.manager.run_once()
    assert env.hook.numbers() == [1]  # delivered, once


# -- the subscriber's own access (SMART) ------------------------------------------------------------
@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    yield from make_world(database_url)


def test_full_resource_carries_only_what_the_subscriber_may_read(world: World) -> None:
    """A back-end client allowed vital signs only subscribes to record-changed: laboratory
    results and Conditions are neither sent nor numbered for it; an admin sees them all."""
    components = world.client.app.state.components
    settings = world.client.app.state.settings
    hook, clock = Hook(), Clock()
    clock.at = datetime.now(UTC)
    manager = _integrations(components, settings, hook, clock).subscriptions
    vitals = world.headers(
        f"system/Subscription.cruds system/Observation.rs?category={VITAL}|vital-signs",
        kind="system",
        client_id="vitals-feed",
    )
    r = world.client.post("/fhir/Subscription", json=subscription(topic=RECORD), headers=vitals)
    assert r.status_code == 201, r.text
    admin = world.client.post(
        "/fhir/Subscription", json=subscription(topic=RECORD), headers=world.admin()
    )
    assert admin.status_code == 201, admin.text
    manager.run_once()
    for category in ("vital-signs", "laboratory"):
        world.repo.create(
            "Observation",
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [{"coding": [{"system": VITAL, "code": category}]}],
                "code": {"text": category},
                "subject": {"reference": "Patient/a"},
            },
        )
    world.repo.create(
        "Condition",
        {"resourceType": "Condition", "subject": {"reference": "Patient/a"}, "code": {"text": "x"}},
    )
    manager.run_once()
    by_subscription: dict[str, list[str]] = {}
    for note in hook.notifications():
        sid = note["entry"][0]["resource"]["parameter"][0]["valueReference"]["reference"]
        for e in note["entry"][1:]:
            res = e.get("resource") or {"resourceType": e["request"]["method"]}
            label = res["resourceType"] + ":" + (res.get("code") or {}).get("text", "")
            by_subscription.setdefault(sid.rsplit("/", 1)[-1], []).append(label)
    assert by_subscription[r.json()["id"]] == ["Observation:vital-signs"]
    assert sorted(by_subscription[admin.json()["id"]]) == [
        "Condition:x",
        "Observation:laboratory",
        "Observation:vital-signs",
    ]


def test_referral_status_changes_reach_a_referral_subscription(env: Env) -> None:
    """Topic referral-status-changed: the hospital's Task moving on, and the referral completed by
    it, are events; an update that changes no status is not."""
    from tests.domain.referrals.referral_data import build_world, upward_referral

    def create(body: dict[str, Any]) -> dict[str, Any]:
        r = env.client.post(f"/fhir/{body['resourceType']}", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    world = build_world(create)
    _active(env, subscription(content="id-only", topic=TOPIC + "referral-status-changed"))
    referral = create(upward_referral(world))
    env.manager.run_once()
    seen = len(env.hook.focus())

    def new_events() -> list[str]:
        nonlocal seen
        env.manager.run_once()
        focus = env.hook.focus()[seen:]
        seen += len(focus)
        return [e["fullUrl"].removeprefix(BASE + "/") for e in focus]

    r = env.client.patch(
        f"/fhir/ServiceRequest/{referral['id']}",
        json=[{"op": "add", "path": "/note/-", "value": {"text": "补充病史"}}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert new_events() == []
    task = env.client.get(f"/fhir/Task?focus=ServiceRequest/{referral['id']}").json()
    task = task["entry"][0]["resource"]
    r = env.client.put(f"/fhir/Task/{task['id']}", json={**task, "status": "accepted"})
    assert r.status_code == 200, r.text
    assert new_events() == [f"Task/{task['id']}"]
    r = env.client.put(f"/fhir/Task/{task['id']}", json={**r.json(), "status": "completed"})
    assert r.status_code == 200, r.text
    assert sorted(new_events()) == sorted(
        [f"ServiceRequest/{referral['id']}", f"Task/{task['id']}"]
    )


def test_rounds_take_no_lease_while_no_subscription_is_live(env: Env) -> None:
    """A round runs after every burst of commits: without a Subscription that could expire,
    handshake or beat, it takes no lease (two writes); once there is one, it does."""
    from sqlalchemy import create_engine, text

    from fhir_server.subscriptions.manager import ROUNDS_LEASE

    def lease_row() -> Any:
        engine = create_engine(env.url)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT name FROM outbox_consumer WHERE name = :n"), {"n": ROUNDS_LEASE}
            ).first()
        engine.dispose()
        return row

    env.manager.run_once()
    assert lease_row() is None
    _active(env, subscription())
    assert lease_row() is not None
