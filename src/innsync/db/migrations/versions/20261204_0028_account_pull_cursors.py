"""account pull cursors

One row per operator channel account whose feed covers all its properties (Channex): the feed
is read once per turn for every connection on the account (issue #18, scale).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "account_pull_cursors",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("cursor", sa.String(length=512), nullable=True),
        sa.Column("next_pull_at", TIMESTAMP, nullable=False),
        sa.Column("last_pulled_at", TIMESTAMP, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_account_pull_cursors_account_id_channel_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_pull_cursors")),
    )
    op.create_index(
        op.f("ix_account_pull_cursors_next_pull_at"),
        "account_pull_cursors",
        ["next_pull_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_pull_cursors_next_pull_at"), table_name="account_pull_cursors")
    op.drop_table("account_pull_cursors")
