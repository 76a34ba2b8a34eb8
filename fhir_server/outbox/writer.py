"""`OutboxWriter`: records an outbox event inside the writing transaction.

`SqlResourceStore.write` calls `record(conn, dialect, stored)` right after the history row is
inserted (the same hook shape as the search `SearchIndexer`), so the event commits or rolls back
with the change itself: a crash after commit loses nothing, an uncommitted change is never sent.
One `outbox_delivery` row per interested consumer is written with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, select

from ..storage.ports import StoredResource
from ..storage.sql.tables import resource_history
from .tables import outbox_delivery, outbox_event


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

    `resource_types` None means every type; `needs_topic` takes only events that matched a topic."""

    name: str
    resource_types: frozenset[str] | None = None
    needs_topic: bool = False

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
    ) -> tuple[list[str], list[str]] | None:
        """The event a write records: (matched topics, consumer names), or None when nobody
        wants it.  `previous`: the version before `stored` when the caller has it (None: there
        is none); `UNKNOWN` (the default) reads it from the history when a topic needs it."""
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
        wanted = [c.name for c in self.consumers if c.accepts(rtype, topics)]
        return (topics, wanted) if wanted else None

    def record(self, conn: Connection, dialect: str, stored: StoredResource) -> int | None:
        """Insert the event and its delivery rows; returns the event seq (None: nobody wants it)."""
        planned = self.plan(conn, stored)
        if planned is None:
            return None
        topics, wanted = planned
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
        for record in stored:
            planned = self.plan(conn, record)
            if planned is None:
                continue
            topics, wanted = planned
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
