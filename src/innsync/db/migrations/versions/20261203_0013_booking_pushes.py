"""booking pushes

Direct bookings owed to the channels that take them (the outbox of booking pushes), with the
channel's booking id per reservation and connection; and the connection switch that turns
booking pushes on or off.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channels whose adapter takes bookings (PushesReservations) when this was written: their
# existing connections get booking pushes on, as a new connection of theirs would.
CHANNELS_TAKING_BOOKINGS = ("beds24",)


def _utc() -> sa.types.TypeEngine[datetime]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("push_bookings", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    connections = sa.table("connections", sa.column("channel"), sa.column("push_bookings"))
    op.execute(
        connections.update()
        .where(connections.c.channel.in_(CHANNELS_TAKING_BOOKINGS))
        .values(push_bookings=True)
    )
    op.create_table(
        "booking_pushes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("wanted_revision", sa.Integer(), nullable=False),
        sa.Column("pushed_revision", sa.Integer(), nullable=True),
        sa.Column("channel_booking_id", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_booking_pushes_connection_id_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_booking_pushes_reservation_id_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_booking_pushes_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_pushes")),
        sa.UniqueConstraint(
            "reservation_id",
            "connection_id",
            name=op.f("uq_booking_pushes_reservation_id_connection_id"),
        ),
    )
    with op.batch_alter_table("booking_pushes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_booking_pushes_state_due", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_booking_pushes_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_booking_pushes_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("booking_pushes")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("push_bookings")
