"""Scheduled-job state (migration 0009_jobs_scheduler): one row per job — a lease, so that one
runner at a time works on a job across threads and server processes (a crashed holder's lease
expires), and the last period the job ran for, so that a job runs once per period whichever process
runs it and however often the processes restart.  Used by `fhir_server.jobs.scheduler`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, String, Table, Text, select, update
from sqlalchemy.engine import Engine

from .dialects import insert_ignoring_conflict
from .tables import metadata

job_schedule = Table(
    "job_schedule",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("last_period", String(32), nullable=True),  # e.g. 2026-03-02T09 (hourly), 2026-03-02
    Column("last_started_at", DateTime(timezone=True), nullable=True),
    Column("last_finished_at", DateTime(timezone=True), nullable=True),
    Column("last_summary", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("retry_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class JobState:
    name: str
    last_period: str | None
    retry_at: datetime | None
    last_summary: str | None
    last_error: str | None
    lease_owner: str | None


def _utc(value: datetime | None) -> datetime | None:
    """Stored instants are UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _naive_utc(value: datetime) -> datetime:
    """What is written and compared: UTC, so both backends order instants alike."""
    utc = _utc(value)
    assert utc is not None
    return utc if utc.tzinfo is None else utc.replace(tzinfo=None)


class SqlJobLeases:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def _at(self, value: datetime) -> datetime:
        # PostgreSQL stores timestamptz (aware); SQLite compares the text form (naive UTC).
        return _naive_utc(value) if self._dialect == "sqlite" else (_utc(value) or value)

    def acquire(self, name: str, owner: str, now: datetime, lease: timedelta) -> JobState | None:
        """Take the job's lease (free, expired, or ours already); None when another holds it."""
        t = job_schedule
        with self.engine.begin() as conn:
            conn.execute(insert_ignoring_conflict(self._dialect, t).values(name=name))
            taken = conn.execute(
                update(t)
                .where(
                    t.c.name == name,
                    (t.c.lease_owner.is_(None))
                    | (t.c.lease_until < self._at(now))
                    | (t.c.lease_owner == owner),
                )
                .values(lease_owner=owner, lease_until=self._at(now + lease))
            ).rowcount
            if not taken:
                return None
            row = conn.execute(select(t).where(t.c.name == name)).one()
        return self._state(row)

    def started(self, name: str, owner: str, now: datetime) -> None:
        t = job_schedule
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.name == name, t.c.lease_owner == owner)
                .values(last_started_at=self._at(now))
            )

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
    ) -> None:
        """Record the run (period it ran for, summary or error) and give the lease up."""
        t = job_schedule
        values: dict[str, object] = {
            "lease_owner": None,
            "lease_until": None,
            "last_finished_at": self._at(now),
            "last_error": error[:2000] if error else None,
            "retry_at": self._at(retry_at) if retry_at else None,
        }
        if period is not None:
            values["last_period"] = period
        if summary is not None:
            values["last_summary"] = summary[:2000]
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.name == name, t.c.lease_owner == owner).values(values))

    def release(self, name: str, owner: str) -> None:
        """Give the lease up without a run (the job was not due)."""
        t = job_schedule
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.name == name, t.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def state(self, name: str) -> JobState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(job_schedule).where(job_schedule.c.name == name)).first()
        return self._state(row) if row is not None else None

    @staticmethod
    def _state(row: object) -> JobState:
        return JobState(
            name=row.name,  # type: ignore[attr-defined]
            last_period=row.last_period,  # type: ignore[attr-defined]
            retry_at=_utc(row.retry_at),  # type: ignore[attr-defined]
            last_summary=row.last_summary,  # type: ignore[attr-defined]
            last_error=row.last_error,  # type: ignore[attr-defined]
            lease_owner=row.lease_owner,  # type: ignore[attr-defined]
        )
