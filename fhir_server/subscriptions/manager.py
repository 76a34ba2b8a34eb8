"""The subscription rounds run by the outbox pump (or `jiayi jobs run subscriptions`):

1. handshake: a `requested` rest-hook Subscription gets a `handshake` notification; a 2xx answer
   makes it `active`, anything else `error` (Backport IG, "Handshake");
2. fan-out: outbox events that matched topics are numbered per matching active subscription
   (`events-since-subscription-start`) and queued for it (consumer `subscriptions`);
3. delivery: one dispatcher per active subscription sends `event-notification`s in order, retried
   with back-off while the endpoint is down (nothing lost, nothing duplicated: event numbers let the
   receiver drop a repeat, and `$events` recovers anything it missed);
4. heartbeat: a `heartbeat` notification when nothing was sent for `backport-heartbeat-period`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import httpx

from ..core import errors as E
from ..outbox.dispatcher import Backoff, Dispatcher, OutboxEvent
from ..services.context import RequestContext, ServerComponents
from ..services.repository import FhirRepository
from .delivery import DeliveryFailed, post_notification
from .model import SubscriptionInfo, filters_hold, subscription_info
from .notifications import NumberedEvent, notification_bundle
from .state import StoredEvent, SubscriptionStore, consumer_name

log = logging.getLogger("jiayi.subscriptions")

FANOUT_CONSUMER = "subscriptions"


class SubscriptionManager:
    def __init__(
        self,
        components: ServerComponents,
        base_url: str,
        http: httpx.Client | None = None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.components = components
        self.base_url = base_url
        self.http = http or httpx.Client()
        self.engine = components.database.engine  # type: ignore[attr-defined]
        self.store = SubscriptionStore(self.engine)
        self.backoff = backoff or Backoff()
        self.repo = FhirRepository(
            RequestContext(base_url, system_name="subscriptions"), components
        )

    # -- helpers ---------------------------------------------------------------------------------
    def subscriptions(self, status: str) -> list[SubscriptionInfo]:
        out, cursor = [], None
        while True:
            q = [("status", status), ("_count", "200")] + ([("_cursor", cursor)] if cursor else [])
            page = self.repo.search(["Subscription"], q, page_size=200)
            out += [subscription_info(r.content) for r in page.matches if r.content]
            cursor = page.next_cursor
            if not cursor:
                return out

    def _content(self, rtype: str, rid: str, version: int) -> dict[str, Any] | None:
        try:
            return self.repo.vread(rtype, rid, str(version)).content
        except E.FhirError:
            return None

    def numbered(
        self, info: SubscriptionInfo, events: Sequence[StoredEvent], content: str
    ) -> list[NumberedEvent]:
        return [
            NumberedEvent(
                e.number,
                e.occurred_at,
                e.resource_type,
                e.resource_id,
                e.version_id,
                "PUT",
                self._content(e.resource_type, e.resource_id, e.version_id)
                if content == "full-resource"
                else None,
            )
            for e in events
        ]

    def _dispatcher(self, consumer: str, handler: Any) -> Dispatcher:
        return Dispatcher(
            self.engine, consumer, handler, clock=self.components.clock, backoff=self.backoff
        )

    # -- rounds ----------------------------------------------------------------------------------
    def handshakes(self) -> int:
        done = 0
        for info in self.subscriptions("requested"):
            if info.channel != "rest-hook":
                continue
            bundle = notification_bundle(self.base_url, info, "handshake", 0, status="requested")
            current = self.repo.read("Subscription", info.id).content or {}
            try:
                post_notification(self.http, info, bundle)
                updated = {**current, "status": "active"}
                updated.pop("error", None)
                self.store.mark_sent(info.id, self.components.clock.now(), handshake=True)
            except DeliveryFailed as exc:
                updated = {**current, "status": "error", "error": f"handshake failed: {exc}"}
            self.repo.update("Subscription", info.id, updated)
            done += 1
        return done

    def fan_out(self, events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
        subs = [s for s in self.subscriptions("active")]
        for event in events:
            wanted = [s for s in subs if s.topic in event.topics]
            if not wanted:
                continue
            content = (
                None
                if event.deleted
                else self._content(event.resource_type, event.resource_id, event.version_id)
            )
            for s in wanted:
                if filters_hold(s, event.resource_type, content):
                    self.store.add_event(s.id, event)
        return {e.seq: None for e in events}

    def _rest_hook(self, info: SubscriptionInfo) -> Any:
        def deliver(events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
            stored = self.store.events(info.id, seqs=[e.seq for e in events])
            total = self.store.state(info.id).events_since_start
            for i in range(0, len(stored), max(1, info.max_count)):
                chunk = stored[i : i + max(1, info.max_count)]
                bundle = notification_bundle(
                    self.base_url,
                    info,
                    "event-notification",
                    total,
                    self.numbered(info, chunk, info.content),
                )
                post_notification(self.http, info, bundle)
                self.store.mark_sent(info.id, self.components.clock.now())
            return {e.seq: None for e in events}

        return deliver

    def deliver(self) -> dict[str, int]:
        sent: dict[str, int] = {}
        for info in self.subscriptions("active"):
            result = self._dispatcher(consumer_name(info.id), self._rest_hook(info)).drain()
            sent[info.id] = len(result.delivered)
        return sent

    def heartbeats(self) -> int:
        now, sent = self.components.clock.now(), 0
        for info in self.subscriptions("active"):
            if not info.heartbeat_seconds:
                continue
            state = self.store.state(info.id)
            last = state.last_sent_at or state.handshake_at
            if last is not None and now - last < timedelta(seconds=int(info.heartbeat_seconds)):
                continue
            bundle = notification_bundle(self.base_url, info, "heartbeat", state.events_since_start)
            try:
                post_notification(self.http, info, bundle)
                self.store.mark_sent(info.id, now)
                sent += 1
            except DeliveryFailed as exc:
                log.warning("heartbeat to Subscription/%s failed: %s", info.id, exc)
        return sent

    def run_once(self) -> None:
        """One pass of every round (the pump calls this)."""
        self.handshakes()
        self._dispatcher(FANOUT_CONSUMER, self.fan_out).drain()
        self.deliver()
        self.heartbeats()
