"""API shapes for the event feed and webhook subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from innsync.events.kinds import ALL_KINDS

MAX_URL_LENGTH = 2000  # the column's size


class EventRead(BaseModel):
    position: int
    id: int
    kind: str
    property_id: uuid.UUID | None
    subject_id: str | None
    payload: dict[str, Any]
    created_at: datetime


class EventFeed(BaseModel):
    events: list[EventRead]
    next_after: int = Field(description="Pass as ?after= to read what comes next")


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    kinds: list[str] = Field(default_factory=list, description="Empty: every kind")
    secret: str | None = Field(
        default=None, min_length=16, max_length=200, description="Generated when omitted"
    )

    @field_validator("url")
    @classmethod
    def _fits(cls, value: HttpUrl) -> HttpUrl:
        if len(str(value)) > MAX_URL_LENGTH:
            raise ValueError(f"URL should have at most {MAX_URL_LENGTH} characters")
        return value

    @field_validator("kinds")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_KINDS))
        if unknown:
            raise ValueError(f"unknown event kinds {unknown}; known: {list(ALL_KINDS)}")
        return sorted(set(value))


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    url: str
    kinds: list[str]
    is_active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="Shown once: verify deliveries with it")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
