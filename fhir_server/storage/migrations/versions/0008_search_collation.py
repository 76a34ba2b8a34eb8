"""Search collation: resource keys byte-wise ("C") on PostgreSQL; trigram index for `_text`.

Default search order and the paging cursor sort on (res_type, res_id) byte-wise, as SQLite's
BINARY collation does.  The primary key used the database's default collation, so PostgreSQL
could not read it in that order and sorted every unsorted search (Seq Scan + Sort over all
rows).  Here the key columns of `resource`, `resource_history` and every `search_*` table (and
the reference targets, which join to `resource`) become `COLLATE "C"`; the indexes are rebuilt
with them, and an ORDER BY res_type, res_id walks the primary key.

`_text`/`_content` match substrings (`LIKE '%…%'`): where the `pg_trgm` extension is available
(or already installed) a GIN trigram index serves them; without it they stay scans of
`search_text` (documented in the README).  SQLite: nothing changes (BINARY is its default).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_KEYS = ("res_type", "res_id")
_TABLES: dict[str, tuple[str, ...]] = {
    "resource": _KEYS,
    "resource_history": _KEYS,
    "search_token": _KEYS,
    "search_string": _KEYS,
    "search_date": _KEYS,
    "search_number": _KEYS,
    "search_quantity": _KEYS,
    "search_reference": (*_KEYS, "target_type", "target_id"),
    "search_uri": _KEYS,
    "search_position": _KEYS,
    "search_text": _KEYS,
    "search_sort": _KEYS,
}
TRGM_INDEX = "ix_search_text_trgm"


def _alter(bind: sa.Connection, collation: str) -> None:
    """One ALTER TABLE per table (one rewrite), every key column at once."""
    for table, columns in _TABLES.items():
        changes = ", ".join(
            f'ALTER COLUMN {c} TYPE varchar(64) COLLATE "{collation}"' for c in columns
        )
        bind.execute(sa.text(f"ALTER TABLE {table} {changes}"))


def _trigram_index(bind: sa.Connection) -> None:
    """Create the trigram index when pg_trgm is (or can be) installed; otherwise leave a scan."""
    available = bind.execute(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar_one()
    if not available:
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:  # e.g. no privilege to create extensions: keep the scan
        savepoint.rollback()
        return
    savepoint.commit()
    bind.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON search_text USING gin (value gin_trgm_ops)"
        )
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _alter(bind, "C")
    _trigram_index(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.execute(sa.text(f"DROP INDEX IF EXISTS {TRGM_INDEX}"))
    _alter(bind, "default")
