"""API shapes for connections and mappings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from innsync.properties.schemas import StrictModel


class ConnectionCreate(StrictModel):
    channel: str = Field(examples=["channex"], description="A channel kind, see GET /channels")
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(
        default_factory=dict, description="The channel's settings and credentials (kept encrypted)"
    )
    push_enabled: bool = True
    pull_enabled: bool = True
    webhook_enabled: bool = True


class ConnectionUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    push_enabled: bool | None = None
    pull_enabled: bool | None = None
    webhook_enabled: bool | None = None
    state: str | None = Field(
        default=None, description="Set 'connected' after fixing a connection, or 'disabled'"
    )


class ConnectionRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    channel: str
    name: str
    push_enabled: bool
    pull_enabled: bool
    webhook_enabled: bool
    state: str
    state_reason: str
    webhook_path: str
    last_full_sync_at: datetime | None
    pending_marks: int
    capabilities: list[str]


class MappingIn(StrictModel):
    channel_code: str = Field(min_length=1, max_length=128)


class RoomTypeMappingIn(MappingIn):
    room_type_id: uuid.UUID


class RatePlanMappingIn(MappingIn):
    rate_plan_id: uuid.UUID


class MappingsWrite(StrictModel):
    """The whole mapping of a connection; what is not listed is unmapped."""

    room_types: list[RoomTypeMappingIn] = Field(default_factory=list, max_length=500)
    rate_plans: list[RatePlanMappingIn] = Field(default_factory=list, max_length=5000)


class MappingsRead(BaseModel):
    room_types: list[RoomTypeMappingIn]
    rate_plans: list[RatePlanMappingIn]


class SyncLogRead(BaseModel):
    id: int
    kind: str
    entries: int
    first_date: str | None
    last_date: str | None
    request_bytes: int
    outcome: str
    detail: str
    task_id: str | None
    duration_ms: int
    created_at: datetime


class DeadLetterRead(BaseModel):
    id: int
    kind: str
    subject_id: uuid.UUID | None
    date_from: str
    date_to: str
    payload: dict[str, Any]
    reason: str
    created_at: datetime
    replayed_at: datetime | None


class FullSyncStarted(BaseModel):
    connection_id: uuid.UUID
    marks: int = Field(description="Dirty marks written: room types plus rate plans mapped")
    date_from: str
    date_to: str
