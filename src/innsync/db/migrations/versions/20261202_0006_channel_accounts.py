"""channel accounts

Channel accounts held by the operator (encrypted config, rotatable), the tenants granted each,
and the account a connection uses (connections.account_id, null for own credentials).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 19:39:37.553549
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "rotated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=True,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_channel_accounts_name")),
    )
    op.create_table(
        "channel_account_grants",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_channel_account_grants_account_id_channel_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_channel_account_grants_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("account_id", "tenant_id", name=op.f("pk_channel_account_grants")),
    )
    with op.batch_alter_table("channel_account_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_account_grants_tenant_id"), ["tenant_id"], unique=False
        )

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_connections_account_id"), ["account_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_connections_account_id_channel_accounts"),
            "channel_accounts",
            ["account_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_connections_account_id_channel_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_connections_account_id"))
        batch_op.drop_column("account_id")

    # Dropping the table drops its index; MariaDB refuses to drop it alone (its foreign key
    # needs it).
    op.drop_table("channel_account_grants")
    op.drop_table("channel_accounts")
