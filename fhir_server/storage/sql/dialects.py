"""The only place where SQLite and PostgreSQL SQL differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_conflict(dialect: str, table: Table) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` (keeps a PostgreSQL transaction usable after a clash)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
