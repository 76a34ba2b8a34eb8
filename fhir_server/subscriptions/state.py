"""Subscription state and numbered events (SQL): `events-since-subscription-start`, the stored
events `$events` re-reads, and fan-out of one outbox event to one subscription, idempotently (the
pair (subscription, outbox seq) is unique), in one transaction with its delivery row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.engine import Engine

from ..outbox.dispatcher import OutboxEvent
from ..outbox.tables import outbox_consumer, outbox_delivery, outbox_event
from ..storage.sql.dialects import insert_ignoring_conflict
from .tables import subscription_event, subscription_owner, subscription_state


def consumer_name(subscription_id: str) -> str:
    return f"subscription:{subscription_id}"


def handshake_lease(subscription_id: str) -> str:
    return f"subscription-handshake:{subscription_id}"


def _utc(v: datetime | None) -> datetime | None:
    return None if v is None else (v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC))


@dataclass(frozen=True)
class State:
    events_since_start: int
    last_sent_at: datetime | None
    handshake_at: datetime | None
    failures: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    number: int
    outbox_seq: int
    resource_type: str
    resource_id: str
    version_id: int
    occurred_at: datetime
    method: str = "PUT"


def record_owner(
    conn: Connection,
    dialect: str,
    sid: str,
    claims: dict[str, Any] | None,
    now: datetime,
    *,
    replace: bool,
) -> None:
    """Within the Subscription's writing transaction: who the subscriber is.  A client's write
    (`replace`) makes it the subscriber; a server component's write keeps a recorded one."""
    o = subscription_owner
    conn.execute(
        insert_ignoring_conflict(dialect, o).values(
            subscription_id=sid, claims=claims, recorded_at=now
        )
    )
    if replace:
        conn.execute(
            update(o).where(o.c.subscription_id == sid).values(claims=claims, recorded_at=now)
        )


class SubscriptionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def _ensure(self, conn: Connection, sid: str) -> None:
        conn.execute(
            insert_ignoring_conflict(self._dialect, subscription_state).values(
                subscription_id=sid, events_since_start=0
            )
        )

    def state(self, sid: str) -> State:
        s, c = subscription_state, outbox_consumer
        with self.engine.connect() as conn:
            row = conn.execute(select(s).where(s.c.subscription_id == sid)).first()
            cons = conn.execute(select(c).where(c.c.name == consumer_name(sid))).first()
        failures = int(cons.failures) if cons is not None else 0
        error = cons.last_error if cons is not None else None
        if row is None:
            return State(0, None, None, failures, error)
        return State(
            int(row.events_since_start),
            _utc(row.last_sent_at),
            _utc(row.handshake_at),
            failures,
            error,
        )

    def owner(self, sid: str) -> dict[str, Any] | None:
        """The subscriber's token claims; None for the server itself (or none recorded)."""
        o = subscription_owner
        with self.engine.connect() as conn:
            row = conn.execute(select(o.c.claims).where(o.c.subscription_id == sid)).first()
        return dict(row.claims) if row is not None and row.claims else None

    def handshake_failures(self, sid: str) -> int:
        c = outbox_consumer
        with self.engine.connect() as conn:
            value = conn.execute(
                select(c.c.failures).where(c.c.name == handshake_lease(sid))
            ).scalar_one_or_none()
        return int(value or 0)

    def mark_sent(self, sid: str, now: datetime, handshake: bool = False) -> None:
        """A notification went out; after a handshake, events from now on are the
        subscription's (`start_seq`: the newest outbox event at this moment)."""
        s = subscription_state
        with self.engine.begin() as conn:
            self._ensure(conn, sid)
            values: dict[str, Any] = {"last_sent_at": now}
            if handshake:
                newest = conn.execute(select(func.max(outbox_event.c.seq))).scalar_one()
                values |= {"handshake_at": now, "start_seq": int(newest or 0)}
            conn.execute(update(s).where(s.c.subscription_id == sid).values(**values))

    def start_seqs(self) -> dict[str, int]:
        """Subscription id → the outbox seq its events start after."""
        s = subscription_state
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.c.subscription_id, s.c.start_seq)).all()
        return {r[0]: int(r[1] or 0) for r in rows}

    def add_event(self, sid: str, event: OutboxEvent) -> int | None:
        """Number `event` for subscription `sid` and queue its delivery; None if done before."""
        s, e = subscription_state, subscription_event
        with self.engine.begin() as conn:
            self._ensure(conn, sid)
            done = conn.execute(
                select(e.c.event_number).where(
                    e.c.subscription_id == sid, e.c.outbox_seq == event.seq
                )
            ).first()
            if done is not None:
                return None
            number = conn.execute(
                update(s)
                .where(s.c.subscription_id == sid)
                .values(events_since_start=s.c.events_since_start + 1)
                .returning(s.c.events_since_start)
            ).scalar_one()
            conn.execute(
                e.insert().values(
                    subscription_id=sid,
                    event_number=number,
                    outbox_seq=event.seq,
                    res_type=event.resource_type,
                    res_id=event.resource_id,
                    version_id=event.version_id,
                    occurred_at=event.occurred_at,
                    method=event.method,
                )
            )
            conn.execute(
                insert_ignoring_conflict(self._dialect, outbox_delivery).values(
                    consumer=consumer_name(sid), event_seq=event.seq, status="pending", attempts=0
                )
            )
            return int(number)

    def events(
        self,
        sid: str,
        *,
        since: int | None = None,
        until: int | None = None,
        seqs: list[int] | None = None,
    ) -> list[StoredEvent]:
        e = subscription_event
        conds = [e.c.subscription_id == sid]
        if since is not None:
            conds.append(e.c.event_number >= since)
        if until is not None:
            conds.append(e.c.event_number <= until)
        if seqs is not None:
            conds.append(e.c.outbox_seq.in_(seqs))
        with self.engine.connect() as conn:
            rows = conn.execute(select(e).where(and_(*conds)).order_by(e.c.event_number)).all()
        return [
            StoredEvent(
                int(r.event_number),
                int(r.outbox_seq),
                r.res_type,
                r.res_id,
                int(r.version_id),
                _utc(r.occurred_at),  # type: ignore[arg-type]
                r.method or "PUT",
            )
            for r in rows
        ]
