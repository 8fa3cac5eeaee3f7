"""bucket lease fence

The fencing token of a bucket lease (bucket_leases.fence): raised by every claim, checked before
a worker records what a channel accepted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bucket_leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fence", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("bucket_leases", schema=None) as batch_op:
        batch_op.drop_column("fence")
