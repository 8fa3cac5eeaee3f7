"""API shapes for direct reservations, guests and conflicts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

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
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=32)
    language: str | None = Field(
        default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
    )


ArrivalTime = Annotated[
    str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, property time")
]


class RoomIn(StrictModel):
    room_type_id: uuid.UUID
    rate_plan_id: uuid.UUID | None = None
    adults: int = Field(ge=1, le=50)
    children: int = Field(default=0, ge=0, le=50)
    child_ages: list[Annotated[int, Field(ge=0, le=17)]] = Field(
        default_factory=list, max_length=50, description="At most one age per child"
    )
    amount: Decimal | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        decimal_places=MAX_MINOR_UNITS,
        description="Total for the stay, rounded to the currency's minor units; priced from "
        "the rate plan when omitted",
    )

    @model_validator(mode="after")
    def _ages(self) -> RoomIn:
        if len(self.child_ages) > self.children:
            raise ValueError("child_ages names more children than the room has")
        return self


class ReservationCreate(StrictModel):
    arrival: date
    departure: date
    rooms: list[RoomIn] = Field(min_length=1, max_length=MAX_ROOMS)
    guest: GuestIn = Field(default_factory=GuestIn)
    notes: str = Field(default="", max_length=4000, description="The hotel's own notes")
    special_requests: str = Field(default="", max_length=4000)
    arrival_time: ArrivalTime | None = None

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
    special_requests: str | None = Field(default=None, max_length=4000)
    arrival_time: ArrivalTime | None = None


class GuestRead(BaseModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    country: str | None
    address: str | None
    city: str | None
    postal_code: str | None
    language: str | None


class ChargeRead(BaseModel):
    kind: Literal["tax", "city_tax", "fee"]
    name: str
    amount: Decimal
    is_inclusive: bool = Field(description="Counted in the nightly prices; else added on top")


class RoomRead(BaseModel):
    position: int = Field(description="The room's place in the reservation, from 0")
    room_type_id: uuid.UUID
    unit_id: uuid.UUID | None = Field(description="The physical unit assigned; null if none")
    rate_plan_id: uuid.UUID | None
    adults: int
    children: int
    child_ages: list[int]
    amount: Decimal
    nightly_prices: dict[date, Decimal]
    charges: list[ChargeRead] = Field(description="Taxes and fees of the room for the stay")


class UnitAssign(StrictModel):
    """Put one room of a reservation in a unit of its room type, or take it out (null)."""

    position: int = Field(ge=0, description="The room's position in the reservation")
    unit_id: uuid.UUID | None


class UnassignedStayRead(BaseModel):
    """A room of a confirmed stay without a unit: for the front desk to place."""

    reservation_id: uuid.UUID
    position: int
    room_type_id: uuid.UUID
    arrival: date
    departure: date
    is_overbooked: bool


class GuaranteeRead(BaseModel):
    """How the booking is guaranteed; innsync never keeps a card number or security code."""

    card_type: str | None
    card_last_four: str | None
    cardholder_name: str | None
    expires: str | None = Field(description="MM/YYYY")
    is_virtual: bool = Field(description="A virtual card issued by the OTA")


ReservationStatus = Literal["confirmed", "cancelled", "no_show"]


class ChannelPushRead(BaseModel):
    """A direct booking's push to one connection that takes bookings."""

    connection_id: uuid.UUID
    state: Literal["pending", "pushed", "refused", "unsupported", "confirmed", "failed"] = Field(
        description="pending: being sent or retried with backoff; pushed: the channel holds "
        "pushed_revision; refused: the channel refused it (error says why), nothing is retried "
        "until the booking changes again; unsupported: the channel takes no bookings. A "
        "marketplace booking (to the property's ARI source) then goes on: confirmed: the hotel "
        "accepted it; failed: refused by the hotel or its retries ran out (error says why)"
    )
    channel_booking_id: str | None = Field(description="The channel's id of the booking")
    pushed_revision: int | None = Field(description="The reservation revision the channel holds")
    attempts: int = Field(description="Failed attempts since the last change")
    error: str = Field(description="The channel's last refusal or failure, empty when none")


class ReservationRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    source: str = Field(description='"direct", or the channel\'s kind ("channex", ...)')
    connection_id: uuid.UUID | None = Field(description="The connection a channel booking came on")
    channel_booking_id: str | None = Field(
        description="The connected channel's id of the booking (a channel manager's own id)"
    )
    channel_reference: str | None = Field(
        description="The channel's display code, when not its id (Channex: BDC-9996013801)"
    )
    ota_name: str | None = Field(description="The OTA the booking was made on")
    ota_reservation_code: str | None = Field(description="The OTA's own code of the booking")
    status: ReservationStatus
    booked_at: datetime | None
    arrival: date
    departure: date
    arrival_time: str | None = Field(description="Expected arrival, HH:MM in property time")
    currency: str
    total_amount: Decimal = Field(description="What the guest pays, taxes and fees included")
    total_before_tax: Decimal | None
    commission: Decimal | None = Field(description="What the OTA keeps of the total")
    payment_collect: Literal["property", "ota"] | None = Field(
        description="Who takes the guest's money"
    )
    payment_type: Literal["credit_card", "bank_transfer"] | None
    guarantee: GuaranteeRead | None
    is_overbooked: bool
    revision: int
    rooms: list[RoomRead]
    guest: GuestRead | None
    special_requests: str = Field(description="The guest's requests and the channel's remarks")
    notes: str = Field(description="The hotel's own notes")
    channel_pushes: list[ChannelPushRead] = Field(
        default_factory=list,
        description="Direct bookings only: where innsync sends the booking (channels that take "
        "bookings) and how far each got",
    )
    created_at: datetime
    updated_at: datetime


class ReservationPage(BaseModel):
    """A page of reservations in the order of their last change, oldest change first."""

    items: list[ReservationRead]
    next_cursor: str = Field(
        description="Pass as ``cursor`` for the changes after this page; kept even when empty"
    )
    has_more: bool = Field(description="More reservations wait behind this page")


class ChangeRead(BaseModel):
    revision: int
    action: str
    changes: dict[str, object]
    origin: str
    actor_key_id: uuid.UUID | None
    created_at: datetime


class NoShowReport(StrictModel):
    """A no-show told to the OTA: fees waived, or a penalty where the OTA takes one."""

    waived_fees: bool = Field(
        default=False, description="The hotel charges the guest nothing for the no-show"
    )
    penalty_amount: Decimal | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        decimal_places=2,
        description="The penalty charged, in the booking's currency (Channex: Expedia only); "
        "ignored when fees are waived",
    )


class OtaActionRead(BaseModel):
    """A booking action reported to the OTA, as recorded on the reservation's history."""

    reservation_id: uuid.UUID
    action: str = Field(description="no_show, invalid_card or cancel_due_invalid_card")
    status: str = Field(description="The reservation's status after the report")
    reported_at: datetime
    already_reported: bool = Field(
        description="True when this action had been reported before: the OTA was not called again"
    )


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
