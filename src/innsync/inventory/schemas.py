"""API shapes for ARI writes and reads, availability and blocks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from innsync.money import MAX_AMOUNT, MAX_MINOR_UNITS
from innsync.properties.schemas import BlockKind, StrictModel
from innsync.stay_dates import WEEKDAY_NAMES, DateRange

MAX_ARI_ENTRIES = 1000
Weekday = Literal["mo", "tu", "we", "th", "fr", "sa", "su"]
# Three decimals at most (BHD, KWD); the property's currency may allow fewer (none for JPY).
Amount = Annotated[Decimal, Field(ge=Decimal(0), le=MAX_AMOUNT, decimal_places=MAX_MINOR_UNITS)]
Nights = Annotated[int, Field(ge=0, le=999)]
Days = Annotated[int, Field(ge=0, le=999)]


class InclusiveRange(StrictModel):
    """Stay dates from ``date_from`` to ``date_to``, both included."""

    date_from: date
    date_to: date

    @model_validator(mode="after")
    def _ordered(self) -> InclusiveRange:
        if self.date_to < self.date_from:
            raise ValueError("date_to must not be before date_from")
        if self.date_to >= date.max:
            raise ValueError(f"date_to must be before {date.max}")
        return self

    def to_range(self) -> DateRange:
        return DateRange.inclusive(self.date_from, self.date_to)


class BlockIn(StrictModel):
    units: int = Field(ge=1, le=10_000)
    kind: BlockKind = "out_of_order"
    reason: str = Field(default="", max_length=2000)


class AriEntry(InclusiveRange):
    """One line of a bulk ARI write: a rate plan's values, or a room type's block, over a range.

    Only the fields present are changed; a field sent as ``null`` is cleared.
    """

    rate_plan_id: uuid.UUID | None = None
    room_type_id: uuid.UUID | None = None
    weekdays: list[Weekday] | None = Field(
        default=None, description="Limit the entry to these weekdays, e.g. ['fr', 'sa']"
    )
    price: Amount | None = None
    occupancy_prices: dict[int, Amount] | None = Field(
        default=None, description="Per-person plans: occupancy to price, e.g. {'1': 90, '2': 120}"
    )
    min_stay_arrival: Nights | None = None
    min_stay_through: Nights | None = None
    max_stay: Nights | None = None
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    stop_sell: bool | None = None
    min_advance: Days | None = None
    max_advance: Days | None = None
    block: BlockIn | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AriEntry:
        if (self.rate_plan_id is None) == (self.room_type_id is None):
            raise ValueError("give exactly one of rate_plan_id or room_type_id")
        if self.room_type_id is not None and self.block is None:
            raise ValueError("a room_type_id entry needs a block")
        if self.rate_plan_id is not None and self.block is not None:
            raise ValueError("blocks belong to a room type: use room_type_id")
        if self.rate_plan_id is not None and not self.calendar_fields():
            raise ValueError("the entry changes nothing: give at least one ARI field")
        return self

    def calendar_fields(self) -> set[str]:
        return self.model_fields_set - {
            "date_from",
            "date_to",
            "rate_plan_id",
            "room_type_id",
            "weekdays",
            "block",
        }

    def weekday_numbers(self) -> frozenset[int]:
        if self.weekdays is None:
            return frozenset(range(7))
        return frozenset(WEEKDAY_NAMES.index(day) for day in self.weekdays)


class AriWrite(StrictModel):
    entries: list[AriEntry] = Field(min_length=1, max_length=MAX_ARI_ENTRIES)


class AriEntryResult(BaseModel):
    index: int
    status: Literal["applied"]
    dates_changed: int
    block_ids: list[uuid.UUID] = Field(default_factory=list)


class AriWarning(BaseModel):
    """A value written that a connected channel declares it refuses: it stays innsync's value,
    but that channel will keep what it has until the value changes."""

    index: int = Field(description="The entry of the write the warning is about")
    connection_id: uuid.UUID
    connection_name: str
    channel: str
    message: str


class AriWriteResult(BaseModel):
    results: list[AriEntryResult]
    warnings: list[AriWarning] = Field(default_factory=list)


class CalendarDay(BaseModel):
    """A rate plan's effective values for one stay date (derived plans resolved)."""

    stay_date: date
    price: Decimal | None
    occupancy_prices: dict[int, Decimal] | None
    min_stay_arrival: int | None
    min_stay_through: int | None
    max_stay: int | None
    closed_to_arrival: bool | None
    closed_to_departure: bool | None
    stop_sell: bool | None
    min_advance: int | None
    max_advance: int | None
    source: Literal["pms", "connection"] = Field(
        default="pms",
        description="Who wrote the plan's own values of the date: the PMS (or nobody), or the "
        "property's ARI source connection",
    )
    source_connection_id: uuid.UUID | None = Field(
        default=None, description="The connection the values came from (source connection)"
    )
    source_updated_at: datetime | None = Field(
        default=None, description="When that connection last changed the values"
    )


class CalendarRead(BaseModel):
    rate_plan_id: uuid.UUID
    currency: str
    days: list[CalendarDay]


class AvailabilityDay(BaseModel):
    stay_date: date
    units: int
    sold: int
    blocked: int
    available: int = Field(description="units - sold - blocked, floored at 0")
    overbooked_by: int = Field(description="how far sold + blocked exceeds units, else 0")
    channel_available: int | None = Field(
        default=None,
        description="Units the property's ARI source connection reported free (marketplace)",
    )
    source_connection_id: uuid.UUID | None = None
    source_updated_at: datetime | None = None


class RoomTypeAvailability(BaseModel):
    room_type_id: uuid.UUID
    code: str
    days: list[AvailabilityDay]


class AvailabilityRead(BaseModel):
    property_id: uuid.UUID
    room_types: list[RoomTypeAvailability]


class BlockCreate(InclusiveRange, BlockIn):
    """Units of a room type out of sale from ``date_from`` to ``date_to``, both included."""


class BlockRead(BaseModel):
    id: uuid.UUID
    room_type_id: uuid.UUID
    date_from: date
    date_to: date
    units: int
    kind: str
    reason: str
    connection_id: uuid.UUID | None = None
    """Set: the dates a channel shows closed, mirrored; that connection's reads replace it."""
