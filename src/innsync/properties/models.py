"""Tables: properties, room types, units, rate plans."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, Timestamps, UuidPk
from innsync.db.types import MONEY


class Property(UuidPk, Timestamps, Base):
    """A hotel or rental with its own calendar (time zone) and currency."""

    __tablename__ = "properties"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    horizon_days: Mapped[int] = mapped_column(Integer)
    # How stays get a physical unit (reservations/assignment.py): "fill", "spread" or "off"
    # for a PMS that assigns rooms itself.
    room_assignment: Mapped[str] = mapped_column(String(8), default="fill", server_default="fill")
    # Address, contact and content, all optional; channels that hold them get them (Channex §1.4).
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    zip_code: Mapped[str | None] = mapped_column(String(32), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)  # ISO 3166 alpha-2
    state: Mapped[str | None] = mapped_column(String(100), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    address: Mapped[str | None] = mapped_column(String(255), default=None)
    # Decimal strings as the hotel gave them ("45.4642"), never floats that would round.
    latitude: Mapped[str | None] = mapped_column(String(16), default=None)
    longitude: Mapped[str | None] = mapped_column(String(16), default=None)
    website: Mapped[str | None] = mapped_column(String(500), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)


class RoomType(UuidPk, Timestamps, Base):
    """A kind of room sold as interchangeable units."""

    __tablename__ = "room_types"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    sellable_units: Mapped[int] = mapped_column(Integer)
    max_adults: Mapped[int] = mapped_column(Integer)
    max_children: Mapped[int] = mapped_column(Integer)
    max_occupancy: Mapped[int] = mapped_column(Integer)
    default_occupancy: Mapped[int] = mapped_column(Integer)


class Unit(UuidPk, Timestamps, Base):
    """A physical room of a room type, for assignment."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("room_type_id", "name"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    room_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("room_types.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))


class RatePlan(UuidPk, Timestamps, Base):
    """How a room type is sold: price model, derivation, meal plan and cancellation policy."""

    __tablename__ = "rate_plans"
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    room_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("room_types.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    pricing: Mapped[str] = mapped_column(String(16))  # "per_room" | "per_person"
    # Per-person plans: the occupancies priced, e.g. [1, 2, 3]; empty for per-room plans.
    occupancies: Mapped[list[int]] = mapped_column(JSON, default=list)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("rate_plans.id"), default=None, index=True
    )
    # Ordered rules applied to the parent's price: [{"kind": "percent"|"amount", "value": "-10"}].
    derivation_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Restriction fields taken from the parent instead of this plan's own calendar.
    inherited_restrictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    meal_plan: Mapped[str] = mapped_column(String(32), default="room_only")
    cancellation_policy: Mapped[str] = mapped_column(Text, default="")
    # Per child and per infant, in the property's currency; None when the plan charges none.
    children_fee: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
    infant_fee: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
