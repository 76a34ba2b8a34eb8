"""SMART: back-end clients bound to an Organization; single-use EHR launches.

`auth_client.organization` (the Organization id a client acts for; carried in its tokens and
matched against `Consent.provision.actor`), `auth_launch.client_id` / `username` / `used` (an
EHR launch is bound to the client and the EHR user who started it, and taken once).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("auth_client") as batch:
        batch.add_column(sa.Column("organization", sa.String(64), nullable=True))
    with op.batch_alter_table("auth_launch") as batch:
        batch.add_column(sa.Column("client_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("username", sa.String(255), nullable=True))
        batch.add_column(sa.Column("used", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("auth_launch") as batch:
        batch.drop_column("used")
        batch.drop_column("username")
        batch.drop_column("client_id")
    with op.batch_alter_table("auth_client") as batch:
        batch.drop_column("organization")
