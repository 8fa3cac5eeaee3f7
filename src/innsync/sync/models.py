"""Tables of the outbound engine: acknowledged state, bucket leases, the sync log, dead letters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, UtcDateTime, utcnow
from innsync.db.personal import EncryptedText


class AckedAvailability(Base):
    """Units the channel last accepted for a room type and stay date on one connection."""

    __tablename__ = "acked_availability"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    room_type_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    stay_date: Mapped[date] = mapped_column(Date, primary_key=True)
    availability: Mapped[int] = mapped_column(Integer)


class AckedRate(Base):
    """Rate values the channel last accepted for a rate plan and stay date on one connection."""

    __tablename__ = "acked_rates"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    rate_plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    stay_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # RateValues as JSON: {"price": "120.00", "stop_sell": false, ...}; absent = never accepted.
    rate_values: Mapped[dict[str, Any]] = mapped_column(JSON)


class BucketLease(Base):
    """Who serves a rate-limit bucket, until when, and the bucket's limiter state.

    Exactly one worker holds a bucket at a time, so one process alone decides when the next
    request of that bucket may go: that is what keeps a channel's limit exact across workers.
    """

    __tablename__ = "bucket_leases"

    bucket_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    limiter_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # After a retryable failure nothing is sent from the bucket before this time.
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # The fencing token: raised by every claim and by every worker that finds out it sent a
    # request after losing the bucket. Acknowledged state is written, and marks are cleared,
    # only by the worker whose token is still the row's (see ``sync.leases``).
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SyncLogEntry(Base):
    """One request to a channel, for operators: what, how big, how long and what came back."""

    __tablename__ = "sync_log"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    entries: Mapped[int] = mapped_column(Integer)
    first_date: Mapped[date | None] = mapped_column(Date, default=None)
    last_date: Mapped[date | None] = mapped_column(Date, default=None)
    request_bytes: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(24))  # accepted|partial|unavailable|auth|rejected
    # A channel's answer may quote the booking it refused (guest details): encrypted at rest.
    detail: Mapped[str] = mapped_column(EncryptedText(), default="")
    task_id: Mapped[str | None] = mapped_column(String(128), default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class DeadLetter(Base):
    """An entry the channel refused, with its reason; replaying it marks its dates dirty again."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
