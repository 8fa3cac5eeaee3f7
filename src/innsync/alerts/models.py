"""Tables: alerts (open and resolved, the history) and tenants' own alert thresholds."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, UtcDateTime, UuidPk


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
