"""Outbox dispatchers: deliver committed events to one consumer, in order, under a lease.

- A consumer's lease (`outbox_consumer.lease_owner/lease_until`) lets one dispatcher at a time work
  for it across threads and processes; a crashed holder's lease simply expires.
- Delivery happens outside any transaction; marking rows delivered happens after it.  A crash in
  between re-sends the batch later: at-least-once, and receivers deduplicate by the idempotency key
  (the event seq or the adapter's record key), so each change is observed exactly once.
- A transient failure (any exception from the handler) keeps the rows pending and backs the
  consumer off exponentially (capped), with no limit on attempts: nothing is lost while a receiver is
  down.  A permanent refusal (the handler reports a reason) marks that row `rejected` with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Engine

from ..core.clock import Clock, SystemClock
from ..storage.sql.dialects import without_flush_wait
from .lease import Lease, utc
from .tables import outbox_consumer, outbox_delivery, outbox_event

log = logging.getLogger("jiayi.outbox")


@dataclass(frozen=True)
class OutboxEvent:
    seq: int
    resource_type: str
    resource_id: str
    version_id: int
    history_seq: int
    method: str
    occurred_at: datetime
    topics: tuple[str, ...]
    attempts: int = 0

    @property
    def deleted(self) -> bool:
        return self.method == "DELETE"


class PermanentFailure(Exception):
    """The receiver refuses the consumer itself (bad credentials, a wrong endpoint): retrying soon
    will not help and no record is at fault.  The events stay pending (nothing is lost) and the
    consumer backs off for the longest delay, with the reason reported as `permanent: …`."""


class PartialDelivery(Exception):  # noqa: N818 - a result as much as an error
    """Some events reached the receiver before it failed: `answer` settles those (seq → None or a
    refusal), the rest stay pending and the consumer backs off with `error`."""

    def __init__(self, answer: Mapping[int, str | None], error: str) -> None:
        super().__init__(error)
        self.answer = dict(answer)
        self.error = error


class DeliveryHandler(Protocol):
    """Deliver a batch; return seq → None (delivered) or a reason (refused for good).

    Raise for a transient failure (the whole batch stays pending), `PermanentFailure` when the
    receiver refuses the consumer as such.  Seqs left out of the answer stay pending and count
    as a failure."""

    def __call__(self, events: Sequence[OutboxEvent]) -> Mapping[int, str | None]: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: base · 2^(failures-1), capped."""

    base_seconds: float = 1.0
    cap_seconds: float = 300.0

    def delay(self, failures: int) -> timedelta:
        exponent = min(max(0, failures - 1), 60)  # 2**60 s is past any cap
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2**exponent))

    @property
    def longest(self) -> timedelta:
        return timedelta(seconds=self.cap_seconds)


