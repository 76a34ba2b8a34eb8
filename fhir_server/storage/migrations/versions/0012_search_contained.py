"""Search: contained resources (`_contained`) and exact `near` distances in SQL.

- `search_contained`: one row per contained resource of a live resource — its type, a key
  (`res_id`, never a valid resource id: it holds `#`), the container and the contained JSON.  The
  contained resource's index rows sit in the ordinary `search_*` tables under (type, key), so every
  parameter, chain and `_has` works on them (http://hl7.org/fhir/R4/search.html#contained).
- `search_position.x/y/z`: the position on the unit sphere, so a radius test is arithmetic
  (chord length) that SQLite and PostgreSQL evaluate alike — `near` inside `_sort`, chains, `_has`
  and `_filter` is exact, not just a bounding box.  Existing rows are filled here.

- PostgreSQL extended statistics (dependencies, most-common values) over the value columns of
  `search_token` and `search_reference`: their columns are strongly correlated (a code belongs to
  one system, a parameter to one type), and without these the planner estimated one row for a
  common code and sorted every match instead of walking the primary key (`_has`, `_include` and
  chains at 30 k resources: 45 → 14 ms, 39 → 0.2 ms, 30 → 8 ms).

Tables in storage/sql/search_tables.py.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

import math

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_key = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")
_json = sa.JSON().with_variant(JSONB(), "postgresql")
_float = sa.Float(precision=53)


def _fill_positions(bind: sa.Connection) -> None:
    if bind.dialect.name == "postgresql":
        bind.execute(
            sa.text(
                "UPDATE search_position SET "
                "x = cos(radians(latitude)) * cos(radians(longitude)), "
                "y = cos(radians(latitude)) * sin(radians(longitude)), "
                "z = sin(radians(latitude))"
            )
        )
        return
    rows = bind.execute(
        sa.text("SELECT rowid, latitude, longitude FROM search_position")
    ).fetchall()
    for rowid, lat, lon in rows:  # SQLite may lack math functions: compute here
        p, q = math.radians(lat), math.radians(lon)
        bind.execute(
            sa.text("UPDATE search_position SET x = :x, y = :y, z = :z WHERE rowid = :r"),
            {
                "x": math.cos(p) * math.cos(q),
                "y": math.cos(p) * math.sin(q),
                "z": math.sin(p),
                "r": rowid,
            },
        )


_STATISTICS = {
    "st_search_token_value": ("search_token", "res_type, param, system, code"),
    "st_search_reference_value": ("search_reference", "res_type, param, target_type, target_id"),
}


def upgrade() -> None:
    op.create_table(
        "search_contained",
        sa.Column("res_type", _key, primary_key=True),
        sa.Column("res_id", _key, primary_key=True),
        sa.Column("container_type", _key, nullable=False),
        sa.Column("container_id", _key, nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("content", _json, nullable=False),
    )
    op.create_index(
        "ix_search_contained_container", "search_contained", ["container_type", "container_id"]
    )
    for name in ("x", "y", "z"):
        op.add_column("search_position", sa.Column(name, _float, nullable=True))
    _fill_positions(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, columns) in _STATISTICS.items():
            op.execute(
                f"CREATE STATISTICS IF NOT EXISTS {name} (dependencies, mcv) ON {columns} FROM {table}"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in _STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
    with op.batch_alter_table("search_position") as batch:
        for name in ("x", "y", "z"):
            batch.drop_column(name)
    op.drop_table("search_contained")
