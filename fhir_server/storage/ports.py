"""Storage ports: what the services layer needs from a database, as Protocols and records.

Two implementations: `storage.sql` (SQLite / PostgreSQL through SQLAlchemy) and `storage.memory`
(an in-memory twin for fast unit tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class VersionConflict(Exception):
    """The resource's current version is no longer the one the writer read (lost a race)."""


@dataclass(frozen=True)
class StoredResource:
    """One version of a resource as stored; `content` is None for a deletion."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    content: dict[str, Any] | None
    method: str = "PUT"
    seq: int = 0  # global write sequence (history order, paging cursor)


@dataclass(frozen=True)
class HistoryQuery:
    resource_type: str | None = None
    id: str | None = None
    since: datetime | None = None  # last_updated >= since
    at_start: datetime | None = None  # versions current at some time in [at_start, at_end)
    at_end: datetime | None = None
    before_seq: int | None = None  # keyset cursor: entries older than this
    count: int = 50


class ResourceStore(Protocol):
    def current(
        self, resource_type: str, id: str, for_update: bool = False
    ) -> StoredResource | None:
        """The newest version (a deletion included), or None if the resource never existed.

        `for_update` locks the row until the transaction ends, serialising writers of one resource."""

    def version(self, resource_type: str, id: str, version_id: int) -> StoredResource | None: ...

    def write(self, record: StoredResource, previous_version: int) -> StoredResource:
        """Store `record` as the successor of `previous_version` (0: must not exist yet).

        Raises VersionConflict if another writer got there first.  Returns the record with `seq`."""

    def history(self, query: HistoryQuery) -> list[StoredResource]: ...

    def history_count(self, query: HistoryQuery) -> int: ...

    def exists(self, resource_type: str, id: str) -> bool:
        """True when a live (not deleted) current version exists."""

    def search(
        self,
        resource_types: Sequence[str] | None,
        query: Sequence[tuple[str, str]],
        **options: Any,
    ) -> Any:
        """A FHIR search over current, live resources: one page plus includes and total."""

    def list_current(
        self, resource_type: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[StoredResource]:
        """Live current versions ordered by (type, id), for export and reindexing."""


class UnitOfWork(Protocol):
    """One database transaction.  Commits only through `commit()`; after-commit hooks run then."""

    @property
    def resources(self) -> ResourceStore: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def after_commit(self, hook: Callable[[], None]) -> None: ...

    def lock(self, key: str) -> None:
        """Serialise, until the transaction ends, writers deciding on the same key."""


class Database(Protocol):
    """A source of units of work plus health and lifecycle."""

    dialect: str

    def unit_of_work(self, write: bool = True) -> UnitOfWork: ...

    def ping(self) -> bool: ...

    def dispose(self) -> None: ...


Records = Sequence[StoredResource]
