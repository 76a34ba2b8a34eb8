"""Search, more: composite groups, positions (`near`), text (`_text`/`_content`), sort values,
and the search-registry version (`$reindex`).  Tables in storage/sql/search_tables.py.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_cstr = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
_float = sa.Float(precision=53)
_TYPED = (
    "search_token",
    "search_string",
    "search_date",
    "search_number",
    "search_quantity",
    "search_reference",
    "search_uri",
)


def _key() -> list[sa.Column]:
    return [
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(100), nullable=False),
    ]


def upgrade() -> None:
    for name in _TYPED:
        op.add_column(name, sa.Column("grp", sa.Integer, nullable=True))
    op.create_table(
        "search_position",
        *_key(),
        sa.Column("latitude", _float, nullable=False),
        sa.Column("longitude", _float, nullable=False),
    )
    op.create_index(
        "ix_search_position_value",
        "search_position",
        ["res_type", "param", "latitude", "longitude"],
    )
    op.create_index("ix_search_position_res", "search_position", ["res_type", "res_id"])
    op.create_table("search_text", *_key(), sa.Column("value", sa.Text, nullable=False))
    op.create_index("ix_search_text_res", "search_text", ["res_type", "res_id"])
    op.create_table(
        "search_sort",
        *_key(),
        sa.Column("num_lo", _float, nullable=True),
        sa.Column("num_hi", _float, nullable=True),
        sa.Column("str_lo", _cstr, nullable=True),
        sa.Column("str_hi", _cstr, nullable=True),
    )
    for col in ("num_lo", "num_hi", "str_lo", "str_hi"):
        op.create_index(
            f"ix_search_sort_{col}", "search_sort", ["res_type", "param", col, "res_id"]
        )
    op.create_index("ix_search_sort_res", "search_sort", ["res_type", "res_id"])
    op.create_table(
        "search_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("search_state", "search_sort", "search_text", "search_position"):
        op.drop_table(name)
    for name in _TYPED:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("grp")
