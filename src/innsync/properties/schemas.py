"""API shapes for properties, room types, units and rate plans."""

from __future__ import annotations

import uuid
import zoneinfo
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from innsync.money import MAX_AMOUNT, is_currency
from innsync.properties.derivation import RESTRICTION_FIELDS
from innsync.properties.places import check_coordinate, check_country, check_email

MIN_HORIZON_DAYS = 365
MAX_HORIZON_DAYS = 750
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"

Pricing = Literal["per_room", "per_person"]
MealPlan = Literal["room_only", "breakfast", "half_board", "full_board", "all_inclusive"]
BlockKind = Literal["out_of_order", "maintenance"]


def reject_nul(value: object) -> object:
    """PostgreSQL cannot store NUL in text; refuse it here rather than fail at the database."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    return value


class StrictModel(BaseModel):
    """Input models refuse unknown fields: a typo should fail loudly, not be ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        return reject_nul(value)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _check_timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"'{value}' is not an IANA time zone such as 'Europe/Rome'")
    return value


def _check_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"'{value}' is not an ISO 4217 currency code such as 'EUR'")
    return value


RoomAssignment = Literal["fill", "spread", "off"]
ROOM_ASSIGNMENT = (
    'How stays get a unit: "fill" the lowest-numbered free unit, "spread" the free unit used '
    'least around the stay, "off" none automatically (a PMS assigns rooms itself)'
)


class PropertyContact(StrictModel):
    """Address, contact and content of a property, all optional (``null`` clears one)."""

    email: str | None = Field(default=None, max_length=254, examples=["desk@hotel.example"])
    phone: str | None = Field(default=None, min_length=1, max_length=32)
    zip_code: str | None = Field(default=None, min_length=1, max_length=32)
    country: str | None = Field(default=None, description="ISO 3166 alpha-2", examples=["IT"])
    state: str | None = Field(default=None, min_length=1, max_length=100)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, min_length=1, max_length=255)
    latitude: str | None = Field(default=None, description="Decimal degrees", examples=["45.4642"])
    longitude: str | None = Field(default=None, description="Decimal degrees", examples=["9.19"])
    website: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    description: str | None = Field(default=None, max_length=10_000)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else check_email(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else check_country(value)

    @field_validator("latitude")
    @classmethod
    def _latitude(cls, value: str | None) -> str | None:
        return None if value is None else check_coordinate(value, 90)

    @field_validator("longitude")
    @classmethod
    def _longitude(cls, value: str | None) -> str | None:
        return None if value is None else check_coordinate(value, 180)


class PropertyCreate(PropertyContact):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(examples=["Europe/Rome"])
    currency: str = Field(examples=["EUR"])
    horizon_days: int = Field(default=500, ge=MIN_HORIZON_DAYS, le=MAX_HORIZON_DAYS)
    room_assignment: RoomAssignment = Field(default="fill", description=ROOM_ASSIGNMENT)

    _tz = field_validator("timezone")(_check_timezone)
    _cur = field_validator("currency")(_check_currency)


class PropertyUpdate(PropertyContact):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    currency: str | None = None
    horizon_days: int | None = Field(default=None, ge=MIN_HORIZON_DAYS, le=MAX_HORIZON_DAYS)
    room_assignment: RoomAssignment | None = Field(default=None, description=ROOM_ASSIGNMENT)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @field_validator("currency")
    @classmethod
    def _cur(cls, value: str | None) -> str | None:
        return None if value is None else _check_currency(value)


class PropertyRead(ReadModel):
    id: uuid.UUID
    name: str
    timezone: str
    currency: str
    horizon_days: int
    room_assignment: RoomAssignment
    email: str | None
    phone: str | None
    zip_code: str | None
    country: str | None
    state: str | None
    city: str | None
    address: str | None
    latitude: str | None
    longitude: str | None
    website: str | None
    description: str | None


class RoomTypeCreate(StrictModel):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    sellable_units: int = Field(ge=0, le=10_000)
    max_adults: int = Field(ge=1, le=50)
    max_children: int = Field(default=0, ge=0, le=50)
    max_occupancy: int = Field(ge=1, le=100)
    default_occupancy: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _occupancy_fits(self) -> RoomTypeCreate:
        if self.default_occupancy > self.max_occupancy:
            raise ValueError("default_occupancy cannot exceed max_occupancy")
        if self.max_adults > self.max_occupancy:
            raise ValueError("max_adults cannot exceed max_occupancy")
        return self


class RoomTypeUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    sellable_units: int | None = Field(default=None, ge=0, le=10_000)
    max_adults: int | None = Field(default=None, ge=1, le=50)
    max_children: int | None = Field(default=None, ge=0, le=50)
    max_occupancy: int | None = Field(default=None, ge=1, le=100)
    default_occupancy: int | None = Field(default=None, ge=1, le=100)


class RoomTypeRead(ReadModel):
    id: uuid.UUID
    property_id: uuid.UUID
    code: str
    name: str
    sellable_units: int
    max_adults: int
    max_children: int
    max_occupancy: int
    default_occupancy: int


class UnitCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64)


