"""`OutboxWriter`: records an outbox event inside the writing transaction.

`SqlResourceStore.write` calls `record(conn, dialect, stored)` right after the history row is
inserted (the same hook shape as the search `SearchIndexer`), so the event commits or rolls back
with the change itself: a crash after commit loses nothing, an uncommitted change is never sent.
One `outbox_delivery` row per interested consumer is written with it.

The subscription fan-out is a consumer only while a Subscription could take events
(`LIVE_SUBSCRIPTION_STATUSES`, read in the writing statement's own snapshot): the fan-out gives a
Subscription the events after its handshake only, so with none requested, active or in error an
event for it could never reach anybody — and a server without Subscriptions writes no event, wakes
no dispatcher, for each of its creates.  HAPI and Medplum likewise match writes against the
subscriptions that exist at the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Connection, select, text

from ..storage.ports import StoredResource
from ..storage.sql.search_tables import search_token
from ..storage.sql.tables import resource_history
from .tables import outbox_delivery, outbox_event

#: Subscription statuses that may still take events (a requested or failing one becomes active).
LIVE_SUBSCRIPTION_STATUSES = ("requested", "active", "error")

#: whether some Subscription is live, by the `status` index rows (SubscriptionManager's own
#: test): one condition on `search_token`, used by `live_subscription` and, with the written
#: resource excluded, by `storage.sql.single_write`'s statement
LIVE_SUBSCRIPTION_WHERE = (
    f"res_type = 'Subscription' AND param = 'status' AND code IN "
    f"({', '.join(repr(s) for s in LIVE_SUBSCRIPTION_STATUSES)})"
)
_LIVE_QUERY = text(
    f"SELECT EXISTS (SELECT 1 FROM {search_token.name} WHERE {LIVE_SUBSCRIPTION_WHERE})"
)


def live_subscription(conn: Connection) -> bool:
    return bool(conn.execute(_LIVE_QUERY).scalar())


def subscription_live(record: StoredResource) -> bool:
    """Whether `record` is itself a live Subscription."""
    return (
        record.resource_type == "Subscription"
        and not record.deleted
        and (record.content or {}).get("status") in LIVE_SUBSCRIPTION_STATUSES
    )


class PlannedEvent(NamedTuple):
    """What a write records: its matched topics, the consumers that take it, and those that take
    it only while a Subscription is live (`OutboxConsumer.while_subscribed`)."""

    topics: list[str]
    consumers: list[str]
    gated: list[str]


class TopicMatcher(Protocol):
    """Which SubscriptionTopics a change matches (implemented by `subscriptions.topics`)."""

    @property
    def resource_types(self) -> frozenset[str]: ...

    def match(
        self,
        resource_type: str,
        interaction: str,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
    ) -> list[str]: ...


@dataclass(frozen=True)
class OutboxConsumer:
    """A named receiver of outbox events: an adapter, or the subscription fan-out.

    `resource_types` None means every type; `needs_topic` takes only events that matched a topic;
    `while_subscribed` only while some Subscription is live (`live_subscription`)."""

    name: str
    resource_types: frozenset[str] | None = None
    needs_topic: bool = False
    while_subscribed: bool = False

    def accepts(self, resource_type: str, topics: Sequence[str]) -> bool:
        if self.needs_topic and not topics:
            return False
        return self.resource_types is None or resource_type in self.resource_types


def interaction_of(record: StoredResource, previous_deleted: bool) -> str:
    """create | update | delete, as SubscriptionTopic.resourceTrigger.supportedInteraction."""
    if record.deleted:
        return "delete"
    if record.version_id == 1 or previous_deleted:
        return "create"
    return "update"


#: `OutboxWriter.plan`'s "previous version not given: read it when needed"
UNKNOWN = object()


class OutboxWriter:
    """Called by the store for every resource write; cheap when nobody listens to the type."""

    def __init__(
        self,
        consumers: Sequence[OutboxConsumer],
        topics: TopicMatcher | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.consumers = tuple(consumers)
        self._topics = topics
        self._listeners: list[Callable[[], None]] = [on_commit] if on_commit else []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every commit that recorded an event (the pump's `wake`)."""
        self._listeners.append(listener)

    @property
    def topics(self) -> TopicMatcher | None:
        return self._topics

    def plan(
        self,
        conn: Connection,
        stored: StoredResource,
        previous: StoredResource | None | object = UNKNOWN,
    ) -> PlannedEvent | None:
        """The event a write records (topics, consumer names, gated consumer names), or None
        when nobody wants it.  `previous`: the version before `stored` when the caller has it
        (None: there is none); `UNKNOWN` (the default) reads it from the history when a topic
        needs it."""
        rtype = stored.resource_type
        topics: list[str] = []
        if self._topics is not None and rtype in self._topics.resource_types:
            before = (
                _previous_version(conn, stored)
                if previous is UNKNOWN
                else previous
                if isinstance(previous, StoredResource)
                else None
            )
            interaction = interaction_of(stored, before is None or before.deleted)
            old = before.content if before is not None and not before.deleted else None
            topics = self._topics.match(rtype, interaction, old, stored.content)
        accepting = [c for c in self.consumers if c.accepts(rtype, topics)]
        if not accepting:
            return None
        return PlannedEvent(
            topics,
            [c.name for c in accepting if not c.while_subscribed],
            [c.name for c in accepting if c.while_subscribed],
        )

    def record(self, conn: Connection, dialect: str, stored: StoredResource) -> int | None:
        """Insert the event and its delivery rows; returns the event seq (None: nobody wants it)."""
        planned = self.plan(conn, stored)
        if planned is None:
            return None
        topics, wanted, gated = planned
        if gated and live_subscription(conn):
            wanted = [*wanted, *gated]
        if not wanted:
            return None
        rtype = stored.resource_type
        seq = conn.execute(
            outbox_event.insert()
            .values(
                res_type=rtype,
                res_id=stored.id,
                version_id=stored.version_id,
                history_seq=stored.seq,
                method=stored.method,
                occurred_at=stored.last_updated,
                topics=topics,
            )
            .returning(outbox_event.c.seq)
        ).scalar_one()
        conn.execute(
            outbox_delivery.insert(),
            [{"consumer": n, "event_seq": seq, "status": "pending", "attempts": 0} for n in wanted],
        )
        return int(seq)

    def record_many(self, conn: Connection, dialect: str, stored: list[StoredResource]) -> int:
        """`record` for many writes at once (bulk writers, `storage.sql.bulk_write`): the same
        event and delivery rows, in two statements; returns how many events were recorded."""
        events: list[dict[str, Any]] = []
        consumers: list[list[str]] = []
        live: bool | None = None  # asked once, when a write has a gated consumer
        for record in stored:
            planned = self.plan(conn, record)
            if planned is None:
                continue
            topics, wanted, gated = planned
            if gated:
                if live is None:
                    live = live_subscription(conn)
                if live:
                    wanted = [*wanted, *gated]
            if not wanted:
                continue
            rtype = record.resource_type
            events.append(
                {
                    "res_type": rtype,
                    "res_id": record.id,
                    "version_id": record.version_id,
                    "history_seq": record.seq,
                    "method": record.method,
                    "occurred_at": record.last_updated,
                    "topics": topics,
                }
            )
            consumers.append(wanted)
        if not events:
            return 0
        seqs = conn.execute(
            outbox_event.insert().returning(outbox_event.c.seq, sort_by_parameter_order=True),
            events,
        ).scalars()
        conn.execute(
            outbox_delivery.insert(),
            [
                {"consumer": n, "event_seq": seq, "status": "pending", "attempts": 0}
                for seq, names in zip(seqs, consumers, strict=True)
                for n in names
            ],
        )
        return len(events)

    def committed(self) -> None:
        """The unit of work committed: wake the dispatchers (they poll anyway)."""
        for listener in list(self._listeners):
            listener()


def _previous_version(conn: Connection, stored: StoredResource) -> StoredResource | None:
    if stored.version_id <= 1:
        return None
    h = resource_history
    row = conn.execute(
        select(h.c.deleted, h.c.content).where(
            h.c.res_type == stored.resource_type,
            h.c.res_id == stored.id,
            h.c.version_id == stored.version_id - 1,
        )
    ).first()
    if row is None:
        return None
    return StoredResource(
        stored.resource_type,
        stored.id,
        stored.version_id - 1,
        stored.last_updated,
        bool(row.deleted),
        row.content,
    )
