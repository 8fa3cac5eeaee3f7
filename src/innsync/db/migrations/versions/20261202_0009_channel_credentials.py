"""channel credentials

Tokens a channel issues to a connection (OAuth access tokens, Beds24 and Booking.com tokens),
encrypted, with the lease that lets one process at a time refresh them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:50:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "channel_credentials",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("expires_at", _utc(), nullable=True),
        sa.Column("refresh_holder", sa.String(length=64), nullable=True),
        sa.Column("refresh_lease_until", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_channel_credentials_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "name", name=op.f("pk_channel_credentials")),
    )


def downgrade() -> None:
    op.drop_table("channel_credentials")
