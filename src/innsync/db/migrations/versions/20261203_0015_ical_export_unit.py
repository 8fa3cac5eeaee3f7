"""ical export unit

An .ics export may be one unit's calendar (rentals sold unit by unit).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ical_exports") as batch:
        batch.add_column(sa.Column("unit_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_ical_exports_unit_id"), ["unit_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_ical_exports_unit_id_units"),
            "units",
            ["unit_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("ical_exports") as batch:
        batch.drop_constraint(batch.f("fk_ical_exports_unit_id_units"), type_="foreignkey")
        batch.drop_index(batch.f("ix_ical_exports_unit_id"))
        batch.drop_column("unit_id")
