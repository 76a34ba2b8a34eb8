"""Subscriptions: the subscriber of each Subscription and the method of each numbered event.

`subscription_owner` (the principal that created or last changed a Subscription, as token
claims: its access decides what the notifications may carry), `subscription_event.method`
(POST / PUT / PATCH / DELETE, for `Bundle.entry.request.method` of notifications),
`subscription_state.start_seq` (the last outbox event before the subscription became active:
earlier events are not its own).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subscription_owner",
        sa.Column("subscription_id", sa.String(64), primary_key=True),
        sa.Column("claims", _json, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("subscription_event") as batch:
        batch.add_column(sa.Column("method", sa.String(8), nullable=False, server_default="PUT"))
    with op.batch_alter_table("subscription_state") as batch:
        batch.add_column(sa.Column("start_seq", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscription_state") as batch:
        batch.drop_column("start_seq")
    with op.batch_alter_table("subscription_event") as batch:
        batch.drop_column("method")
    op.drop_table("subscription_owner")
