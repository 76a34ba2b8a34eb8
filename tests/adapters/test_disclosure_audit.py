"""Adapters sending data out leave AuditEvents (issue 5: every disclosure is audited — who
received what about whom, and the outcome): the health-record bridge (publications, failures)
and the signing-platform bridge (pushed records), in the AuditEvent shape of the API's audit
trail (DICOM Export 110106, the server as source, the recipient as destination, an entity per
resident), through the production outbox path and the real audit writer.  Both databases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from adapters.health_record.adapter import HealthRecordAdapter
from adapters.health_record.client import FhirStoreClient
from adapters.signing_platform.adapter import SigningPlatformAdapter
from adapters.signing_platform.client import SigningPlatformClient
from fhir_server.app import build_components
from fhir_server.outbox.dispatcher import Backoff, Dispatcher
from fhir_server.outbox.wiring import Integrations
from fhir_server.services.audit import BackgroundAuditWriter
from fhir_server.services.context import RequestContext
from fhir_server.services.every_match import search_all
from fhir_server.services.repository import FhirRepository
from tests.adapters.conftest import Clock
from tests.adapters.test_health_record import (
    STORE_ORG,
    _resident,
    store,  # noqa: F401 - the simulator fixture
)
from tests.adapters.test_health_record import _settings as store_settings
from tests.adapters.test_signing_platform import KEY, _world, platform  # noqa: F401
from tests.adapters.test_signing_platform import _settings as platform_settings

BASE = "http://testserver/fhir"
DCM = "http://dicom.nema.org/resources/ontology/DCM"


@dataclasses.dataclass
class Env:
    repo: FhirRepository
    state: Any
    dispatcher: Dispatcher
    clock: Clock
    writer: BackgroundAuditWriter
    url: str

    def disclosures(self) -> list[dict[str, Any]]:
        self.writer.close()  # flush
        return search_all(self.repo, "AuditEvent", [("type", f"{DCM}|110106")])


def _components(settings: Any) -> tuple[Any, BackgroundAuditWriter]:
    components = build_components(settings)
    writer = BackgroundAuditWriter(components.database, components.compartment.patients)
    return dataclasses.replace(components, audit=writer), writer


@pytest.fixture
def record_env(database_url: str, store: Any) -> Iterator[Env]:  # noqa: F811
    server, state = store
    for bucket in (state.resources, state.deleted, state.received, state.documents):
        bucket.clear()
    state.mode = "normal"
    url = server.url() + "/fhir"
    components, writer = _components(store_settings(database_url, url))
    http = httpx.Client(base_url=url, timeout=2.0)
    adapter = HealthRecordAdapter(FhirStoreClient(http), organization=STORE_ORG)
    clock = Clock()
    integrations = Integrations(
        components,
        store_settings(database_url, url),
        health_record=adapter,
        clock=clock,
        backoff=Backoff(1, 60),
    )
    repo = FhirRepository(RequestContext(BASE, system_name="test"), integrations.components)
    yield Env(repo, state, integrations.dispatcher("health-record", adapter), clock, writer, url)
    writer.close()
    http.close()
    components.database.dispose()


@pytest.fixture
def platform_env(database_url: str, platform: Any) -> Iterator[Env]:  # noqa: F811
    server, state = platform
    for bucket in (state.records, state.received, state.doctors, state.contracts):
        bucket.clear()
    state.mode = "normal"
    settings = platform_settings(database_url, server.url())
    components, writer = _components(settings)
    http = httpx.Client(base_url=server.url(), timeout=0.5)
    client = SigningPlatformClient(http, signing_key=KEY, retries=1, backoff_seconds=0.01)
    adapter = SigningPlatformAdapter(client)
    clock = Clock()
    integrations = Integrations(
        components, settings, signing_platform=adapter, clock=clock, backoff=Backoff(1, 60)
    )
    repo = FhirRepository(RequestContext(BASE, system_name="sync"), integrations.components)
    yield Env(
        repo, state, integrations.dispatcher("signing-platform", adapter), clock, writer,
        server.url(),
    )  # fmt: skip
    writer.close()
    http.close()
    components.database.dispose()


def _entities(event: dict[str, Any]) -> set[str]:
    return {x["what"]["reference"] for x in event.get("entity", []) if "what" in x}


def test_health_record_publications_and_failures_are_audited(record_env: Env) -> None:
    env = record_env
    env.state.mode = "fail"
    ids = _resident(env.repo, "p1")
    assert env.dispatcher.run_once().delivered == []
    env.state.mode = "normal"
    env.clock.at += timedelta(seconds=61)
    assert len(env.dispatcher.drain().delivered) == 4
    events = [e for e in env.disclosures() if e["subtype"][0]["code"] == "health-record"]
    assert sorted(e["outcome"] for e in events) == ["0", "8"], [e["outcomeDesc"] for e in events]
    for event in events:
        assert event["action"] == "R" and event["type"]["code"] == "110106"
        assert "Patient/p1" in _entities(event)
        source, destination = event["agent"]
        assert source["type"]["coding"][0]["code"] == "110153" and source["requestor"]
        assert destination["who"] == {"reference": f"Organization/{STORE_ORG}"}
        assert destination["network"]["address"].startswith(env.url)
    published = next(e for e in events if e["outcome"] == "0")
    assert {f"Observation/{ids['vital']}", f"Condition/{ids['condition']}"} <= _entities(published)
    assert published["outcomeDesc"].startswith("health-record Patient/p1 publish")


def test_signing_platform_pushes_are_audited(platform_env: Env) -> None:
    env = platform_env
    ids = _world(env.repo)
    assert len(env.dispatcher.drain().delivered) == 3
    events = [e for e in env.disclosures() if e["subtype"][0]["code"] == "signing-platform"]
    assert [e["outcome"] for e in events] == ["0"], [e["outcomeDesc"] for e in events]
    [event] = events
    assert f"Contract/{ids['contract']}" in _entities(event)
    residents = {r for r in _entities(event) if r.startswith("Patient/")}
    assert residents, _entities(event)  # the contract's residents are named
    assert event["agent"][1]["who"] == {"display": "provincial contract-signing platform"}
