"""Tables: alerts (open and resolved, the history) and tenants' own alert thresholds."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, Timestamps, UtcDateTime, UuidPk, utcnow


class AlertState(StrEnum):
    """Where an alert stands; stored as these strings (``alerts.state``)."""

    OPEN = "open"
    RESOLVED = "resolved"


class Alert(UuidPk, Base):
    """One episode of a rule's condition holding for one subject; resolved rows are the history.

    ``open_key`` is ``rule:subject_kind:subject_id`` while the alert is open and NULL once it is
    resolved. Unique with the tenant, it lets at most one open alert exist per rule and subject
    even when two evaluators race, on all three databases: each treats NULLs as distinct in a
    unique index, so any number of resolved rows may share rule and subject.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "open_key"),
        Index("ix_alerts_tenant_opened", "tenant_id", "opened_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    rule: Mapped[str] = mapped_column(String(48))
    subject_kind: Mapped[str] = mapped_column(String(24))  # "tenant" | "connection" | ...
    subject_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default=AlertState.OPEN)
    open_key: Mapped[str | None] = mapped_column(String(160), default=None)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Figures behind the alert (counts, ratios, the threshold); never guests' details.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertSettings(Base):
    """A tenant's own alert thresholds, ``{rule: value}``, overriding the installation's
    settings; one row per tenant that has any (a JSON map: rules come and go without
    migrations, and backups carry JSON as is)."""

    __tablename__ = "alert_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    thresholds: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)


class AlertPass(Base):
    """The one row that makes an evaluation pass one process's: a process evaluates only after
    moving ``last_pass_at`` forward with a conditional update (``alerts.lease``)."""

    __tablename__ = "alert_passes"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120), default=None)
    last_pass_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class TargetKind(StrEnum):
    """Where a notification goes; stored as these strings (``notification_targets.kind``)."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"


class NotificationTarget(UuidPk, Timestamps, Base):
    """Someone of a tenant told about its alerts: an e-mail address, a signed webhook or a
    Slack-compatible incoming webhook, for some rules (empty: all) at or above a severity.

    The address is encrypted like every other secret (a Slack URL is its own credential), and
    so is the webhook's signing secret.
    """

    __tablename__ = "notification_targets"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    address_encrypted: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_severity: Mapped[str] = mapped_column(String(16), default="warning")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class NotificationStatus(StrEnum):
    """Where one notification stands; stored as these strings (``notifications.status``)."""

    PENDING = "pending"  # to send, or held by the rate limit until ``next_attempt_at``
    SENT = "sent"
    FOLDED = "folded"  # told as part of the summary ``folded_into`` sent
    FAILED = "failed"  # gave up after the last attempt, or the target is gone


class Notification(Base):
    """One alert transition (opened, resolved) to tell one target: written in the evaluation's
    transaction, sent by the notification loop, retried when the send fails."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_notifications_target_rule_sent", "target_id", "rule", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_targets.id", ondelete="CASCADE")
    )
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(48))
    transition: Mapped[str] = mapped_column(String(16))  # "opened" | "resolved"
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    folded_into: Mapped[int | None] = mapped_column(BigIntId, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
