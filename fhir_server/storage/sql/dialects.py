"""The only place where SQLite and PostgreSQL SQL differ."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflict(dialect: str, table: Table) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` (keeps a PostgreSQL transaction usable after a clash)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(dialect: str, table: Table, keys: Sequence[str], columns: Sequence[str]) -> Any:
    """`INSERT … ON CONFLICT (keys) DO UPDATE SET` the given columns to the inserted values."""
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
    )


def without_flush_wait(conn: Any) -> None:
    """This transaction's COMMIT does not wait for its WAL to reach the disk (PostgreSQL
    `SET LOCAL synchronous_commit = off`; SQLite: nothing).  Only for bookkeeping whose loss in
    a crash merely repeats work — leases (they expire anyway), delivery status (the event is
    delivered again; receivers deduplicate): the WAL is flushed in order, so a crash can lose
    only the newest such commits, never one a client was told was written.  A background round
    commits several of these; waiting for a flush each time cost half the disk of a busy server."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
