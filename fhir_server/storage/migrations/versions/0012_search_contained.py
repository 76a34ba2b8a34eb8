"""Search: contained resources (`_contained`) and exact `near` distances in SQL.

- `search_contained`: one row per contained resource of a live resource — its type, a key
  (`res_id`, never a valid resource id: it holds `#`), the container and the contained JSON.  The
  contained resource's index rows sit in the ordinary `search_*` tables under (type, key), so every
  parameter, chain and `_has` works on them (http://hl7.org/fhir/R4/search.html#contained).
- `search_position.x/y/z`: the position on the unit sphere, so a radius test is arithmetic
  (chord length) that SQLite and PostgreSQL evaluate alike — `near` inside `_sort`, chains, `_has`
  and `_filter` is exact, not just a bounding box.  Existing rows are filled here.

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


def downgrade() -> None:
    with op.batch_alter_table("search_position") as batch:
        for name in ("x", "y", "z"):
            batch.drop_column(name)
    op.drop_table("search_contained")
