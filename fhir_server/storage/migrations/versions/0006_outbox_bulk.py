"""Outbox, Bulk Data export jobs, subscription state.

Creates exactly the tables of `fhir_server/outbox/tables.py`, `fhir_server/bulk/tables.py` and
`fhir_server/subscriptions/tables.py`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(JSONB(), "postgresql")
_seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("seq", _seq, primary_key=True, autoincrement=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("history_seq", sa.BigInteger, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("occurred_at", _ts, nullable=False),
        sa.Column("topics", _json, nullable=False),
    )
    op.create_index("ix_outbox_event_resource", "outbox_event", ["res_type", "res_id"])
    op.create_table(
        "outbox_delivery",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_seq", sa.BigInteger, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("delivered_at", _ts, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_outbox_delivery_pending", "outbox_delivery", ["consumer", "status", "event_seq"]
    )
    op.create_table(
        "outbox_consumer",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _ts, nullable=True),
        sa.Column("retry_at", _ts, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_success_at", _ts, nullable=True),
    )
    op.create_table(
        "bulk_export_job",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request_url", sa.Text, nullable=False),
        sa.Column("params", _json, nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("requires_token", sa.Boolean, nullable=False),
        sa.Column("transaction_time", _ts, nullable=True),
        sa.Column("created_at", _ts, nullable=False),
        sa.Column("updated_at", _ts, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _ts, nullable=True),
        sa.Column("progress", sa.String(200), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "bulk_export_file",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("file_no", sa.Integer, primary_key=True),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "subscription_state",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("events_since_start", sa.BigInteger, nullable=False),
        sa.Column("last_sent_at", _ts, nullable=True),
        sa.Column("handshake_at", _ts, nullable=True),
    )
    op.create_table(
        "subscription_event",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("event_number", sa.BigInteger, primary_key=True),
        sa.Column("outbox_seq", sa.BigInteger, nullable=False),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("res_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("occurred_at", _ts, nullable=False),
        sa.UniqueConstraint("subscription_id", "outbox_seq", name="uq_subscription_event_seq"),
    )
    op.create_index("ix_subscription_event_seq", "subscription_event", ["outbox_seq"])


def downgrade() -> None:
    for name in (
        "subscription_event",
        "subscription_state",
        "bulk_export_file",
        "bulk_export_job",
        "outbox_consumer",
        "outbox_delivery",
        "outbox_event",
    ):
        op.drop_table(name)