@dataclass
class DispatchResult:
    consumer: str
    delivered: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None  # "leased" | "backing-off" | "idle"
    fetched: int = 0  # pending events this run read (at most the batch size)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        consumer: str,
        handler: DeliveryHandler,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        lease_seconds: float = 60.0,
        batch_size: int = 100,
        backoff: Backoff | None = None,
    ) -> None:
        self.engine = engine
        self.consumer = consumer
        self.handler = handler
        self.clock = clock or SystemClock()
        self.owner = owner or uuid.uuid4().hex
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self._lease = Lease(
            engine, consumer, clock=self.clock, owner=self.owner, seconds=lease_seconds
        )

    def _now(self) -> datetime:
        return self._lease.now()

    # -- lease -----------------------------------------------------------------------------------
    def _acquire(self) -> str | None:
        """None when the lease is ours; otherwise why not ("leased" / "backing-off")."""
        return self._lease.acquire()

    def _release(self, conn: Any, **values: Any) -> None:
        self._lease.release(conn, **values)

    # -- work ------------------------------------------------------------------------------------
    def pending(self, limit: int | None = None) -> list[OutboxEvent]:
        """Committed, undelivered events of this consumer, oldest first."""
        d, e = outbox_delivery, outbox_event
        q = (
            select(e, d.c.attempts)
            .join(d, and_(d.c.event_seq == e.c.seq, d.c.consumer == self.consumer))
            .where(d.c.status == "pending")
            .order_by(e.c.seq)
            .limit(limit or self.batch_size)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            OutboxEvent(
                seq=int(r.seq),
                resource_type=r.res_type,
                resource_id=r.res_id,
                version_id=int(r.version_id),
                history_seq=int(r.history_seq),
                method=r.method,
                occurred_at=utc(r.occurred_at),  # type: ignore[arg-type]
                topics=tuple(r.topics or ()),
                attempts=int(r.attempts),
            )
            for r in rows
        ]

    def run_once(self) -> DispatchResult:
        result = DispatchResult(self.consumer)
        why = self._acquire()
        if why is not None:
            result.skipped = why
            return result
        events = self.pending()
        result.fetched = len(events)
        if not events:
            with self.engine.begin() as conn:
                without_flush_wait(conn)
                self._release(conn)
            result.skipped = "idle"
            return result
        try:
            answer = dict(self.handler(events))
        except PartialDelivery as exc:
            self._settle(events, exc.answer, result, error=exc.error)
            result.error = exc.error
            return result
        except PermanentFailure as exc:
            # Not the records' fault (credentials, configuration): nothing is refused, the
            # consumer waits the longest back-off and the error is reported as permanent.
            error = f"permanent: {exc}"
            self._failed(events, error, delay=self.backoff.longest)
            result.error = error
            return result
        except Exception as exc:  # noqa: BLE001 - any other failure of the receiver is transient
            self._failed(events, f"{type(exc).__name__}: {exc}")
            result.error = f"{type(exc).__name__}: {exc}"
            return result
        self._settle(events, answer, result)
        return result

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """A read-then-write transaction holding SQLite's write lock from the start: a deferred
        one fails ("database is locked") when another writer (the audit trail) commits between
        its read and its write."""
        with (
            self.engine.connect() as conn,
            conn.execution_options(sqlite_begin="IMMEDIATE").begin(),
        ):
            without_flush_wait(conn)  # bookkeeping: lost in a crash, the events go out again
            yield conn

    def _failed(
        self, events: Sequence[OutboxEvent], error: str, delay: timedelta | None = None
    ) -> None:
        now = self._now()
        c, d = outbox_consumer, outbox_delivery
        with self._writing() as conn:
            failures = conn.execute(
                select(c.c.failures).where(c.c.name == self.consumer)
            ).scalar_one()
            failures = int(failures or 0) + 1
            conn.execute(
                update(d)
                .where(d.c.consumer == self.consumer, d.c.event_seq.in_([e.seq for e in events]))
                .values(attempts=d.c.attempts + 1, detail=error[:2000])
            )
            self._release(
                conn,
                failures=failures,
                retry_at=now + (delay or self.backoff.delay(failures)),
                last_error=error[:2000],
            )
        level = logging.ERROR if delay is not None else logging.WARNING
        log.log(
            level, "outbox %s: delivery failed (%d in a row): %s", self.consumer, failures, error
        )

    def _settle(
        self,
        events: Sequence[OutboxEvent],
        answer: Mapping[int, str | None],
        result: DispatchResult,
        error: str | None = None,
    ) -> None:
        now = self._now()
        d = outbox_delivery
        missing = [e for e in events if e.seq not in answer]
        delivered = [e.seq for e in events if e.seq in answer and answer[e.seq] is None]
        with self._writing() as conn:
            if delivered:  # one statement for every delivered event of the batch
                conn.execute(
                    update(d)
                    .where(d.c.consumer == self.consumer, d.c.event_seq.in_(delivered))
                    .values(
                        status="delivered",
                        attempts=d.c.attempts + 1,
                        delivered_at=now,
                        detail=None,
                    )
                )
                result.delivered.extend(delivered)
            for event in events:
                reason = answer.get(event.seq)
                if reason is None:
                    continue
                conn.execute(
                    update(d)
                    .where(d.c.consumer == self.consumer, d.c.event_seq == event.seq)
                    .values(
                        status="rejected",
                        attempts=d.c.attempts + 1,
                        delivered_at=now,
                        detail=reason[:2000],
                    )
                )
                result.rejected[event.seq] = reason
                log.error("outbox %s: event %d refused: %s", self.consumer, event.seq, reason)
            if not missing:
                self._release(conn, failures=0, retry_at=None, last_error=None, last_success_at=now)
        if missing:
            self._failed(missing, error or "the receiver did not acknowledge every event")

    def drain(self, max_rounds: int = 1000) -> DispatchResult:
        """Run until the backlog is worked off (a run read less than a full batch), backing off
        or refused; the merged result.  Events committed meanwhile wait for the next drain: under
        a steady stream of commits (one event each) a drain that ran until the table was empty
        would never end, one pass per event on the request path's cores, defeating the pump's
        coalescing."""
        total = DispatchResult(self.consumer)
        for _ in range(max_rounds):
            r = self.run_once()
            total.delivered += r.delivered
            total.rejected.update(r.rejected)
            total.fetched += r.fetched
            if r.error or r.skipped:
                total.error, total.skipped = r.error, r.skipped
                break
            if r.fetched < self.batch_size:
                break
        return total


def outbox_status(engine: Engine) -> dict[str, dict[str, int]]:
    """Per consumer, counts by delivery status (for `$status`-like reports and tests)."""
    d = outbox_delivery
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for row in conn.execute(
            select(d.c.consumer, d.c.status, func.count()).group_by(d.c.consumer, d.c.status)
        ):
            out.setdefault(row[0], {})[row[1]] = int(row[2])
    return out


Round = Callable[[], Any]


@dataclass(frozen=True)
class ConsumerState:
    name: str
    failures: int
    last_error: str | None
    retry_at: datetime | None
    last_success_at: datetime | None


def consumer_states(engine: Engine) -> dict[str, ConsumerState]:
    """Per consumer, its back-off state (failures in a row, the last error, when it retries)."""
    c = outbox_consumer
    with engine.connect() as conn:
        rows = conn.execute(select(c)).all()
    return {
        r.name: ConsumerState(
            r.name, int(r.failures or 0), r.last_error, utc(r.retry_at), utc(r.last_success_at)
        )
        for r in rows
    }
