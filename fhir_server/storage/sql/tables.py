"""The schema (SQLAlchemy Core).  Alembic migrations in `storage/migrations` create exactly this.

- `resource`: the current version of every resource (deleted ones keep a tombstone row).
- `resource_history`: every version ever written, numbered by a global `seq` that orders the
  system history and serves as its paging cursor.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import JSON

metadata = MetaData()

#: JSONB on PostgreSQL, JSON text on SQLite.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")
#: Resource keys (type, id): byte-wise on both databases (SQLite's BINARY default; "C" on
#: PostgreSQL, migration 0008), so ORDER BY res_type, res_id walks the primary key.
Key = String(64).with_variant(String(64, collation="C"), "postgresql")
#: 64-bit sequence on PostgreSQL; SQLite needs INTEGER for its rowid alias.
Seq = BigInteger().with_variant(Integer(), "sqlite")

resource = Table(
    "resource",
    metadata,
    Column("res_type", Key, primary_key=True),
    Column("res_id", Key, primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", JsonDocument, nullable=True),
    Index("ix_resource_type_updated", "res_type", "last_updated"),
)

resource_history = Table(
    "resource_history",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("res_type", Key, nullable=False),
    Column("res_id", Key, nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", JsonDocument, nullable=True),
    UniqueConstraint("res_type", "res_id", "version_id", name="uq_history_version"),
    Index("ix_history_type_seq", "res_type", "seq"),
    Index("ix_history_updated", "last_updated"),
)
