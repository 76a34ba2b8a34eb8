"""The transactional outbox (issue 9): events commit with their change; dispatchers deliver them in
order under a lease, retry with back-off while the receiver is down, and a crash between commit and
delivery, or between delivery and bookkeeping, still has each change observed exactly once.
Both databases (`database_url`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fhir_server.app import build_components
from fhir_server.outbox.dispatcher import Backoff, Dispatcher, OutboxEvent, outbox_status
from fhir_server.outbox.tables import outbox_event
from fhir_server.outbox.writer import OutboxConsumer, OutboxWriter
from fhir_server.services.context import RequestContext
from fhir_server.services.repository import FhirRepository
from fhir_server.settings import Settings
from fhir_server.storage.sql import SqlDatabase
from tests.outbox.harness import BASE, outbox_database

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Receiver:
    """Deduplicates by event seq, as the adapters' receivers do by record key."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0
        self.seen: list[int] = []

    def __call__(self, events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
        self.calls += 1
        if not self.up:
            raise ConnectionError("receiver down")
        for e in events:
            if e.seq not in self.seen:
                self.seen.append(e.seq)
        return {e.seq: None for e in events}


@pytest.fixture
def db(database_url: str) -> Iterator[SqlDatabase]:
    writer = OutboxWriter([OutboxConsumer("platform", frozenset({"Patient", "Contract"}))])
    database = outbox_database(database_url, writer)
    yield database
    database.dispose()


def _repo(db: SqlDatabase) -> FhirRepository:
    settings = Settings(database_url=db.url, auth="off", base_url=BASE)
    return FhirRepository(
        RequestContext(BASE, system_name="test"), build_components(settings, database=db)
    )


def test_normal_sync_in_order(db: SqlDatabase) -> None:
    repo = _repo(db)
    ids = [repo.create("Patient", {"resourceType": "Patient"}).record.id for _ in range(3)]
    repo.create(
        "Observation", {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    )
    recv = Receiver()
    result = Dispatcher(db.engine, "platform", recv, clock=Clock()).drain()
    assert len(result.delivered) == 3 and recv.seen == sorted(recv.seen)
    assert outbox_status(db.engine) == {"platform": {"delivered": 3}}
    assert len(set(ids)) == 3


def test_drain_works_off_the_backlog_and_leaves_later_commits_to_the_next(
    db: SqlDatabase,
) -> None:
    """A drain takes full batches until one comes back short; what commits while it runs (a busy
    server: an event per create) waits for the next drain instead of keeping this one going."""
    repo = _repo(db)
    for _ in range(5):
        repo.create("Patient", {"resourceType": "Patient"})
    recv = Receiver()

    def busy(events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
        repo.create("Patient", {"resourceType": "Patient"})  # a commit during the delivery
        return recv(events)

    dispatcher = Dispatcher(db.engine, "platform", busy, batch_size=2)
    first = dispatcher.drain()
    # 5 pending; each delivery commits one more: batches 2, 2, 2, 2, then 1 (short: the drain
    # ends, though the stream goes on) — before, it ran until the table stayed empty
    assert [len(first.delivered), recv.calls, first.fetched] == [9, 5, 9]
    assert len(dispatcher.pending()) == 1  # committed by the last batch's delivery
    assert len(Dispatcher(db.engine, "platform", recv).drain().delivered) == 1
    assert outbox_status(db.engine) == {"platform": {"delivered": 10}}


def _subscription(status: str) -> dict[str, object]:
    return {
        "resourceType": "Subscription",
        "status": status,
        "reason": "test",
        "criteria": "Patient?",
        "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook"},
    }


@pytest.mark.parametrize("bulk", [False, True], ids=["one-by-one", "bulk"])
def test_gated_consumer_takes_events_only_while_a_subscription_is_live(
    database_url: str, bulk: bool
) -> None:
    """A `while_subscribed` consumer (the subscription fan-out) gets delivery rows only while some
    Subscription is requested, active or in error; with no other consumer no event is written at
    all (nothing to wake, nothing to settle), whether the write is a single create or a bulk load.
    A Subscription's own write counts by its status after the write."""
    writer = OutboxWriter(
        [
            OutboxConsumer("platform", frozenset({"Contract"})),
            OutboxConsumer("fanout", while_subscribed=True),
        ]
    )
    db = outbox_database(database_url, writer)
    try:
        repo = _repo(db)
        n = iter(range(100))

        def write_patient() -> None:
            if bulk:
                repo.put_new_many([{"resourceType": "Patient", "id": f"p{next(n)}"}])
            else:
                repo.create("Patient", {"resourceType": "Patient"})

        def fanout_rows() -> int:
            return outbox_status(db.engine).get("fanout", {}).get("pending", 0)

        def events() -> int:
            with db.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(outbox_event)).scalar())

        write_patient()
        assert events() == 0 and fanout_rows() == 0  # nobody listens: no event
        sub = repo.create("Subscription", _subscription("requested")).record
        assert fanout_rows() == 1  # the Subscription's own write, now that one is live
        write_patient()
        assert fanout_rows() == 2
        repo.update("Subscription", sub.id, {**_subscription("off"), "id": sub.id})
        before = events()
        write_patient()
        assert events() == before and fanout_rows() == 2
        repo.update("Subscription", sub.id, {**_subscription("error"), "id": sub.id})
        write_patient()
        assert fanout_rows() == 4  # the update to error, then the Patient
        # an always-on consumer still gets its event while the gated one is shut out
        repo.delete("Subscription", sub.id)
        repo.create("Contract", {"resourceType": "Contract", "status": "executed"})
        assert outbox_status(db.engine)["platform"] == {"pending": 1}
        assert fanout_rows() == 4  # the deletion left no live Subscription (on either database)
    finally:
        db.dispose()


