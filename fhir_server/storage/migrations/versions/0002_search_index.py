"""Search index: one table per search-parameter type (see storage/sql/search_tables.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_cstr = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
_float = sa.Float(precision=53)


def _key() -> list[sa.Column]:
    return [
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(100), nullable=False),
    ]


_TABLES: dict[str, tuple[list[sa.Column], list[tuple[str, list[str]]]]] = {
    "search_token": (
        [
            sa.Column("system", _cstr, nullable=True),
            sa.Column("code", _cstr, nullable=True),
            sa.Column("text", _cstr, nullable=True),
        ],
        [("ix_search_token_value", ["res_type", "param", "code", "system"])],
    ),
    "search_string": (
        [sa.Column("value", _cstr, nullable=False), sa.Column("exact", sa.Text, nullable=False)],
        [("ix_search_string_value", ["res_type", "param", "value"])],
    ),
    "search_date": (
        [
            sa.Column("low", sa.BigInteger, nullable=False),
            sa.Column("high", sa.BigInteger, nullable=False),
        ],
        [
            ("ix_search_date_low", ["res_type", "param", "low"]),
            ("ix_search_date_high", ["res_type", "param", "high"]),
        ],
    ),
    "search_number": (
        [sa.Column("value", _float, nullable=False)],
        [("ix_search_number_value", ["res_type", "param", "value"])],
    ),
    "search_quantity": (
        [
            sa.Column("system", _cstr, nullable=True),
            sa.Column("code", _cstr, nullable=True),
            sa.Column("value", _float, nullable=False),
        ],
        [("ix_search_quantity_value", ["res_type", "param", "code", "value"])],
    ),
    "search_reference": (
        [
            sa.Column("target_type", sa.String(64), nullable=True),
            sa.Column("target_id", sa.String(64), nullable=True),
            sa.Column("url", _cstr, nullable=True),
        ],
        [
            ("ix_search_reference_target", ["target_id", "target_type", "param", "res_type"]),
            ("ix_search_reference_url", ["url"]),
        ],
    ),
    "search_uri": (
        [sa.Column("value", _cstr, nullable=False)],
        [("ix_search_uri_value", ["res_type", "param", "value"])],
    ),
}


def upgrade() -> None:
    for name, (columns, indexes) in _TABLES.items():
        op.create_table(name, *_key(), *columns)
        for index_name, index_columns in indexes:
            op.create_index(index_name, name, index_columns)
        op.create_index(f"ix_{name}_res", name, ["res_type", "res_id"])


def downgrade() -> None:
    for name in reversed(list(_TABLES)):
        op.drop_table(name)
