"""ical exports

One precomputed .ics export per iCal connection, served at /ical/{token}.ics.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 03:00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "ical_exports",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("dirty_version", sa.Integer(), nullable=False),
        sa.Column("built_version", sa.Integer(), nullable=False),
        sa.Column(
            "body",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
            nullable=True,
        ),
        sa.Column("etag", sa.String(length=64), nullable=True),
        sa.Column("last_modified", _utc(), nullable=True),
        sa.Column("rebuild_after", _utc(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_ical_exports_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"], ["properties.id"], name=op.f("fk_ical_exports_property_id_properties")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ical_exports_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_ical_exports")),
        sa.UniqueConstraint("token", name=op.f("uq_ical_exports_token")),
    )
    op.create_index(
        op.f("ix_ical_exports_property_id"), "ical_exports", ["property_id"], unique=False
    )
    op.create_index(op.f("ix_ical_exports_tenant_id"), "ical_exports", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ical_exports_tenant_id"), table_name="ical_exports")
    op.drop_index(op.f("ix_ical_exports_property_id"), table_name="ical_exports")
    op.drop_table("ical_exports")
