"""channel account credentials

Tokens a channel issues to an account several connections share (Booking.com's machine
account), encrypted, with the refresh lease and the count of recent issues that keeps the
channel's hourly cap across processes. Keyed by a SHA-256 of the account key.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:10:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "channel_account_credentials",
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("issued", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("expires_at", _utc(), nullable=True),
        sa.Column("refresh_holder", sa.String(length=64), nullable=True),
        sa.Column("refresh_lease_until", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("account_key", "name", name=op.f("pk_channel_account_credentials")),
    )


def downgrade() -> None:
    op.drop_table("channel_account_credentials")
