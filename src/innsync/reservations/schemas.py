"""API shapes for direct reservations, guests and conflicts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from innsync.money import MAX_AMOUNT, MAX_MINOR_UNITS
from innsync.properties.schemas import StrictModel

MAX_NIGHTS = 90
MAX_ROOMS = 20


class GuestIn(StrictModel):
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    # Checked loosely on purpose: OTAs send relay aliases that strict validators refuse.
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class RoomIn(StrictModel):
    room_type_id: uuid.UUID
    rate_plan_id: uuid.UUID | None = None
    adults: int = Field(ge=1, le=50)
    children: int = Field(default=0, ge=0, le=50)
    amount: Decimal | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        decimal_places=MAX_MINOR_UNITS,
        description="Total for the stay, rounded to the currency's minor units; priced from "
        "the rate plan when omitted",
    )


class ReservationCreate(StrictModel):
    arrival: date
    departure: date
    rooms: list[RoomIn] = Field(min_length=1, max_length=MAX_ROOMS)
    guest: GuestIn = Field(default_factory=GuestIn)
    notes: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _dates(self) -> ReservationCreate:
        check_stay(self.arrival, self.departure)
        return self


def check_stay(arrival: date, departure: date) -> None:
    if departure <= arrival:
        raise ValueError("departure must be after arrival")
    if (departure - arrival).days > MAX_NIGHTS:
        raise ValueError(f"a stay is at most {MAX_NIGHTS} nights")


class ReservationUpdate(StrictModel):
    arrival: date | None = None
    departure: date | None = None
    rooms: list[RoomIn] | None = Field(default=None, min_length=1, max_length=MAX_ROOMS)
    guest: GuestIn | None = None
    notes: str | None = Field(default=None, max_length=4000)


class GuestRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    country: str | None


class RoomRead(BaseModel):
    room_type_id: uuid.UUID
    rate_plan_id: uuid.UUID | None
    adults: int
    children: int
    amount: Decimal
    nightly_prices: dict[date, Decimal]


class ReservationRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    source: str
    channel_booking_id: str | None
    status: Literal["confirmed", "cancelled"]
    arrival: date
    departure: date
    currency: str
    total_amount: Decimal
    is_overbooked: bool
    revision: int
    rooms: list[RoomRead]
    guest: GuestRead | None
    notes: str
    created_at: datetime
    updated_at: datetime


class ChangeRead(BaseModel):
    revision: int
    action: str
    changes: dict[str, object]
    origin: str
    actor_key_id: uuid.UUID | None
    created_at: datetime


MergeField = Literal["status", "dates", "rooms", "amount", "guest"]


class ConflictResolve(StrictModel):
    """How to resolve a conflict: take one version whole, or the PMS's with some channel fields."""

    accept: Literal["channel", "pms", "merge"]
    fields: list[MergeField] | None = Field(
        default=None,
        min_length=1,
        max_length=5,
        description="For a merge: the fields taken from the channel's version",
    )

    @model_validator(mode="after")
    def _fields_for_merge(self) -> ConflictResolve:
        if self.accept == "merge" and not self.fields:
            raise ValueError("a merge needs the fields to take from the channel")
        if self.accept != "merge" and self.fields is not None:
            raise ValueError("fields are only for a merge")
        if self.fields is not None and len(set(self.fields)) != len(self.fields):
            raise ValueError("name each field once")
        return self


class ConflictRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    reservation_id: uuid.UUID
    status: Literal["open", "resolved"]
    fields: list[str] = Field(description="The contradicted fields")
    channel: dict[str, Any] = Field(description="The channel's revision, in neutral JSON")
    pms: dict[str, Any] = Field(description="The reservation as the PMS had it")
    pms_changed_at: datetime
    origin: str
    resolution: Literal["channel", "pms", "merge", "superseded"] | None
    resolved_fields: list[str] | None
    resolved_at: datetime | None
    resolved_by_key_id: uuid.UUID | None
    created_at: datetime
