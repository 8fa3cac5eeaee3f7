"""operator tools

Connections get a shadow mode switch (plan and log what would be sent, send nothing), and every
operator action on a connection (switch changes, inbox requeues, forced pulls) is kept in
``connection_audit``.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    # A plain ADD COLUMN on every database, SQLite included: batch mode would rebuild
    # ``connections``, and dropping the old table fails while other rows refer to it.
    op.add_column(
        "connections",
        sa.Column("shadow_mode", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "connection_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_connection_audit_connection_id_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_connection_audit_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_audit")),
    )
    op.create_index(
        "ix_connection_audit_connection_id", "connection_audit", ["connection_id", "id"]
    )
    op.create_index(
        op.f("ix_connection_audit_tenant_id"), "connection_audit", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_connection_audit_tenant_id"), table_name="connection_audit")
    op.drop_index("ix_connection_audit_connection_id", table_name="connection_audit")
    op.drop_table("connection_audit")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("shadow_mode")
