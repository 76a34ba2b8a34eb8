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


#: `Connection.info` flag: this transaction plans prepared statements generically
_GENERIC_PLANS = "jiayi_generic_plans"


def generic_plans(conn: Any) -> None:
    """For the rest of this transaction, prepared statements keep one generic plan (PostgreSQL
    `SET LOCAL plan_cache_mode = force_generic_plan`; SQLite: nothing), once per transaction.

    The connections plan every execution afresh (`force_custom_plan`, engine.py: a search must
    see its values).  A write's statement is the same inserts whatever the values, and its bind
    step — where a custom plan of its CTEs is made — took almost as long as executing it in
    PostgreSQL's statement log (`log_min_duration_statement = 0`); a search later in the same
    transaction switches back first (`custom_plans`)."""
    if conn.dialect.name == "postgresql" and not conn.info.get(_GENERIC_PLANS):
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.info[_GENERIC_PLANS] = True


def custom_plans(conn: Any) -> None:
    """Undo `generic_plans` in this transaction, if it ran (no round trip otherwise)."""
    if conn.info.pop(_GENERIC_PLANS, False):
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def forget_plan_mode(conn: Any, *_args: Any) -> None:
    """The transaction ended (its SET LOCAL with it): the flag goes too (engine events)."""
    conn.info.pop(_GENERIC_PLANS, None)
