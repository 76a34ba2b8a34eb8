"""Health-push planner state (issue 7): the contracts it follows, one plan per resident and
contract year, and named values (the contract watermark).

Creates exactly the tables of `fhir_server/storage/sql/push_plan.py`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ts = sa.DateTime(timezone=True)
_key = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "push_contract",
        sa.Column("contract_id", _key, primary_key=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=True),
        sa.Column("ends_on", sa.Date, nullable=True),
        sa.Column("patients", sa.JSON, nullable=False),
        sa.Column("care_team", sa.String(200), nullable=True),
        sa.Column("authority", sa.String(200), nullable=True),
        sa.Column("sender", sa.String(200), nullable=True),
        sa.Column("next_plan_on", sa.Date, nullable=True),
        sa.Column("synced_at", _ts, nullable=False),
    )
    op.create_index("ix_push_contract_plan", "push_contract", ["status", "next_plan_on"])
    op.create_table(
        "push_plan",
        sa.Column("contract_id", _key, primary_key=True),
        sa.Column("patient_id", _key, primary_key=True),
        sa.Column("year_start", sa.Date, primary_key=True),
        sa.Column("year_end", sa.Date, nullable=False),
        sa.Column("care_plan_id", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(200), nullable=True),
        sa.Column("slots", sa.JSON, nullable=False),
        sa.Column("done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_start", sa.Date, nullable=True),
        sa.Column("catch_up_from", sa.Date, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("divisions", sa.String(400), nullable=False, server_default=","),
        sa.Column("planned_at", _ts, nullable=False),
    )
    op.create_index("ix_push_plan_due", "push_plan", ["status", "next_start"])
    op.create_index("ix_push_plan_patient", "push_plan", ["patient_id"])
    op.create_table(
        "push_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("push_state")
    op.drop_index("ix_push_plan_patient", "push_plan")
    op.drop_index("ix_push_plan_due", "push_plan")
    op.drop_table("push_plan")
    op.drop_index("ix_push_contract_plan", "push_contract")
    op.drop_table("push_contract")
