"""The in-process job scheduler: runs the declared jobs (`JOBS` lists) by their `JobSpec.schedule`
from the server process (`app.background_workers`, so `jiayi serve` runs them; off with
`JIAYI_BACKGROUND_TASKS=false`).

- A job runs once per *period* of its schedule, in China Standard Time (the calendar the seeds'
  institutions work in): `hourly` once per clock hour, `daily` once per day, `weekly` once per ISO
  week, `monthly` once per month; `manual` jobs never run by themselves.  The run date handed to
  the job is today's date.
- One runner at a time across threads and server processes: each job has a lease in the database
  (`storage/sql/job_schedule.py`); the period it last ran for is stored beside it, so a job runs once
  per period whichever process runs it, and a restart does not run it again.
- A failing job is logged, its error stored, and retried `retry_seconds` later (same period).
- `tick()` does one round at the clock's now: tests drive it with an injected clock, no sleeping.

The cron alternative (background tasks off): `jiayi jobs run release-reserved-slots` every hour and
the daily jobs once a day, e.g. `5 * * * * jiayi jobs run release-reserved-slots`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.jobs import JobSpec

log = logging.getLogger("jiayi.jobs")

#: China Standard Time: periods and run dates are local.
CST = timezone(timedelta(hours=8), "CST")

PERIODIC_SCHEDULES = ("hourly", "daily", "weekly", "monthly")


def period_key(schedule: str, at: datetime) -> str | None:
    """The period of `schedule` that `at` falls in (None: the job is not run by the scheduler)."""
    local = at.astimezone(CST)
    if schedule == "hourly":
        return local.strftime("%Y-%m-%dT%H")
    if schedule == "daily":
        return local.date().isoformat()
    if schedule == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if schedule == "monthly":
        return local.strftime("%Y-%m")
    return None


def is_due(
    schedule: str, last_period: str | None, retry_at: datetime | None, now: datetime
) -> bool:
    """Has the job not yet run in the current period (and is no retry back-off pending)?"""
    key = period_key(schedule, now)
    if key is None or key == last_period:
        return False
    return retry_at is None or retry_at <= now


def run_date(now: datetime) -> date:
    return now.astimezone(CST).date()


class LeaseStore(Protocol):
    def acquire(self, name: str, owner: str, now: datetime, lease: timedelta) -> Any: ...

    def started(self, name: str, owner: str, now: datetime) -> None: ...

    def finish(
        self,
        name: str,
        owner: str,
        now: datetime,
        *,
        period: str | None,
        summary: str | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None: ...

    def release(self, name: str, owner: str) -> None: ...


@dataclass(frozen=True)
class JobRun:
    """What one tick did with one job."""

    name: str
    outcome: str  # ran | failed | not-due | leased
    period: str | None = None
    summary: str | None = None


class JobScheduler:
    def __init__(
        self,
        jobs: Mapping[str, JobSpec],
        run: Callable[[str, date], str],
        leases: LeaseStore,
        clock: Clock,
        *,
        owner: str | None = None,
        interval: float = 60.0,
        initial_delay: float = 5.0,
        lease_seconds: float = 3600.0,
        retry_seconds: float = 600.0,
    ) -> None:
        self.jobs = {n: s for n, s in jobs.items() if s.schedule in PERIODIC_SCHEDULES}
        self._run = run
        self.leases = leases
        self.clock = clock
        self.owner = owner or uuid.uuid4().hex
        self.interval = interval
        self.initial_delay = initial_delay
        self.lease = timedelta(seconds=lease_seconds)
        self.retry = timedelta(seconds=retry_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round -------------------------------------------------------------------------------
    def tick(self) -> list[JobRun]:
        """Run every job due now (in name order), each under its lease."""
        return [self._one(name, spec) for name, spec in sorted(self.jobs.items())]

    def _one(self, name: str, spec: JobSpec) -> JobRun:
        now = self.clock.now()
        period = period_key(spec.schedule, now)
        state = self.leases.acquire(name, self.owner, now, self.lease)
        if state is None:
            return JobRun(name, "leased", period)
        if not is_due(spec.schedule, state.last_period, state.retry_at, now):
            self.leases.release(name, self.owner)
            return JobRun(name, "not-due", period)
        self.leases.started(name, self.owner, now)
        try:
            summary = self._run(name, run_date(now))
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("scheduled job %s failed", name)
            error = f"{type(exc).__name__}: {exc}"
            self.leases.finish(
                name,
                self.owner,
                self.clock.now(),
                period=None,
                error=error,
                retry_at=now + self.retry,
            )
            return JobRun(name, "failed", period, error)
        self.leases.finish(name, self.owner, self.clock.now(), period=period, summary=summary)
        log.info("scheduled job %s (%s): %s", name, period, summary)
        return JobRun(name, "ran", period, summary)

    # -- the loop of the server process ----------------------------------------------------------
    def _loop(self) -> None:
        if self._stop.wait(self.initial_delay):
            return
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - e.g. the database is briefly away: next round
                log.exception("job scheduler round failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="jiayi-jobs", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the job running now (if any) finishes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def build_scheduler(components: Any, settings: Any, **options: Any) -> JobScheduler:
    """The scheduler `jiayi serve` runs: every discovered job, run as `jiayi jobs run` would run it,
    leases in the server's database, time from the components' clock."""
    from ..storage.sql.job_schedule import SqlJobLeases
    from .registry import discover
    from .runner import run_job

    def run(name: str, on: date) -> str:
        return run_job(settings, components, name, on)

    leases = SqlJobLeases(components.database.engine)
    return JobScheduler(discover(), run, leases, components.clock, **options)
