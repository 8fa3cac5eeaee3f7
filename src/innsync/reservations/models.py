"""Tables: guests, reservations, reserved rooms, the append-only change history and conflicts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from innsync.db.base import Base, BigIntId, Timestamps, UtcDateTime, UuidPk, utcnow
from innsync.db.types import MONEY

# Reservation.status. A no-show holds no units, like a cancellation.
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
NO_SHOW = "no_show"
STATUSES = (CONFIRMED, CANCELLED, NO_SHOW)
# ReservationConflict.status, and the resolution of a conflict a newer channel revision replaced
OPEN = "open"
RESOLVED = "resolved"
SUPERSEDED = "superseded"


class Guest(UuidPk, Timestamps, Base):
    """A guest, matched across bookings by normalized email, then by E.164 phone."""

    __tablename__ = "guests"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    email_normalized: Mapped[str | None] = mapped_column(String(320), default=None, index=True)
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    phone_e164: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    address: Mapped[str | None] = mapped_column(String(500), default=None)
    city: Mapped[str | None] = mapped_column(String(200), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(32), default=None)
    language: Mapped[str | None] = mapped_column(String(35), default=None)  # BCP 47 tag
    # When the newest details merged in were given (a channel revision's time, or the API call's):
    # details older than this only fill empty fields, so a late revision cannot undo newer ones.
    details_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class Reservation(UuidPk, Timestamps, Base):
    """A booking, direct or from a channel; its history is in ``reservation_changes``."""

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "channel_booking_id"),
        # The list's keyset: a property's reservations in the order of their last change. An
        # index rather than a constraint: SQLite adds it without copying the table.
        Index("uq_reservations_property_id_change_seq", "property_id", "change_seq", unique=True),
        Index("ix_reservations_tenant_ota_code", "tenant_id", "ota_reservation_code"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    # "direct" or the channel connection's id as text.
    source: Mapped[str] = mapped_column(String(64))
    # "direct" or the channel's kind ("channex", "fake"...), and the connection it came on.
    channel: Mapped[str] = mapped_column(String(32), default="direct")
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    # The connected channel's id of the booking: a channel manager's own booking id, or the
    # OTA's when innsync talks to the OTA itself.
    channel_booking_id: Mapped[str | None] = mapped_column(String(128), default=None)
    channel_reference: Mapped[str | None] = mapped_column(String(128), default=None)
    ota_name: Mapped[str | None] = mapped_column(String(64), default=None)
    ota_reservation_code: Mapped[str | None] = mapped_column(String(128), default=None)
    status: Mapped[str] = mapped_column(String(16))  # "confirmed" | "cancelled" | "no_show"
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    arrival_time: Mapped[str | None] = mapped_column(String(5), default=None)  # "HH:MM"
    special_requests: Mapped[str] = mapped_column(Text, default="")
    total_before_tax: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
    commission: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
    payment_collect: Mapped[str | None] = mapped_column(String(16), default=None)
    payment_type: Mapped[str | None] = mapped_column(String(16), default=None)
    # How the booking is guaranteed, never the card: {"card_type", "card_last_four",
    # "cardholder_name", "expires", "is_virtual"}; None when the channel sent none.
    guarantee: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # The position of the reservation's last change among its property's: every change takes
    # the next number of ``reservation_sequences`` (reservations/listing.py), so the list pages
    # by it without gaps or repeats while bookings come in.
    change_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    arrival: Mapped[date] = mapped_column(Date)
    departure: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[Decimal] = mapped_column(MONEY)
    guest_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guests.id"), default=None)
    is_overbooked: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Channel bookings: the newest channel revision applied, ordered by the channel's time of
    # the revision, then its id (see reservations/channel.py). None for direct bookings.
    channel_revision_id: Mapped[str | None] = mapped_column(String(128), default=None)
    channel_revised_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Channel bookings changed by the PMS since the last channel revision applied: the snapshot
    # before the first such change (the channel's version) and the time of the latest one. A
    # channel revision is checked against them for a conflict (reservations/conflict_rules.py).
    pms_base: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    pms_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

    rooms: Mapped[list[ReservationRoom]] = relationship(
        back_populates="reservation",
        cascade="all, delete-orphan",
        order_by="ReservationRoom.position",
        lazy="selectin",
    )


class ReservationRoom(UuidPk, Base):
    """One room of a reservation with its nightly prices."""

    __tablename__ = "reservation_rooms"

    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    room_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("room_types.id"), index=True)
    rate_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("rate_plans.id"), default=None
    )
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("units.id"), default=None)
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[int] = mapped_column(Integer, default=0)
    child_ages: Mapped[list[int]] = mapped_column(JSON, default=list)
    # {"2026-12-01": "120.00", ...}: the price of each night, decimal text.
    nightly_prices: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    # Taxes and fees for the stay: [{"kind", "name", "amount", "inclusive"}], amounts as text;
    # "inclusive" ones are counted in the nightly prices.
    charges: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    reservation: Mapped[Reservation] = relationship(back_populates="rooms")


class UnitNight(Base):
    """A night a unit is held by a confirmed stay: the primary key makes a double booking of a
    unit impossible on every database, whatever the code above it does."""

    __tablename__ = "unit_nights"

    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"), primary_key=True)
    night: Mapped[date] = mapped_column(Date, primary_key=True)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"), index=True)


class ReservationSequence(Base):
    """The last change number given to a reservation of a property.

    Taking the next number updates this row, which keeps it locked until the transaction ends:
    a property's reservation changes commit in the order of their numbers, so a reader that has
    seen number N has seen every committed change below it.
    """

    __tablename__ = "reservation_sequences"

    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class ReservationChange(Base):
    """Append-only audit: one row per change of a reservation, with what changed and who did it."""

    __tablename__ = "reservation_changes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # "created" | "modified" | "cancelled"
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(64))  # "api", "inbox:<item id>", "conflict:<id>"
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class OtaActionClaim(UuidPk, Base):
    """A report to the OTA (no-show, invalid card) being sent: one per reservation and action,
    so a second report sent at the same moment cannot reach the OTA too."""

    __tablename__ = "reservation_ota_claims"
    __table_args__ = (UniqueConstraint("reservation_id", "action"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"))
    action: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReservationConflict(UuidPk, Timestamps, Base):
    """A channel revision held back because it contradicts a PMS change; both versions kept."""

    __tablename__ = "reservation_conflicts"
    __table_args__ = (Index("ix_reservation_conflicts_tenant_status", "tenant_id", "status"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reservations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # "open" | "resolved"
    # The contradicted fields: "status", "dates", "amount", "rooms".
    fields: Mapped[list[str]] = mapped_column(JSON)
    # The channel's revision in neutral JSON (conflict_rules.revision_json) ...
    channel_version: Mapped[dict[str, Any]] = mapped_column(JSON)
    # ... and the reservation as the PMS had it when the revision came (service.snapshot).
    pms_version: Mapped[dict[str, Any]] = mapped_column(JSON)
    pms_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str] = mapped_column(String(64))  # the inbox item that brought the revision
    # "channel" | "pms" | "merge", or "superseded" when a newer channel revision took its place.
    resolution: Mapped[str | None] = mapped_column(String(16), default=None)
    resolved_fields: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    resolved_by_key_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
