"""api key expiry, inbox retention index

``api_keys.expires_at``: an optional moment after which a key is refused. The index on
``inbox_items (status, processed_at)`` lets the retention job find old finished items
without scanning the inbox.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", TIMESTAMP, nullable=True))
    with op.batch_alter_table("inbox_items") as batch:
        batch.create_index(
            batch.f("ix_inbox_items_status_processed_at"), ["status", "processed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_items") as batch:
        batch.drop_index(batch.f("ix_inbox_items_status_processed_at"))
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
