"""room assignment

The property's assignment policy, and the nights each unit is held (one row per unit and night,
so no unit can be booked twice on a night).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("room_assignment", sa.String(length=8), server_default="fill", nullable=False)
        )
    op.create_table(
        "unit_nights",
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("night", sa.Date(), nullable=False),
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_unit_nights_reservation_id_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_nights_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", "night", name=op.f("pk_unit_nights")),
    )
    with op.batch_alter_table("unit_nights", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_unit_nights_reservation_id"), ["reservation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("unit_nights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_nights_reservation_id"))
    op.drop_table("unit_nights")
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.drop_column("room_assignment")
