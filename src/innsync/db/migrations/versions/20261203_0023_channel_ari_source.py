"""channel ari source

A property's ARI can come from one connection (``ari_sources``, marketplace/): the availability
it reports per room type and stay date (``channel_availability``), the provenance of each rate
calendar value (``rate_calendar.source_connection_id``, ``source_updated_at``), and when a
booking push's current revision was queued (``booking_pushes.queued_at``, for the
confirmation-deadline alert).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "ari_sources",
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("next_pull_at", TIMESTAMP, nullable=False),
        sa.Column("pulled_at", TIMESTAMP, nullable=True),
        sa.Column("pull_error", sa.Text(), nullable=False),
        sa.Column("limiter_state", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_ari_sources_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_ari_sources_property_id_properties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_ari_sources_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("property_id", name=op.f("pk_ari_sources")),
        sa.UniqueConstraint("connection_id", name=op.f("uq_ari_sources_connection_id")),
    )
    op.create_index(op.f("ix_ari_sources_tenant_id"), "ari_sources", ["tenant_id"], unique=False)
    op.create_table(
        "channel_availability",
        sa.Column("room_type_id", sa.Uuid(), nullable=False),
        sa.Column("stay_date", sa.Date(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_channel_availability_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_type_id"],
            ["room_types.id"],
            name=op.f("fk_channel_availability_room_type_id_room_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_type_id", "stay_date", name=op.f("pk_channel_availability")),
    )
    op.create_index(
        op.f("ix_channel_availability_connection_id"),
        "channel_availability",
        ["connection_id"],
        unique=False,
    )
    with op.batch_alter_table("rate_calendar") as batch:
        batch.add_column(sa.Column("source_connection_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("source_updated_at", TIMESTAMP, nullable=True))
        batch.create_foreign_key(
            batch.f("fk_rate_calendar_source_connection_id_connections"),
            "connections",
            ["source_connection_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("booking_pushes") as batch:
        batch.add_column(sa.Column("queued_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking_pushes") as batch:
        batch.drop_column("queued_at")
    with op.batch_alter_table("rate_calendar") as batch:
        batch.drop_constraint(
            batch.f("fk_rate_calendar_source_connection_id_connections"), type_="foreignkey"
        )
        batch.drop_column("source_updated_at")
        batch.drop_column("source_connection_id")
    op.drop_index(op.f("ix_channel_availability_connection_id"), table_name="channel_availability")
    op.drop_table("channel_availability")
    op.drop_index(op.f("ix_ari_sources_tenant_id"), table_name="ari_sources")
    op.drop_table("ari_sources")
