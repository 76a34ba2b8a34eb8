"""Persistence of export jobs and their files (SQL on `bulk_export_job` / `bulk_export_file`).

Jobs are claimed with a lease, so a job whose worker died is resumed (from the start) by another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Engine

from ..storage.sql.tables import resource
from .tables import bulk_export_file, bulk_export_job


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ExportJob:
    id: str
    status: str
    request_url: str
    params: dict[str, Any]
    owner: str | None
    requires_token: bool
    transaction_time: datetime | None
    progress: str | None
    error: str | None


@dataclass(frozen=True)
class ExportFile:
    file_no: int
    res_type: str
    kind: str
    count: int


class ExportStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, job: ExportJob, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(bulk_export_job).values(
                    id=job.id,
                    status=job.status,
                    request_url=job.request_url,
                    params=job.params,
                    owner=job.owner,
                    requires_token=job.requires_token,
                    transaction_time=job.transaction_time,
                    created_at=now,
                    updated_at=now,
                )
            )

    def get(self, job_id: str) -> ExportJob | None:
        j = bulk_export_job
        with self.engine.connect() as conn:
            row = conn.execute(select(j).where(j.c.id == job_id)).first()
        if row is None:
            return None
        return ExportJob(
            row.id,
            row.status,
            row.request_url,
            dict(row.params),
            row.owner,
            bool(row.requires_token),
            _utc(row.transaction_time),
            row.progress,
            row.error,
        )

    def claim(self, owner: str, now: datetime, lease: timedelta) -> str | None:
        """Take one job that is waiting, or whose worker's lease ran out."""
        j = bulk_export_job
        # SQLite: take the write lock up front; a deferred read-then-write transaction fails
        # ("database is locked") when another writer (the audit trail) commits in between.
        with (
            self.engine.connect() as conn,
            conn.execution_options(sqlite_begin="IMMEDIATE").begin(),
        ):
            candidates = conn.execute(
                select(j.c.id)
                .where(
                    or_(
                        j.c.status == "accepted",
                        (j.c.status == "in-progress") & (j.c.lease_until < now),
                    )
                )
                .order_by(j.c.created_at)
                .limit(5)
            ).all()
            for (job_id,) in candidates:
                got = conn.execute(
                    update(j)
                    .where(
                        j.c.id == job_id,
                        or_(j.c.status == "accepted", j.c.lease_until < now),
                        j.c.status.in_(["accepted", "in-progress"]),
                    )
                    .values(
                        status="in-progress",
                        lease_owner=owner,
                        lease_until=now + lease,
                        updated_at=now,
                    )
                    .returning(j.c.id)
                ).first()
                if got is not None:
                    conn.execute(
                        delete(bulk_export_file).where(bulk_export_file.c.job_id == job_id)
                    )
                    return str(job_id)
        return None

    def heartbeat(
        self, job_id: str, owner: str, now: datetime, lease: timedelta, progress: str
    ) -> bool:
        """Extend the lease; False when the job was cancelled (or taken over)."""
        j = bulk_export_job
        with self.engine.begin() as conn:
            got = conn.execute(
                update(j)
                .where(j.c.id == job_id, j.c.lease_owner == owner, j.c.status == "in-progress")
                .values(lease_until=now + lease, progress=progress, updated_at=now)
                .returning(j.c.id)
            ).first()
        return got is not None

    def add_file(
        self, job_id: str, file_no: int, res_type: str, kind: str, count: int, content: bytes
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(bulk_export_file).values(
                    job_id=job_id,
                    file_no=file_no,
                    res_type=res_type,
                    kind=kind,
                    count=count,
                    content=content,
                )
            )

    def finish(
        self, job_id: str, owner: str, status: str, now: datetime, error: str | None = None
    ) -> None:
        j = bulk_export_job
        with self.engine.begin() as conn:
            conn.execute(
                update(j)
                .where(j.c.id == job_id, j.c.lease_owner == owner)
                .values(
                    status=status, error=error, lease_owner=None, lease_until=None, updated_at=now
                )
            )

    def cancel(self, job_id: str) -> bool:
        """Delete the job and its files; False when there was no such job."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(bulk_export_job)
                .where(bulk_export_job.c.id == job_id)
                .returning(bulk_export_job.c.id)
            ).first()
            conn.execute(delete(bulk_export_file).where(bulk_export_file.c.job_id == job_id))
        return gone is not None

    def files(self, job_id: str) -> list[ExportFile]:
        f = bulk_export_file
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(f.c.file_no, f.c.res_type, f.c.kind, f.c.count)
                .where(f.c.job_id == job_id)
                .order_by(f.c.file_no)
            ).all()
        return [ExportFile(int(r[0]), r[1], r[2], int(r[3])) for r in rows]

    def content(self, job_id: str, file_no: int) -> bytes | None:
        f = bulk_export_file
        with self.engine.connect() as conn:
            value = conn.execute(
                select(f.c.content).where(f.c.job_id == job_id, f.c.file_no == file_no)
            ).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def types_present(self) -> list[str]:
        """Resource types with at least one live resource (the system-level default for `_type`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(resource.c.res_type).where(resource.c.deleted.is_(False)).distinct()
            ).all()
        return sorted(r[0] for r in rows)