class UnitRead(ReadModel):
    id: uuid.UUID
    room_type_id: uuid.UUID
    name: str


class DerivationRuleIn(StrictModel):
    kind: Literal["percent", "amount"]
    value: Decimal = Field(ge=Decimal(-1_000_000), le=Decimal(1_000_000), decimal_places=4)


class DerivationIn(StrictModel):
    """Derive prices from a parent plan through ordered rules; optionally inherit restrictions."""

    parent_id: uuid.UUID
    rules: list[DerivationRuleIn] = Field(default_factory=list, max_length=10)
    inherit: list[str] = Field(default_factory=list, examples=[["min_stay_arrival", "stop_sell"]])

    @field_validator("inherit")
    @classmethod
    def _known_restrictions(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RESTRICTION_FIELDS))
        if unknown:
            raise ValueError(f"unknown restrictions {unknown}; known: {list(RESTRICTION_FIELDS)}")
        return sorted(set(value))


class RatePlanCreate(StrictModel):
    room_type_id: uuid.UUID
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)
    pricing: Pricing = "per_room"
    occupancies: list[int] = Field(
        default_factory=list, description="Per-person plans: the occupancies priced, e.g. [1, 2]"
    )
    derived_from: DerivationIn | None = None
    meal_plan: MealPlan = "room_only"
    cancellation_policy: str = Field(default="", max_length=4000)
    children_fee: Decimal | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="Per child, in the property's currency"
    )
    infant_fee: Decimal | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="Per infant, in the property's currency"
    )

    @model_validator(mode="after")
    def _occupancies_match_pricing(self) -> RatePlanCreate:
        check_occupancies(self.pricing, self.occupancies)
        return self


def check_occupancies(pricing: str, occupancies: list[int]) -> None:
    if pricing == "per_person" and not occupancies:
        raise ValueError("a per_person plan needs occupancies, e.g. [1, 2]")
    if pricing == "per_room" and occupancies:
        raise ValueError("a per_room plan has no occupancies")
    if any(occupancy < 1 for occupancy in occupancies) or len(set(occupancies)) != len(occupancies):
        raise ValueError("occupancies must be distinct positive numbers")


class RatePlanUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    occupancies: list[int] | None = None
    derived_from: DerivationIn | None = None
    meal_plan: MealPlan | None = None
    cancellation_policy: str | None = Field(default=None, max_length=4000)
    children_fee: Decimal | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        description="Per child (null: none), in the property's currency",
    )
    infant_fee: Decimal | None = Field(
        default=None,
        ge=0,
        le=MAX_AMOUNT,
        description="Per infant (null: none), in the property's currency",
    )


class DerivationRead(BaseModel):
    parent_id: uuid.UUID
    rules: list[DerivationRuleIn]
    inherit: list[str]


class RatePlanRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    room_type_id: uuid.UUID
    code: str
    name: str
    pricing: Pricing
    occupancies: list[int]
    derived_from: DerivationRead | None
    meal_plan: str
    cancellation_policy: str
    children_fee: Decimal | None
    infant_fee: Decimal | None
