"""money in the currency's own minor units

Money columns take three decimals (BHD, KWD, OMR) and keep ten integer digits.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("rate_calendar", "price", True),
    ("reservations", "total_amount", False),
    ("reservation_rooms", "amount", False),
)


def upgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.Numeric(precision=12, scale=2),
                type_=sa.Numeric(precision=13, scale=3),
                existing_nullable=nullable,
            )


def downgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.Numeric(precision=13, scale=3),
                type_=sa.Numeric(precision=12, scale=2),
                existing_nullable=nullable,
            )
