"""The running server, end to end (issue 9): `create_app` alone — no harness, no hand-built
dispatcher — with the provincial platform simulator, the reference health-record store and a
rest-hook receiver on 127.0.0.1.  A write over HTTP reaches all three through the outbox pump
that `background_workers` starts (and stops on shutdown); with background tasks off,
`jiayi jobs run outbox-dispatch` delivers the same.  Both databases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from adapters.health_record.simulator.app import StoreState, create_store
from adapters.signing_platform.simulator.app import PlatformState, create_simulator
from fhir_server.app import build_components, create_app
from fhir_server.jobs.runner import run_job
from fhir_server.settings import Settings
from tests.adapters.conftest import served

BASE = "http://testserver/fhir"
BP = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
SIGNED = "https://jiayi.health/fhir/SubscriptionTopic/contract-signed"


def _receiver(received: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {"ok": "yes"}

    return app


@pytest.fixture(scope="module")
def outside() -> Iterator[dict[str, Any]]:
    platform, store, hooks = PlatformState(), StoreState(), []  # type: ignore[var-annotated]
    for p in served(create_simulator(platform)):
        for s in served(create_store(store)):
            for h in served(_receiver(hooks)):
                yield {
                    "platform": (p, platform),
                    "store": (s, store),
                    "hook": (h, hooks),
                }


def _settings(database_url: str, outside: dict[str, Any], background: bool) -> Settings:
    return Settings(
        database_url=database_url,
        auth="off",
        base_url=BASE,
        background_tasks=background,
        signing_platform_url=outside["platform"][0].url(),
        health_record_url=outside["store"][0].url() + "/fhir",
        outbox_interval=0.2,
    )


def _wait(what: str, check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _subscription(endpoint: str) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "e2e",
        "criteria": SIGNED,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {
                "extension": [{"url": BP + "backport-payload-content", "valueCode": "id-only"}]
            },
        },
    }


def _kinds(hooks: list[dict[str, Any]]) -> list[str]:
    return [
        p["valueCode"]
        for b in hooks
        for p in b["entry"][0]["resource"]["parameter"]
        if p["name"] == "type"
    ]


def _reset(outside: dict[str, Any]) -> None:
    outside["platform"][1].records.clear()
    outside["platform"][1].received.clear()
    outside["store"][1].resources.clear()
    outside["store"][1].received.clear()
    outside["hook"][1].clear()


def test_a_write_reaches_the_platform_the_store_and_a_rest_hook(
    database_url: str, outside: dict[str, Any]
) -> None:
    _reset(outside)
    platform, store, hooks = outside["platform"][1], outside["store"][1], outside["hook"][1]
    settings = _settings(database_url, outside, background=True)
    app = create_app(settings)
    with TestClient(app) as client:
        endpoint = outside["hook"][0].url() + "/hook"
        sub = client.post("/fhir/Subscription", json=_subscription(endpoint)).json()
        _wait(
            "the handshake",
            lambda: client.get(f"/fhir/Subscription/{sub['id']}").json()["status"] == "active",
        )
        assert client.put(
            "/fhir/Patient/p1", json={"resourceType": "Patient", "id": "p1"}
        ).is_success
        contract = client.post(
            "/fhir/Contract",
            json={
                "resourceType": "Contract",
                "status": "executed",
                "subject": [{"reference": "Patient/p1"}],
            },
        ).json()
        key = f"contract:Contract/{contract['id']}"
        _wait("the platform", lambda: key in platform.records)
        _wait("the rest-hook", lambda: "event-notification" in _kinds(hooks))
        _wait("the store", lambda: "Patient/p1@1" in store.received)
        note = next(b for b in hooks if "event-notification" in _kinds([b]))
        assert note["entry"][1]["fullUrl"] == f"{BASE}/Contract/{contract['id']}"
        assert platform.received == [f"{key}@1"]
        pump = app.state.components.integrations.pump
    assert pump._thread is None  # stopped on shutdown


def test_jobs_deliver_when_background_tasks_are_off(
    database_url: str, outside: dict[str, Any]
) -> None:
    _reset(outside)
    settings = _settings(database_url, outside, background=False)
    with TestClient(create_app(settings)) as client:
        client.post("/fhir/Organization", json={"resourceType": "Organization", "name": "CHC"})
        client.put("/fhir/Patient/p2", json={"resourceType": "Patient", "id": "p2"})
        time.sleep(0.3)
        assert outside["platform"][1].received == []  # nothing runs by itself
    components = build_components(settings)
    try:
        summary = run_job(settings, components, "outbox-dispatch", date.today())
    finally:
        components.database.dispose()
    assert "signing-platform: 2 delivered, 0 refused" in summary, summary  # Organization, Patient
    assert "health-record: 1 delivered, 0 refused" in summary, summary
    assert len(outside["platform"][1].received) == 1
    assert outside["store"][1].received == ["Patient/p2@1"]
