"""Tables of the outbox: dirty marks (ARI to diff again) and booking pushes (direct bookings to
send), both written in the transaction of the change that causes them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, UtcDateTime, utcnow

AVAILABILITY = "availability"
RATES = "rates"


class DirtyMark(Base):
    """``[start, end)`` of a room type's availability or a rate plan's rates may differ from what
    the channel acknowledged. A mark says *where to look*, never *what to send*: the worker
    recomputes the values when it runs, so any number of marks collapse into one diff."""

    __tablename__ = "dirty_marks"
    __table_args__ = (Index("ix_dirty_marks_connection_kind", "connection_id", "kind"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "availability" | "rates"
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # room type or rate plan
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


# BookingPush.state
PUSH_PENDING = "pending"
PUSH_DONE = "pushed"
PUSH_REFUSED = "refused"
PUSH_UNSUPPORTED = "unsupported"
# Marketplace bookings (pushed to the property's ARI source, marketplace/lifecycle.py) go on:
# the hotel accepted the booking, or it never will (refused, or the retries ran out).
PUSH_CONFIRMED = "confirmed"
PUSH_FAILED = "failed"


class BookingPush(Base):
    """One direct reservation owed to one connection: the outbox of booking pushes.

    Level-triggered like dirty marks: a change raises ``wanted_revision`` in the reservation's
    own transaction, and the worker sends the reservation *as it is then*; a push records the
    revision it sent, so changes made while a push was on the wire are sent once more.
    """

    __tablename__ = "booking_pushes"
    __table_args__ = (
        UniqueConstraint("reservation_id", "connection_id"),
        Index("ix_booking_pushes_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # PUSH_* below
    wanted_revision: Mapped[int] = mapped_column(Integer)
    pushed_revision: Mapped[int | None] = mapped_column(Integer, default=None)
    # The channel's id of the booking, once it took it (Beds24: its booking id).
    channel_booking_id: Mapped[str | None] = mapped_column(String(128), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due from this time (a retry's backoff, or a worker's lease while it sends).
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # When the current revision was queued: a marketplace booking not confirmed some time
    # after it is an alert (alerts/rules.py).
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
