"""Scheduled-job state: leases and last periods of the in-process job scheduler.

Creates exactly the table of `fhir_server/storage/sql/job_schedule.py`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_schedule",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _ts, nullable=True),
        sa.Column("last_period", sa.String(32), nullable=True),
        sa.Column("last_started_at", _ts, nullable=True),
        sa.Column("last_finished_at", _ts, nullable=True),
        sa.Column("last_summary", sa.Text, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("retry_at", _ts, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("job_schedule")
