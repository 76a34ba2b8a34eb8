"""`ResourceStore` over one SQLAlchemy connection (inside the unit of work's transaction)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.sql import Select

from ..ports import HistoryQuery, StoredResource, VersionConflict
from .dialects import insert_ignoring_conflict
from .tables import resource, resource_history


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _record(row: Any, resource_type: str | None = None) -> StoredResource:
    m = row._mapping
    return StoredResource(
        resource_type=m["res_type"],
        id=m["res_id"],
        version_id=m["version_id"],
        last_updated=_utc(m["last_updated"]),
        deleted=bool(m["deleted"]),
        content=m["content"],
        method=m.get("method", "PUT") if hasattr(m, "get") else "PUT",
        seq=m.get("seq", 0) if hasattr(m, "get") else 0,
    )


class SearchIndexer(Protocol):
    """Keeps the search-index rows of a resource in step with its current version.

    Called inside the writing transaction, so index rows and resource change together."""

    registry: Any
    extractor: Any  # search.extract.Extractor over `registry`

    def index(self, conn: Connection, dialect: str, record: StoredResource) -> None: ...

    def extract(self, conn: Connection, record: StoredResource) -> Any:
        """`record`'s `search.extract.IndexRows` (None: none), as `index` would write them."""
        ...


class OutboxHook(Protocol):
    """Records the outbox event of a write inside the writing transaction
    (`fhir_server.outbox.writer.OutboxWriter`): the event commits or rolls back with the change."""

    def record(self, conn: Connection, dialect: str, stored: StoredResource) -> int | None: ...

    def plan(
        self, conn: Connection, stored: StoredResource, previous: StoredResource | None | object
    ) -> tuple[list[str], list[str], list[str]] | None:
        """The event `record` would insert: (topics, consumer names, names of consumers that
        take it only while a Subscription is live); None: no event.
        `previous`: the version before `stored` (None: none), as `record` would read it."""
        ...

    def committed(self) -> None: ...


#: the current row of one resource (bound parameters `t`, `i`); FOR UPDATE: PostgreSQL's row lock
#: (SQLite writers are serialised already: BEGIN IMMEDIATE)
_CURRENT = select(resource).where(
    resource.c.res_type == bindparam("t"), resource.c.res_id == bindparam("i")
)
_CURRENT_FOR_UPDATE = _CURRENT.with_for_update()
_DELETED = select(resource.c.deleted).where(
    resource.c.res_type == bindparam("t"), resource.c.res_id == bindparam("i")
)
_VERSION = select(resource_history).where(
    resource_history.c.res_type == bindparam("t"),
    resource_history.c.res_id == bindparam("i"),
    resource_history.c.version_id == bindparam("v"),
)


