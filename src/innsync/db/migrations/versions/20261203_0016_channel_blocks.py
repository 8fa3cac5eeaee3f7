"""channel blocks

A block may mirror dates a channel shows closed (an iCal "Not available"), owned by the
connection that reads them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.add_column(sa.Column("connection_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_blocks_connection_id"), ["connection_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_blocks_connection_id_connections"),
            "connections",
            ["connection_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.drop_constraint(batch.f("fk_blocks_connection_id_connections"), type_="foreignkey")
        batch.drop_index(batch.f("ix_blocks_connection_id"))
        batch.drop_column("connection_id")
