"""alert notifications

Notification targets of a tenant's alerts (e-mail, signed webhook, Slack-compatible webhook;
address and secret encrypted), one row per alert transition to tell each target (sent, folded
into a rate-limited summary, retried), the one row that leases an evaluation pass to one
process, and the count of failed refreshes on channel credentials (the token refresh rule).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CREDENTIAL_TABLES = ("channel_credentials", "channel_account_credentials")


def upgrade() -> None:
    for table in CREDENTIAL_TABLES:
        with op.batch_alter_table(table) as batch:
            # Existing rows have never failed a refresh: 0, then the model's own default.
            batch.add_column(
                sa.Column("refresh_failures", sa.Integer(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("refresh_failed_at", TIMESTAMP, nullable=True))
            batch.add_column(sa.Column("refresh_error", sa.String(length=500), nullable=True))
        with op.batch_alter_table(table) as batch:
            batch.alter_column("refresh_failures", server_default=None)
    op.create_table(
        "alert_passes",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=True),
        sa.Column("last_pass_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_alert_passes")),
    )
    op.create_table(
        "notification_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address_encrypted", sa.Text(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_notification_targets_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_targets")),
    )
    op.create_index(
        op.f("ix_notification_targets_tenant_id"), "notification_targets", ["tenant_id"]
    )
    op.create_table(
        "notifications",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("transition", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("folded_into", BIGINT, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_notifications_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["notification_targets.id"],
            name=op.f("fk_notifications_target_id_notification_targets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_notifications_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_tenant_id"), "notifications", ["tenant_id"])
    op.create_index(
        "ix_notifications_status_next_attempt", "notifications", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_notifications_target_rule_sent", "notifications", ["target_id", "rule", "sent_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_target_rule_sent", table_name="notifications")
    op.drop_index("ix_notifications_status_next_attempt", table_name="notifications")
    op.drop_index(op.f("ix_notifications_tenant_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_notification_targets_tenant_id"), table_name="notification_targets")
    op.drop_table("notification_targets")
    op.drop_table("alert_passes")
    for table in CREDENTIAL_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("refresh_error")
            batch.drop_column("refresh_failed_at")
            batch.drop_column("refresh_failures")
