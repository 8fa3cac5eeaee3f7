"""backup operations

The record of every backup create, verify, restore, delete and prune.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backup_operations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("backup_name", sa.String(length=120), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_operations")),
    )
    with op.batch_alter_table("backup_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_backup_operations_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("backup_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backup_operations_started_at"))
    op.drop_table("backup_operations")
