"""Tables: events, their feed positions, webhook subscriptions and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, Timestamps, UtcDateTime, UuidPk, utcnow
from innsync.db.personal import EncryptedJSON


class Event(Base):
    """Something the PMS should know, written in the transaction of the change that caused it.

    ``id`` orders inserts, but concurrent transactions can commit out of id order, so a feed
    reader paging by id could skip an event. ``position`` is assigned after commit by one
    sequencer at a time and is what the feed pages by.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(64))
    property_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # Reservation events carry the guest: encrypted at rest.
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    position: Mapped[int | None] = mapped_column(BigInteger, default=None, unique=True)

    __table_args__ = (Index("ix_events_tenant_position", "tenant_id", "position"),)


class Counter(Base):
    """A named counter advanced under a row lock (the event feed's position)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookSubscription(UuidPk, Timestamps, Base):
    """A PMS endpoint that receives signed event deliveries."""

    __tablename__ = "webhook_subscriptions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str]] = mapped_column(JSON)  # empty list: every kind
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class DeliveryStatus(StrEnum):
    """Where a webhook delivery stands; stored as these strings (``webhook_deliveries.status``)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(Base):
    """One event to one subscription, retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
