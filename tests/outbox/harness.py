"""A database whose store records outbox events, whether or not the lead has applied the
`outbox=` wiring to `SqlDatabase` yet (then a thin subclass adds the same hook)."""

from __future__ import annotations

import inspect
from typing import Any

from fhir_server.outbox.writer import OutboxWriter
from fhir_server.search.registry import r4_registry
from fhir_server.storage.sql import SqlDatabase
from fhir_server.storage.sql.database import SqlUnitOfWork

BASE = "http://testserver/fhir"
WIRED = "outbox" in inspect.signature(SqlDatabase.__init__).parameters


class _HookedUnitOfWork(SqlUnitOfWork):
    def __init__(self, *args: Any, outbox: OutboxWriter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outbox_writer = outbox

    def __enter__(self) -> _HookedUnitOfWork:
        super().__enter__()
        store, writer = self.resources, self._outbox_writer
        plain_write = store.write

        def write(record: Any, previous_version: int) -> Any:
            stored = plain_write(record, previous_version)
            writer.record(store._conn, store._dialect, stored)
            return stored

        store.write = write  # type: ignore[method-assign]
        return self

    def commit(self) -> None:
        super().commit()
        self._outbox_writer.committed()


class _HookedDatabase(SqlDatabase):
    def __init__(self, url: str, *, outbox: OutboxWriter, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._outbox_writer = outbox

    def unit_of_work(self, write: bool = True) -> SqlUnitOfWork:
        return _HookedUnitOfWork(
            self.engine, self.dialect, write, self.indexer, outbox=self._outbox_writer
        )


def outbox_database(url: str, writer: OutboxWriter) -> SqlDatabase:
    if WIRED:
        return SqlDatabase(url, registry=r4_registry(), base_url=BASE, outbox=writer)  # type: ignore[call-arg]
    return _HookedDatabase(url, registry=r4_registry(), base_url=BASE, outbox=writer)
