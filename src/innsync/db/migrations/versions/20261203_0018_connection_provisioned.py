"""connection provisioned

The room types and rate plans provisioning created on the channel for a connection, so that
deleting the connection can remove those, and only those.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "connection_provisioned",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_connection_provisioned_connection_id_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_connection_provisioned_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_provisioned")),
        sa.UniqueConstraint(
            "connection_id",
            "kind",
            "remote_id",
            name=op.f("uq_connection_provisioned_connection_id_kind_remote_id"),
        ),
    )
    with op.batch_alter_table("connection_provisioned") as batch:
        batch.create_index(
            batch.f("ix_connection_provisioned_connection_id"), ["connection_id"], unique=False
        )
        batch.create_index(
            batch.f("ix_connection_provisioned_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("connection_provisioned") as batch:
        batch.drop_index(batch.f("ix_connection_provisioned_tenant_id"))
        batch.drop_index(batch.f("ix_connection_provisioned_connection_id"))
    op.drop_table("connection_provisioned")
