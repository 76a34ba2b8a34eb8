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
