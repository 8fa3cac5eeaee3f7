"""channex catalog and claims

The property's address, contact and content; rate plans' child and infant fees; the digest of
the catalog a connection last provisioned (the catalog pass re-provisions while it differs);
and one claim per reservation and OTA report, so two reports at once reach the OTA once.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MONEY = sa.Numeric(precision=13, scale=3)
PROPERTY_COLUMNS = (
    ("email", sa.String(length=254)),
    ("phone", sa.String(length=32)),
    ("zip_code", sa.String(length=32)),
    ("country", sa.String(length=2)),
    ("state", sa.String(length=100)),
    ("city", sa.String(length=100)),
    ("address", sa.String(length=255)),
    ("latitude", sa.String(length=16)),
    ("longitude", sa.String(length=16)),
    ("website", sa.String(length=500)),
    ("description", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("properties") as batch:
        for name, kind in PROPERTY_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("rate_plans") as batch:
        batch.add_column(sa.Column("children_fee", MONEY, nullable=True))
        batch.add_column(sa.Column("infant_fee", MONEY, nullable=True))
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("catalog_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("catalog_lease_until", TIMESTAMP, nullable=True))
    op.create_table(
        "reservation_ota_claims",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("reservation_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("claimed_at", TIMESTAMP, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_reservation_ota_claims_reservation_id_reservations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_reservation_ota_claims_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation_ota_claims")),
        sa.UniqueConstraint(
            "reservation_id",
            "action",
            name=op.f("uq_reservation_ota_claims_reservation_id_action"),
        ),
    )
    with op.batch_alter_table("reservation_ota_claims") as batch:
        batch.create_index(
            batch.f("ix_reservation_ota_claims_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reservation_ota_claims") as batch:
        batch.drop_index(batch.f("ix_reservation_ota_claims_tenant_id"))
    op.drop_table("reservation_ota_claims")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("catalog_lease_until")
        batch.drop_column("catalog_digest")
    with op.batch_alter_table("rate_plans") as batch:
        batch.drop_column("infant_fee")
        batch.drop_column("children_fee")
    with op.batch_alter_table("properties") as batch:
        for name, _kind in reversed(PROPERTY_COLUMNS):
            batch.drop_column(name)