def test_rolled_back_change_is_never_sent(db: SqlDatabase) -> None:
    repo = _repo(db)
    with pytest.raises(RuntimeError), repo.transaction() as tx:
        tx.create("Patient", {"resourceType": "Patient"})
        # Not committed yet: invisible to a dispatcher.
        assert Dispatcher(db.engine, "platform", Receiver()).pending() == []
        raise RuntimeError("abort")
    recv = Receiver()
    Dispatcher(db.engine, "platform", recv).drain()
    assert recv.seen == [] and recv.calls == 0


def test_receiver_down_for_an_hour_then_back(db: SqlDatabase) -> None:
    repo, clock, recv = _repo(db), Clock(), Receiver()
    dispatcher = Dispatcher(db.engine, "platform", recv, clock=clock, backoff=Backoff(1, 300))
    recv.up = False
    written = 0
    for _minute in range(60):
        repo.create("Patient", {"resourceType": "Patient"})
        written += 1
        dispatcher.run_once()
        clock.advance(60)
    assert recv.seen == [] and recv.calls < 60  # backed off, not hammered
    recv.up = True
    clock.advance(301)
    dispatcher.drain()
    assert len(recv.seen) == written == len(set(recv.seen))
    assert recv.seen == sorted(recv.seen)
    assert outbox_status(db.engine)["platform"] == {"delivered": written}


def test_crash_after_delivery_before_bookkeeping_is_observed_once(db: SqlDatabase) -> None:
    repo, clock, recv = _repo(db), Clock(), Receiver()
    repo.create("Patient", {"resourceType": "Patient"})

    def dying(events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
        recv(events)
        raise SystemExit("killed after sending")  # not an Exception: nothing is marked

    with pytest.raises(SystemExit):
        Dispatcher(db.engine, "platform", dying, clock=clock, lease_seconds=30).run_once()
    other = Dispatcher(db.engine, "platform", recv, clock=clock, lease_seconds=30)
    assert other.run_once().skipped == "leased"  # the dead holder's lease has not expired
    clock.advance(31)
    assert len(other.drain().delivered) == 1  # re-sent …
    assert len(recv.seen) == 1 and recv.calls == 2  # … and observed once


def test_refused_event_is_reported_and_does_not_block(db: SqlDatabase) -> None:
    repo = _repo(db)
    first = repo.create("Patient", {"resourceType": "Patient"}).record.id
    repo.create("Patient", {"resourceType": "Patient"})

    def picky(events: Sequence[OutboxEvent]) -> Mapping[int, str | None]:
        return {e.seq: ("bad payload" if e.resource_id == first else None) for e in events}

    result = Dispatcher(db.engine, "platform", picky).drain()
    assert len(result.delivered) == 1 and list(result.rejected.values()) == ["bad payload"]
    assert outbox_status(db.engine)["platform"] == {"delivered": 1, "rejected": 1}


_CHILD = """
import os, sys
sys.path.insert(0, {root!r})
from fhir_server.outbox.writer import OutboxConsumer, OutboxWriter
from tests.outbox.harness import outbox_database
from tests.outbox.test_outbox import _repo
db = outbox_database({url!r}, OutboxWriter([OutboxConsumer("platform")]))
_repo(db).create("Patient", {{"resourceType": "Patient", "id": "x"}})
os._exit(9)  # killed right after commit, before any dispatch
"""


def test_process_killed_between_commit_and_delivery(db: SqlDatabase, tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    script = textwrap.dedent(_CHILD.format(root=root, url=db.url))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ))
    assert proc.returncode == 9
    recv = Receiver()
    assert len(Dispatcher(db.engine, "platform", recv).drain().delivered) == 1
    assert len(recv.seen) == 1
    assert Dispatcher(db.engine, "platform", recv).drain().delivered == []
