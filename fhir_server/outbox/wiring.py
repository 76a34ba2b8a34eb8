"""Composition helpers of the outbox, called by the composition root (`app.build_components`,
`app.background_workers`): which consumers record events, and the `Integrations` that deliver
them — the subscription rounds, one dispatcher per configured adapter, and the restart of
orphaned Bulk Data jobs — run by one `OutboxPump` per server process.

- `outbox_consumers(settings)`: `subscriptions` (topic matches only) always; `signing-platform`
  when `JIAYI_SIGNING_PLATFORM_URL` is set; `health-record` when `JIAYI_HEALTH_RECORD_URL` is.
- `build_writer(settings)`: the `OutboxWriter` the database records with.
- `Integrations` (implements `domain.sync.ports.Integrations`): `rounds()` for the pump,
  `drain()` for `jiayi jobs run outbox-dispatch`.

Adapters are imported here, lazily, only when configured (they live outside `fhir_server`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from ..core.clock import Clock
from ..services.context import RequestContext, ServerComponents
from ..services.repository import FhirRepository
from .dispatcher import Backoff, Dispatcher, consumer_states
from .pump import OutboxPump
from .writer import OutboxConsumer, OutboxWriter

log = logging.getLogger("jiayi.outbox")

SUBSCRIPTIONS = "subscriptions"
SIGNING_PLATFORM = "signing-platform"
HEALTH_RECORD = "health-record"


def outbox_consumers(settings: Any) -> list[OutboxConsumer]:
    consumers = [OutboxConsumer(SUBSCRIPTIONS, needs_topic=True, while_subscribed=True)]
    if getattr(settings, "signing_platform_url", None):
        from adapters.signing_platform.adapter import SigningPlatformAdapter

        consumers.append(OutboxConsumer(SIGNING_PLATFORM, SigningPlatformAdapter.resource_types))
    if getattr(settings, "health_record_url", None):
        from adapters.health_record.adapter import HealthRecordAdapter

        consumers.append(OutboxConsumer(HEALTH_RECORD, HealthRecordAdapter.resource_types))
    return consumers


def build_writer(settings: Any) -> OutboxWriter:
    from ..subscriptions.topics import TopicCatalog

    return OutboxWriter(outbox_consumers(settings), TopicCatalog.load())


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def _path(value: Any) -> str | None:
    return str(Path(value)) if value else None


def signing_platform_http(settings: Any) -> httpx.Client:
    """httpx client to the platform: mutual TLS when a client certificate is configured."""
    from adapters.signing_platform.client import mtls_client, tls_context

    cert, key = _path(settings.signing_platform_cert), _path(settings.signing_platform_cert_key)
    ca = _path(settings.signing_platform_ca)
    if cert:
        return mtls_client(settings.signing_platform_url, (cert, key or cert), ca)
    return httpx.Client(
        base_url=settings.signing_platform_url, verify=tls_context(None, ca), timeout=10.0
    )


def build_signing_platform(settings: Any, http: httpx.Client | None = None) -> Any:
    from adapters.signing_platform.adapter import SigningPlatformAdapter
    from adapters.signing_platform.client import SigningPlatformClient

    key = _secret(settings.signing_platform_key)
    client = SigningPlatformClient(
        http or signing_platform_http(settings),
        signing_key=key.encode() if key else None,
    )
    return SigningPlatformAdapter(client)


def build_health_record(settings: Any, http: httpx.Client | None = None) -> Any:
    from adapters.health_record.adapter import HealthRecordAdapter
    from adapters.health_record.client import FhirStoreClient

    token = _secret(settings.health_record_token)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = FhirStoreClient(
        http or httpx.Client(base_url=settings.health_record_url, headers=headers, timeout=30.0)
    )
    return HealthRecordAdapter(client, organization=settings.health_record_organization)


class Integrations:
    """The outbox consumers of one server process and what runs them."""

    def __init__(
        self,
        components: ServerComponents,
        settings: Any,
        *,
        signing_platform: Any = None,
        health_record: Any = None,
        subscription_http: httpx.Client | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        interval: float | None = None,
    ) -> None:
        from ..bulk.runner import BackgroundExports, ExportRunner
        from ..bulk.store import ExportStore
        from ..subscriptions.manager import SubscriptionManager

        if clock is not None:
            components = dataclasses.replace(components, clock=clock)
        self.components = components
        self.settings = settings
        self.base_url = settings.public_base
        self.engine = components.database.engine  # type: ignore[attr-defined]
        self.backoff = backoff or Backoff()
        self.signing_platform = signing_platform
        self.health_record = health_record
        self.subscriptions = SubscriptionManager(
            components, self.base_url, subscription_http, backoff=self.backoff
        )
        self.exports = ExportRunner(components, ExportStore(self.engine), self.base_url)
        self.background_exports = BackgroundExports(self.exports)
        self.pump = OutboxPump(
            self.rounds(),
            interval=float(interval or getattr(settings, "outbox_interval", None) or 2.0),
        )

    @classmethod
    def from_settings(cls, components: ServerComponents, settings: Any) -> Integrations:
        platform = build_signing_platform(settings) if settings.signing_platform_url else None
        store = build_health_record(settings) if settings.health_record_url else None
        return cls(components, settings, signing_platform=platform, health_record=store)

    def _repo(self, name: str) -> FhirRepository:
        return FhirRepository(RequestContext(self.base_url, system_name=name), self.components)

    def adapters(self) -> list[tuple[str, Any]]:
        out = []
        if self.signing_platform is not None:
            out.append((SIGNING_PLATFORM, self.signing_platform))
        if self.health_record is not None:
            out.append((HEALTH_RECORD, self.health_record))
        return out

    def dispatcher(self, name: str, adapter: Any) -> Dispatcher:
        repo = self._repo(f"outbox:{name}")
        return Dispatcher(
            self.engine,
            name,
            lambda events: adapter.deliver(repo, events),
            clock=self.components.clock,
            backoff=self.backoff,
        )

    def rounds(self) -> Sequence[Callable[[], Any]]:
        """The pump's rounds: subscriptions, each adapter's dispatcher, orphaned bulk jobs."""
        rounds: list[Callable[[], Any]] = [self.subscriptions.run_once]
        for name, adapter in self.adapters():
            rounds.append(self.dispatcher(name, adapter).drain)
        rounds.append(self.background_exports.kick)
        return rounds

    def attach(self, writer: object) -> None:
        """Wake the pump after every commit that recorded an event (the database's outbox hook:
        an `OutboxWriter`; no hook, nothing to wake)."""
        if isinstance(writer, OutboxWriter):
            writer.on_commit(self.pump.wake)

    def drain(self) -> str:
        """Run every consumer until idle now (`jiayi jobs run outbox-dispatch`); a summary."""
        parts = [f"subscriptions: {self.subscriptions.run_once()}"]
        for name, adapter in self.adapters():
            result = self.dispatcher(name, adapter).drain()
            text = f"{name}: {len(result.delivered)} delivered, {len(result.rejected)} refused"
            if result.error:
                text += f", stopped: {result.error}"
            elif result.skipped in ("leased", "backing-off"):
                state = consumer_states(self.engine).get(name)
                text += f", {result.skipped}"
                if state is not None and state.last_error:
                    text += f" after: {state.last_error}"
            parts.append(text)
        parts.append(f"bulk export: {self.exports.run_pending()} jobs run")
        return "; ".join(parts)
