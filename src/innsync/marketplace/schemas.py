"""API shapes of the marketplace side: a property's ARI source and the offers search."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class AriSourceWrite(BaseModel):
    """Where the property's ARI comes from: a connection of the property, or null for the PMS."""

    model_config = ConfigDict(extra="forbid")

    connection_id: uuid.UUID | None


class AriSourceRead(BaseModel):
    property_id: uuid.UUID
    connection_id: uuid.UUID | None = Field(description="null: the PMS writes the ARI")
    next_pull_at: datetime | None = None
    pulled_at: datetime | None = None
    pull_error: str = ""


class OfferNight(BaseModel):
    stay_date: date
    price: Decimal


class OfferRestrictions(BaseModel):
    """The restrictions of the stay's dates that apply to this offer (all were met)."""

    min_stay: int | None = Field(description="The longest min stay among the nights that apply")
    max_stay: int | None
    available: int = Field(description="Fewest units free over the nights")


class Offer(BaseModel):
    property_id: uuid.UUID
    property_name: str
    room_type_id: uuid.UUID
    room_type_name: str
    rate_plan_id: uuid.UUID
    rate_plan_name: str
    meal_plan: str
    cancellation_policy: str
    currency: str
    nightly: list[OfferNight]
    total: Decimal
    restrictions: OfferRestrictions


class OfferSearch(BaseModel):
    arrival: date
    departure: date
    adults: int
    children: int
    offers: list[Offer]