class SqlResourceStore:
    def __init__(
        self,
        conn: Connection,
        dialect: str,
        indexer: SearchIndexer | None = None,
        outbox: OutboxHook | None = None,
    ) -> None:
        self._conn = conn
        self._dialect = dialect
        self._indexer = indexer
        self._outbox = outbox
        self.recorded = 0  # outbox events recorded in this transaction
        #: versions read or written in this transaction, by (type, id): the previous version
        #: of a write without reading it again (versions never change once written)
        self._seen: dict[tuple[str, str], StoredResource] = {}

    # -- reads -------------------------------------------------------------------------------
    def current(
        self, resource_type: str, id: str, for_update: bool = False
    ) -> StoredResource | None:
        # built once (bound parameters): building the expression and its cache key anew was a
        # fifth of a read's time in Python
        q = _CURRENT_FOR_UPDATE if for_update else _CURRENT
        row = self._conn.execute(q, {"t": resource_type, "i": id}).first()
        found = _record(row) if row else None
        if found is not None:
            self._seen[(resource_type, id)] = found
        return found

    def exists(self, resource_type: str, id: str) -> bool:
        row = self._conn.execute(_DELETED, {"t": resource_type, "i": id}).first()
        return row is not None and not row[0]

    def version(self, resource_type: str, id: str, version_id: int) -> StoredResource | None:
        row = self._conn.execute(_VERSION, {"t": resource_type, "i": id, "v": version_id}).first()
        return _record(row) if row else None

    def list_current(
        self, resource_type: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[StoredResource]:
        q = select(resource).where(resource.c.deleted.is_(False))
        if resource_type:
            q = q.where(resource.c.res_type == resource_type)
        if after:
            q = q.where(tuple_(resource.c.res_type, resource.c.res_id) > tuple_(*after))
        q = q.order_by(resource.c.res_type, resource.c.res_id).limit(limit)
        return [_record(r) for r in self._conn.execute(q)]

    # -- writes ------------------------------------------------------------------------------
    def write(self, record: StoredResource, previous_version: int) -> StoredResource:
        if self._dialect == "postgresql":
            stored = self._write_at_once(record, previous_version)
            if stored is not None:
                self._seen[(record.resource_type, record.id)] = stored
                return stored
        stored = self._write_one_by_one(record, previous_version)
        self._seen[(record.resource_type, record.id)] = stored
        return stored

    def _previous(self, record: StoredResource, previous_version: int) -> StoredResource | object:
        if previous_version == 0:
            return None
        seen = self._seen.get((record.resource_type, record.id))
        if seen is not None and seen.version_id == previous_version:
            return seen
        from ...outbox.writer import UNKNOWN

        return UNKNOWN

    def _write_at_once(
        self, record: StoredResource, previous_version: int
    ) -> StoredResource | None:
        """PostgreSQL: the whole write in one statement (`single_write`); None where that path
        does not apply (contained resources in a new version: `_write_one_by_one`)."""
        from .dialects import generic_plans
        from .indexer import table_rows
        from .single_write import can_write_at_once, write_at_once

        rows = None
        if self._indexer is not None:
            found = self._indexer.extract(self._conn, record)
            if found is not None:
                rows = table_rows(record.resource_type, record.id, found)
            if not can_write_at_once(rows, fresh=record.version_id == 1):
                return None
        previous = self._previous(record, previous_version)
        event = None
        if self._outbox is not None:
            event = self._outbox.plan(self._conn, record, previous)
        # the previous version's contained resources have index rows to delete too
        old_contained = previous is not None and (
            not isinstance(previous, StoredResource)
            or bool((previous.content or {}).get("contained"))
        )
        generic_plans(self._conn)
        written = write_at_once(
            self._conn,
            record,
            previous_version,
            rows,
            self._indexer is not None,
            event,
            old_contained,
        )
        if written is None:
            raise VersionConflict(f"{record.resource_type}/{record.id} changed concurrently")
        seq, event_seq = written
        if event_seq is not None:
            self.recorded += 1
        return StoredResource(**{**record.__dict__, "seq": seq})

    def _write_one_by_one(self, record: StoredResource, previous_version: int) -> StoredResource:
        values = {
            "version_id": record.version_id,
            "last_updated": record.last_updated,
            "deleted": record.deleted,
            "content": record.content,
        }
        if previous_version == 0:
            stmt = insert_ignoring_conflict(self._dialect, resource).values(
                res_type=record.resource_type, res_id=record.id, **values
            )
        else:
            stmt = (
                update(resource)
                .where(
                    resource.c.res_type == record.resource_type,
                    resource.c.res_id == record.id,
                    resource.c.version_id == previous_version,
                )
                .values(**values)
            )
        # RETURNING tells whether the row was written on both databases (rowcount is unreliable
        # for INSERT … ON CONFLICT DO NOTHING through some drivers).
        if self._conn.execute(stmt.returning(resource.c.version_id)).first() is None:
            raise VersionConflict(f"{record.resource_type}/{record.id} changed concurrently")
        seq = self._conn.execute(
            resource_history.insert()
            .values(
                res_type=record.resource_type,
                res_id=record.id,
                method=record.method,
                **values,
            )
            .returning(resource_history.c.seq)
        ).scalar_one()
        stored = StoredResource(**{**record.__dict__, "seq": seq})
        if self._indexer is not None:
            self._indexer.index(self._conn, self._dialect, stored)
        if self._outbox is not None and self._outbox.record(self._conn, self._dialect, stored):
            self.recorded += 1
        return stored

    def write_new_many(
        self,
        records: Sequence[StoredResource],
        index_rows: Sequence[Callable[[Any], Any] | None],
    ) -> list[StoredResource]:
        """Version 1 of many new resources at once (`bulk_write.write_new`: COPY on PostgreSQL):
        the same resource, history, search-index and outbox rows as `write` one by one.
        `index_rows[i]`: None, or a function of this store's `search.extract.Extractor` giving the
        `IndexRows` of `records[i]` (e.g. `search.templates`); None: extracted here.
        Raises VersionConflict when one exists already (roll the transaction back)."""
        from .bulk_write import write_new
        from .indexer import table_rows

        rows: list[Any] = []
        if self._indexer is not None:
            from .search_reindex import sync_registry

            sync_registry(self._conn, self._indexer.registry)
            extractor = self._indexer.extractor
            for record, given in zip(records, index_rows, strict=True):
                found = None
                if given is not None:
                    found = given(extractor)
                elif record.content is not None:
                    found = extractor.extract(record.content)
                rows.append(
                    None if found is None else table_rows(record.resource_type, record.id, found)
                )
        else:
            rows = [None] * len(records)
        stored = write_new(self._conn, self._dialect, records, rows)
        if self._outbox is not None:
            many = getattr(self._outbox, "record_many", None)
            if many is not None:
                self.recorded += many(self._conn, self._dialect, stored)
            else:
                for written in stored:
                    if self._outbox.record(self._conn, self._dialect, written):
                        self.recorded += 1
        return stored

    # -- search ------------------------------------------------------------------------------
    def search(
        self,
        resource_types: Sequence[str] | None,
        query: Sequence[tuple[str, str]],
        **options: Any,
    ) -> Any:
        """Run a FHIR search (see `storage.sql.search.execute_search` for the options)."""
        from .search import execute_search

        if self._indexer is None:
            raise RuntimeError("this database was opened without a search registry")
        return execute_search(
            self._conn, self._dialect, self._indexer.registry, resource_types, query, **options
        )

    # -- history -----------------------------------------------------------------------------
    def _history_select(self, query: HistoryQuery, columns: list[Any]) -> Select[Any]:
        h = resource_history
        conds = []
        if query.resource_type:
            conds.append(h.c.res_type == query.resource_type)
        if query.id:
            conds.append(h.c.res_id == query.id)
        if query.since:
            conds.append(h.c.last_updated >= query.since)
        if query.at_end is not None:
            # Current at some moment of [at_start, at_end): began before its end, and its
            # successor (if any) came after its start.
            nxt = h.alias("nxt")
            successor = (
                select(func.min(nxt.c.last_updated))
                .where(
                    nxt.c.res_type == h.c.res_type,
                    nxt.c.res_id == h.c.res_id,
                    nxt.c.version_id == h.c.version_id + 1,
                )
                .scalar_subquery()
            )
            conds.append(h.c.last_updated < query.at_end)
            conds.append(or_(successor.is_(None), successor > query.at_start))
        q = select(*columns)
        return q.where(and_(*conds)) if conds else q

    def history(self, query: HistoryQuery) -> list[StoredResource]:
        h = resource_history
        q = self._history_select(query, [h])
        if query.before_seq is not None:
            q = q.where(h.c.seq < query.before_seq)
        q = q.order_by(h.c.seq.desc()).limit(query.count)
        return [_record(r) for r in self._conn.execute(q)]

    def history_count(self, query: HistoryQuery) -> int:
        q = self._history_select(query, [func.count()])
        return int(self._conn.execute(q.select_from(resource_history)).scalar_one())
