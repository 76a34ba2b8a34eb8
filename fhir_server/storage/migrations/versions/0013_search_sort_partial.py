"""Search: the four value indexes of `search_sort` hold only the rows with that value.

A sort row is numeric (dates, numbers, quantities: `num_lo`/`num_hi`) or textual (`str_lo`/
`str_hi`), never both, yet each of the four indexes had an entry for every row: five index entries
per row, two of them for NULLs nobody reads.  Partial indexes (`WHERE <column> IS NOT NULL`, on
both databases) leave three; `_sort` queries say `IS NOT NULL` so the planner can use them
(storage/sql/search_sort.py).  A Patient create writes ~15 sort rows, so its write statement
maintains 30 fewer index entries.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = ("num_lo", "num_hi", "str_lo", "str_hi")


def upgrade() -> None:
    for col in _COLUMNS:
        op.drop_index(f"ix_search_sort_{col}", table_name="search_sort")
        where = sa.text(f"{col} IS NOT NULL")
        op.create_index(
            f"ix_search_sort_{col}",
            "search_sort",
            ["res_type", "param", col, "res_id"],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    for col in _COLUMNS:
        op.drop_index(f"ix_search_sort_{col}", table_name="search_sort")
        op.create_index(
            f"ix_search_sort_{col}", "search_sort", ["res_type", "param", col, "res_id"]
        )
