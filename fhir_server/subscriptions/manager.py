"""The subscription rounds run by the outbox pump (or `jiayi jobs run subscriptions`):

1. handshake: a `requested` rest-hook Subscription gets a `handshake` notification; a 2xx answer
   makes it `active`, anything else `error` (Backport IG, "Handshake").  An `error` one is tried
   again with back-off, so it becomes `active` once its endpoint answers (and a client may set
   it back to `requested` to retry at once).  One whose `end` has passed is turned `off`;
2. fan-out: outbox events that matched topics are numbered per matching active subscription
   (`events-since-subscription-start`) and queued for it (consumer `subscriptions`) when the
   subscription's filters hold (`filters.FilterResolver`) and its subscriber may read the
   version (the subscriber's own access, recorded when the Subscription was written);
3. delivery: one dispatcher per active subscription sends `event-notification`s in order, retried
   with back-off while the endpoint is down (nothing lost, nothing duplicated: event numbers let the
   receiver drop a repeat, and `$events` recovers anything it missed); chunks already posted are
   not sent again when a later chunk fails; `full-resource` content is read as the subscriber;
4. heartbeat: a `heartbeat` notification when nothing was sent for `backport-heartbeat-period`.

Handshakes and heartbeats run under a lease, so several server processes never send them twice.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from ..auth.principal import Principal
from ..core import errors as E
from ..core.fhirdate import parse_period
from ..outbox.dispatcher import Backoff, Dispatcher, OutboxEvent, PartialDelivery
from ..outbox.lease import Lease
from ..outbox.writer import LIVE_SUBSCRIPTION_STATUSES
from ..services.access import CONSENT_EXEMPT, recipient_request
from ..services.audit import CLIENT_ID_SYSTEM, disclosure_record
from ..services.consent import ConsentEvaluator, ConsentRequest
from ..services.context import RequestContext, ServerComponents
from ..services.repository import FhirRepository
from .delivery import DeliveryFailed, post_notification
from .filters import FilterResolver
from .model import SubscriptionInfo, subscription_info
from .notifications import NumberedEvent, notification_bundle
from .state import StoredEvent, SubscriptionStore, consumer_name, handshake_lease

log = logging.getLogger("jiayi.subscriptions")

FANOUT_CONSUMER = "subscriptions"
ROUNDS_LEASE = "subscriptions:rounds"


def _end_of(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_period(value)[0]
    except ValueError:
        return None


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
        self._http = http
        self.engine = components.database.engine  # type: ignore[attr-defined]
        self.store = SubscriptionStore(self.engine)
        self.backoff = backoff or Backoff()
        # The manager's own writes (status after a handshake) are the server's: no write rules.
        self.repo = FhirRepository(
            RequestContext(base_url, system_name="subscriptions"),
            dataclasses.replace(components, write_rules=()),
        )
        compartment = components.compartment
        if compartment is not None:
            self.filters = FilterResolver(compartment.registry, compartment, base_url)
        else:
            from ..search.registry import r4_registry

            self.filters = FilterResolver(r4_registry(), base_url=base_url)
        self._lease = Lease(self.engine, ROUNDS_LEASE, clock=components.clock, seconds=120)

    @property
    def http(self) -> httpx.Client:
        """The notification client (created on first use)."""
        if self._http is None:
            self._http = httpx.Client()
        return self._http

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

    def _any_subscription(self, statuses: Sequence[str]) -> bool:
        """Whether some Subscription has one of `statuses` (one page of one entry)."""
        page = self.repo.search(
            ["Subscription"], [("status", ",".join(statuses)), ("_count", "1")], page_size=1
        )
        return bool(page.matches)

    def subscriber(self, info: SubscriptionInfo) -> FhirRepository:
        """A repository acting as the subscriber (the server's own when none is recorded)."""
        claims = self.store.owner(info.id)
        if not claims:
            return self.repo
        principal = Principal.from_claims({k: v for k, v in claims.items() if k != "exp"})
        ctx = RequestContext(self.base_url, f"subscription:{info.id}", principal)
        return FhirRepository(ctx, self.components)

    def _last_content(self, event: OutboxEvent) -> dict[str, Any] | None:
        """The version's content, or for a deletion the content it deleted (read as the server)."""
        version = event.version_id - 1 if event.deleted else event.version_id
        if version < 1:
            return None
        try:
            return self.repo.vread(event.resource_type, event.resource_id, str(version)).content
        except E.FhirError:
            return None

    @staticmethod
    def _readable(repo: FhirRepository, rtype: str, rid: str, version: int) -> bool:
        """May `repo`'s caller read this version?  A deletion counts when the caller could read
        what it deleted (the gate answers 410 then, 404 otherwise)."""
        if repo.access is None:
            return True
        try:
            repo.vread(rtype, rid, str(version))
        except E.FhirError as exc:
            return exc.status == 410
        return True

    @staticmethod
    def _content(repo: FhirRepository, rtype: str, rid: str, version: int) -> Any:
        try:
            return repo.vread(rtype, rid, str(version)).content
        except E.FhirError:
            return None

    def numbered(
        self, info: SubscriptionInfo, events: Sequence[StoredEvent], content: str
    ) -> list[NumberedEvent]:
        reader = self.subscriber(info) if content == "full-resource" else None
        return [
            NumberedEvent(
                e.number,
                e.occurred_at,
                e.resource_type,
                e.resource_id,
                e.version_id,
                e.method,
                self._content(reader, e.resource_type, e.resource_id, e.version_id)
                if reader is not None and e.method != "DELETE"
                else None,
            )
            for e in events
        ]

    def _owner(self, info: SubscriptionInfo) -> Principal | None:
        claims = self.store.owner(info.id)
        if not claims:
            return None
        return Principal.from_claims({k: v for k, v in claims.items() if k != "exp"})

    def _discloses(
        self,
        consents: ConsentEvaluator,
        request: ConsentRequest | None,
        event: OutboxEvent,
        content: Mapping[str, Any] | None,
    ) -> bool:
        """Do the Consents of every resident the event concerns let it be disclosed to the
        subscriber (action `disclose`)?  A refusal keeps the event out of the subscription (not
        numbered, not sent), like a version the subscriber may not read."""
        compartment = self.components.compartment
        if request is None or content is None or compartment is None:
            return True
        if event.resource_type in CONSENT_EXEMPT:
            return True
        ref = f"{event.resource_type}/{event.resource_id}"
        return all(
            consents.permits(p, request, event.resource_type, ref, content)
            for p in compartment.patients(content)
        )

    def _audit(
        self,
        info: SubscriptionInfo,
        chunk: Sequence[StoredEvent],
        *,
        delivered: bool,
        status: int | None,
    ) -> None:
        """An AuditEvent for a notification (issue 5: every disclosure): the subscriber as
        recipient, the focus resources (none for `empty` content) and the residents they concern."""
        sink = self.components.audit
        if sink is None:
            return
        principal = self._owner(info)
        disclosed = (
            [f"{e.resource_type}/{e.resource_id}" for e in chunk] if info.content != "empty" else []
        )
        numbers = sorted(e.number for e in chunk)
        span = f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
        recipient: dict[str, Any] | None = None
        if principal is not None and principal.organization_reference:
            recipient = {"reference": principal.organization_reference}
        elif principal is not None and principal.client_id:
            recipient = {
                "identifier": {"system": CLIENT_ID_SYSTEM, "value": principal.client_id},
                "display": f"client {principal.client_id}",
            }
        sink.record(
            disclosure_record(
                "subscription-notification",
                f"Subscription/{info.id} event {span} ({info.content})",
                disclosed,
                delivered=delivered,
                status=status,
                recipient=recipient,
                recipient_name=f"Subscription/{info.id} subscriber",
                endpoint=info.endpoint,
                principal=principal,
                at=self.components.clock.now(),
            )
        )

    def _dispatcher(self, consumer: str, handler: Any) -> Dispatcher:
        return Dispatcher(
            self.engine, consumer, handler, clock=self.components.clock, backoff=self.backoff
        )

    def _set_status(self, info: SubscriptionInfo, status: str, error: str | None = None) -> None:
        current = self.repo.read("Subscription", info.id).content or {}
        updated = {**current, "status": status}
        if error:
            updated["error"] = error[:1000]
        else:
            updated.pop("error", None)
        if updated != current:
            self.repo.update("Subscription", info.id, updated)

    # -- rounds ----------------------------------------------------------------------------------
    def expire(self, now: datetime) -> int:
        """Subscriptions whose `end` has passed are turned `off` (R4 Subscription.end)."""
        done = 0
        for status in ("requested", "active", "error"):
            for info in self.subscriptions(status):
                resource = self.repo.read("Subscription", info.id).content or {}
                end = _end_of(resource.get("end"))
                if end is not None and end <= now:
                    self._set_status(info, "off")
                    done += 1
        return done

    def _handshake(self, info: SubscriptionInfo) -> bool:
        lease = Lease(
            self.engine, handshake_lease(info.id), clock=self.components.clock, seconds=60
        )
        # After a failure the server retries an `error` one with back-off; a client setting it
        # back to `requested` asks for a try now.
        if lease.acquire(honour_backoff=info.status == "error") is not None:
            return False  # another process is at it, or backing off after a failure
        bundle = notification_bundle(self.base_url, info, "handshake", 0, status="requested")
        try:
            post_notification(self.http, info, bundle)
        except DeliveryFailed as exc:
            failures = self.store.handshake_failures(info.id) + 1
            now = lease.now()
            lease.release(
                failures=failures,
                retry_at=now + self.backoff.delay(failures),
                last_error=str(exc)[:2000],
            )
            if info.status != "error":
                self._set_status(info, "error", f"handshake failed: {exc}")
            log.warning("handshake with Subscription/%s failed: %s", info.id, exc)
            return True
        self.store.mark_sent(info.id, self.components.clock.now(), handshake=True)
        lease.release(failures=0, retry_at=None, last_error=None, last_success_at=lease.now())
        self._set_status(info, "active")
        return True

    def handshakes(self) -> int:
        done = 0
        for info in self.subscriptions("requested") + self.subscriptions("error"):
            if info.channel == "rest-hook" and self._handshake(info):
                done += 1
        return done

    def fan_out(self, events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
        subs = self.subscriptions("active")
        starts = self.store.start_seqs()
        readers: dict[str, FhirRepository] = {}
        consents = ConsentEvaluator.for_repository(self.repo)
        requests: dict[str, ConsentRequest | None] = {}
        for event in events:
            # Only what happened after the subscription became active is its own.
            wanted = [
                s for s in subs if s.topic in event.topics and event.seq > starts.get(s.id, 0)
            ]
            if not wanted:
                continue
            content = self._last_content(event)
            for s in wanted:
                if not self.filters.holds(s.filters, content):
                    continue
                reader = readers.get(s.id) or readers.setdefault(s.id, self.subscriber(s))
                if s.id not in requests:
                    requests[s.id] = recipient_request(self._owner(s), self.components.clock.now())
                if not self._discloses(consents, requests[s.id], event, content):
                    continue
                if self._readable(reader, event.resource_type, event.resource_id, event.version_id):
                    self.store.add_event(s.id, event)
        return {e.seq: None for e in events}

    def _rest_hook(self, info: SubscriptionInfo) -> Any:
        def deliver(events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
            stored = self.store.events(info.id, seqs=[e.seq for e in events])
            size = max(1, info.max_count)
            answered: dict[int, str | None] = {}
            for i in range(0, len(stored), size):
                chunk = stored[i : i + size]
                bundle = notification_bundle(
                    self.base_url,
                    info,
                    "event-notification",
                    max(e.number for e in chunk),
                    self.numbered(info, chunk, info.content),
                )
                try:
                    post_notification(self.http, info, bundle)
                except DeliveryFailed as exc:
                    self._audit(info, chunk, delivered=False, status=exc.status)
                    raise PartialDelivery(answered, f"DeliveryFailed: {exc}") from exc
                self._audit(info, chunk, delivered=True, status=None)
                self.store.mark_sent(info.id, self.components.clock.now())
                answered.update({e.outbox_seq: None for e in chunk})
            # Events numbered for the subscription but not found (none expected) are settled too.
            return {e.seq: answered.get(e.seq) for e in events}

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

    def run_once(self) -> str:
        """One pass of every round (the pump calls this); a one-line summary."""
        parts: list[str] = []
        # No Subscription that could expire, handshake or beat: no lease taken (a lease is two
        # writes; a round runs after every burst of commits)
        live = self._any_subscription(LIVE_SUBSCRIPTION_STATUSES)
        if live and self._lease.acquire(honour_backoff=False) is None:
            try:
                parts.append(f"{self.expire(self.components.clock.now())} expired")
                parts.append(f"{self.handshakes()} handshakes")
            finally:
                self._lease.release()
        fanned = self._dispatcher(FANOUT_CONSUMER, self.fan_out).drain()
        parts.append(f"{len(fanned.delivered)} events fanned out")
        parts.append(f"{sum(self.deliver().values())} notified")
        if live and self._lease.acquire(honour_backoff=False) is None:
            try:
                parts.append(f"{self.heartbeats()} heartbeats")
            finally:
                self._lease.release()
        return ", ".join(parts)
