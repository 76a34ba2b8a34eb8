"""Named leases on `outbox_consumer` rows: one holder at a time across threads and processes.

A dispatcher holds its consumer's lease while it delivers; the subscription rounds (handshakes,
heartbeats) hold one too, so two server processes never handshake the same Subscription twice.
A crashed holder's lease simply expires.  The row also carries the back-off state
(`failures`, `retry_at`, `last_error`) of the consumer it names.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.engine import Engine

from ..core.clock import Clock, SystemClock
from ..storage.sql.dialects import insert_ignoring_conflict, without_flush_wait
from .tables import outbox_consumer


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Lease:
    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.name = name
        self.clock = clock or SystemClock()
        self.owner = owner or uuid.uuid4().hex
        self.duration = timedelta(seconds=seconds)
        self._dialect = engine.dialect.name

    def now(self) -> datetime:
        now = utc(self.clock.now())
        assert now is not None
        return now

    def acquire(self, *, honour_backoff: bool = True) -> str | None:
        """None when the lease is ours now; otherwise why not (`leased` / `backing-off`)."""
        now = self.now()
        c = outbox_consumer
        conds = [
            c.c.name == self.name,
            or_(c.c.lease_owner.is_(None), c.c.lease_until < now, c.c.lease_owner == self.owner),
        ]
        if honour_backoff:
            conds.append(or_(c.c.retry_at.is_(None), c.c.retry_at <= now))
        with self.engine.begin() as conn:
            without_flush_wait(conn)
            conn.execute(
                insert_ignoring_conflict(self._dialect, c).values(name=self.name, failures=0)
            )
            got = conn.execute(
                update(c)
                .where(*conds)
                .values(lease_owner=self.owner, lease_until=now + self.duration)
                .returning(c.c.name)
            ).first()
            if got is not None:
                return None
            row = conn.execute(select(c).where(c.c.name == self.name)).first()
        retry_at = utc(row.retry_at) if row is not None else None
        if honour_backoff and retry_at is not None and retry_at > now:
            return "backing-off"
        return "leased"

    def release(self, conn: Connection | None = None, **values: Any) -> None:
        """Give the lease up, setting `values` (failures, retry_at, last_error …) on the row."""
        c = outbox_consumer
        stmt = (
            update(c)
            .where(c.c.name == self.name, c.c.lease_owner == self.owner)
            .values(lease_owner=None, lease_until=None, **values)
        )
        if conn is not None:
            conn.execute(stmt)
            return
        with self.engine.begin() as own:
            without_flush_wait(own)
            own.execute(stmt)
