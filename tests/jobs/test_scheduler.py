"""The in-process job scheduler (fhir_server/jobs/scheduler.py): periods of each schedule in China
Standard Time, and on SQLite and PostgreSQL one runner at a time across schedulers (as two server
processes would be), once per period, retries after a failure, expired leases taken over.  Driven
by an injected clock: no sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from fhir_server.core.jobs import JobSpec
from fhir_server.jobs.scheduler import CST, JobScheduler, is_due, period_key, run_date
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.job_schedule import SqlJobLeases

AT = datetime(2026, 3, 2, 9, 15, tzinfo=CST)  # a Monday
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("schedule", "at", "key"),
    [
        ("hourly", AT, "2026-03-02T09"),
        ("hourly", AT + 44 * M, "2026-03-02T09"),
        ("hourly", AT + 45 * M, "2026-03-02T10"),
        ("daily", AT, "2026-03-02"),
        ("daily", datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "2026-03-02"),  # 00:30 in Guangzhou
        ("weekly", AT, "2026-W10"),
        ("weekly", AT + timedelta(days=6), "2026-W10"),  # Sunday
        ("weekly", AT + timedelta(days=7), "2026-W11"),
        ("monthly", AT, "2026-03"),
        ("manual", AT, None),
        ("yearly", AT, None),  # unknown schedules are not run by themselves
    ],
)
def test_period_key(schedule: str, at: datetime, key: str | None) -> None:
    assert period_key(schedule, at) == key


@pytest.mark.parametrize(
    ("schedule", "last", "retry_at", "due"),
    [
        ("hourly", None, None, True),
        ("hourly", "2026-03-02T09", None, False),
        ("hourly", "2026-03-02T08", None, True),
        ("daily", "2026-03-01", None, True),
        ("daily", "2026-03-02", None, False),
        ("daily", "2026-03-01", AT + M, False),  # backing off after a failure
        ("daily", "2026-03-01", AT - M, True),
        ("manual", None, None, False),
    ],
)
def test_is_due(schedule: str, last: str | None, retry_at: datetime | None, due: bool) -> None:
    assert is_due(schedule, last, retry_at, AT) is due


def test_run_date_is_the_local_date() -> None:
    assert run_date(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == date(2026, 3, 2)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def leases(database_url: str) -> Iterator[SqlJobLeases]:
    db = SqlDatabase(database_url)
    yield SqlJobLeases(db.engine)
    db.dispose()


def _scheduler(
    leases: SqlJobLeases, clock: Clock, run: object, owner: str, schedule: str = "hourly"
) -> JobScheduler:
    jobs = {"sweep": JobSpec("sweep", "a test job", lambda _ctx, _on: "", schedule)}
    return JobScheduler(jobs, run, leases, clock, owner=owner)  # type: ignore[arg-type]


def test_one_runner_at_a_time_once_per_period(leases: SqlJobLeases) -> None:
    clock = Clock(AT)
    runs: list[tuple[str, date]] = []
    seen_by_b: list[str] = []
    b: JobScheduler

    def run_a(name: str, on: date) -> str:
        runs.append(("a", on))
        # while A runs the job, B (another process) finds the lease taken
        seen_by_b.extend(r.outcome for r in b.tick())
        return "swept"

    def run_b(name: str, on: date) -> str:
        runs.append(("b", on))
        return "swept by b"

    a = _scheduler(leases, clock, run_a, "process-a")
    b = _scheduler(leases, clock, run_b, "process-b")
    (first,) = a.tick()
    assert first.outcome == "ran" and first.period == "2026-03-02T09"
    assert seen_by_b == ["leased"]
    assert runs == [("a", date(2026, 3, 2))]
    # this hour is done, for both processes
    assert [r.outcome for r in b.tick()] == ["not-due"]
    assert [r.outcome for r in a.tick()] == ["not-due"]
    state = leases.state("sweep")
    assert state is not None and state.last_summary == "swept" and state.lease_owner is None

    clock.at = AT + 45 * M  # the next hour
    assert [r.outcome for r in b.tick()] == ["ran"]
    assert runs[-1] == ("b", date(2026, 3, 2))
    assert [r.outcome for r in a.tick()] == ["not-due"]


def test_a_failing_job_is_retried_later(leases: SqlJobLeases) -> None:
    clock = Clock(AT)
    attempts: list[datetime] = []

    def flaky(name: str, on: date) -> str:
        attempts.append(clock.now())
        if len(attempts) == 1:
            raise RuntimeError("platform unreachable")
        return "ok"

    scheduler = _scheduler(leases, clock, flaky, "p", schedule="daily")
    (run,) = scheduler.tick()
    assert run.outcome == "failed" and "platform unreachable" in (run.summary or "")
    state = leases.state("sweep")
    assert state is not None and state.last_error and state.last_period is None
    clock.at = AT + 5 * M
    assert [r.outcome for r in scheduler.tick()] == ["not-due"]  # backing off (10 minutes)
    clock.at = AT + 11 * M
    assert [r.outcome for r in scheduler.tick()] == ["ran"]
    state = leases.state("sweep")
    assert state is not None and state.last_error is None and state.last_period == "2026-03-02"
    assert len(attempts) == 2


def test_the_lease_of_a_crashed_runner_expires(leases: SqlJobLeases) -> None:
    clock = Clock(AT)
    assert leases.acquire("sweep", "crashed", AT, timedelta(hours=1)) is not None  # never finishes
    ran: list[str] = []
    scheduler = _scheduler(leases, clock, lambda n, on: ran.append(n) or "ok", "p")
    assert [r.outcome for r in scheduler.tick()] == ["leased"]
    clock.at = AT + 61 * M
    assert [r.outcome for r in scheduler.tick()] == ["ran"] and ran == ["sweep"]


def test_manual_jobs_are_not_scheduled_and_stop_is_prompt(leases: SqlJobLeases) -> None:
    scheduler = _scheduler(leases, Clock(AT), lambda n, on: "x", "p", schedule="manual")
    assert scheduler.tick() == []
    scheduler.initial_delay = 3600.0
    scheduler.start()
    scheduler.stop(timeout=5)  # returns at once: the loop waits on the stop event
    assert scheduler._thread is None
