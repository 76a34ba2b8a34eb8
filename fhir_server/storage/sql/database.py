"""`SqlDatabase`: engine + units of work (one DB transaction each) + migrations on start."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine

from ...search.registry import SearchRegistry
from .engine import create_engine
from .indexer import SqlSearchIndexer
from .store import OutboxHook, SqlResourceStore


class SqlUnitOfWork:
    """One transaction.  Leaving the block without `commit()` rolls back.  With an `outbox`, every
    write records its outbox event in this transaction and `outbox.committed()` runs after commit."""

    def __init__(
        self,
        engine: Engine,
        dialect: str,
        write: bool,
        indexer: SqlSearchIndexer | None = None,
        outbox: OutboxHook | None = None,
    ) -> None:
        self._engine = engine
        self._indexer = indexer
        self._outbox = outbox
        self._dialect = dialect
        self._write = write
        self._conn: Connection | None = None
        self._hooks: list[Callable[[], None]] = []
        self._done = False

    def __enter__(self) -> SqlUnitOfWork:
        conn = self._engine.connect()
        if self._dialect == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE" if self._write else "DEFERRED")
        elif not self._write:
            # Reads need no transaction block: no BEGIN/ROLLBACK round trips on PostgreSQL.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.begin()
        self._conn = conn
        self.resources = SqlResourceStore(conn, self._dialect, self._indexer, self._outbox)
        return self

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work not entered"
        return self._conn

    def commit(self) -> None:
        self.connection.commit()
        self._done = True
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()
        if self._outbox is not None and self.resources.recorded:
            self._outbox.committed()

    def rollback(self) -> None:
        if self._conn is not None and not self._done:
            self._conn.rollback()
        self._done = True
        self._hooks.clear()

    def after_commit(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)

    def lock(self, key: str) -> None:
        """Serialise writers that decide on the same `key` (conditional create/update) until the
        transaction ends.  SQLite writers are serialised already (BEGIN IMMEDIATE)."""
        if self._dialect == "postgresql":
            self.connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
            )

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._done:
                self.rollback()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SqlDatabase:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        max_overflow: int = 50,
        registry: SearchRegistry | None = None,
        base_url: str | None = None,
        outbox: OutboxHook | None = None,
    ) -> None:
        self.url = url
        self.registry = registry
        #: Records outbox events in every writing unit of work (`outbox.writer.OutboxWriter`);
        #: the composition root sets it (`app.build_components`).
        self.outbox = outbox
        self.indexer = SqlSearchIndexer(registry, base_url) if registry is not None else None
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self.dialect = self.engine.dialect.name

    def unit_of_work(self, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.dialect, write, self.indexer, self.outbox)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def upgrade(self) -> None:
        from ..migrations import upgrade

        upgrade(self.engine)
        if self.engine.dialect.name == "postgresql":  # indexes an interrupted bulk load dropped
            from ...tools.bulk_load import restore_indexes

            restore_indexes(self.engine.url.render_as_string(hide_password=False))

    def dispose(self) -> None:
        self.engine.dispose()

    def run(self, fn: Callable[[Connection], Any]) -> Any:
        with self.engine.begin() as conn:
            return fn(conn)
