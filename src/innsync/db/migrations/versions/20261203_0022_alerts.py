"""alerts

Alerts opened and resolved by the alert rules (innsync.alerts), and tenants' own thresholds
(a JSON map per tenant).
``open_key`` is set only while an alert is open: unique with the tenant, it keeps one open alert
per rule and subject under concurrent evaluators (NULLs of resolved rows never collide).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("subject_kind", sa.String(length=24), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=160), nullable=True),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alerts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("tenant_id", "open_key", name=op.f("uq_alerts_tenant_id_open_key")),
    )
    op.create_index("ix_alerts_tenant_opened", "alerts", ["tenant_id", "opened_at"], unique=False)
    op.create_table(
        "alert_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alert_settings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_alert_settings")),
    )


def downgrade() -> None:
    op.drop_table("alert_settings")
    op.drop_index("ix_alerts_tenant_opened", table_name="alerts")
    op.drop_table("alerts")
