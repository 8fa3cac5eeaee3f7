"""API shapes for connections and mappings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from innsync.channels import registry
from innsync.properties.schemas import StrictModel

ACCOUNT_PROPERTY = {
    "type": "string",
    "description": "The name or id of a channel account the operator granted this tenant "
    "(GET /channel-accounts); the fields it holds are left out",
}


def _inlined(node: Any, definitions: dict[str, Any]) -> Any:
    """A JSON schema with its local ``$defs`` references replaced by what they name, so it can
    sit inside another document (the OpenAPI one) on its own."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            named = _inlined(definitions[reference.removeprefix("#/$defs/")], definitions)
            beside = {k: _inlined(v, definitions) for k, v in node.items() if k != "$ref"}
            return {**named, **beside}
        return {k: _inlined(v, definitions) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inlined(item, definitions) for item in node]
    return node


def _config_variants(*, partial: bool) -> list[dict[str, Any]]:
    """Per channel kind, its config schema and the same through an operator's account."""
    variants: list[dict[str, Any]] = []
    for name in registry.kinds():
        kind = registry.get(name)
        schema = kind.config_model.model_json_schema(mode="validation")
        own: dict[str, Any] = _inlined(schema, schema.get("$defs", {}))
        own["title"] = f"{name} config"
        own["x-channel"] = name
        through_account = {
            **own,
            "title": f"{name} config through a channel account",
            "properties": {"account": ACCOUNT_PROPERTY, **own.get("properties", {})},
            "required": ["account"],
        }
        if partial:
            own.pop("required", None)
            through_account.pop("required")
        variants += [own, through_account]
    return variants


def _create_config_schema(schema: dict[str, Any]) -> None:
    schema["anyOf"] = _config_variants(partial=False)


def _update_config_schema(schema: dict[str, Any]) -> None:
    # Update bodies are merged into the stored config, so no field is required; null leaves
    # the config as it is.
    schema["anyOf"] = [*_config_variants(partial=True), {"type": "null"}]


SHADOW_MODE = (
    "Read-only rollout: the worker plans what it would send and logs it in the sync log "
    '(outcome "shadow") without calling the channel or recording anything as acknowledged; '
    "turning it off sends everything again (a full sync)"
)


class ConnectionCreate(StrictModel):
    channel: str = Field(examples=["channex"], description="A channel kind, see GET /channels")
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(
        default_factory=dict,
        json_schema_extra=_create_config_schema,
        description="The channel's settings and credentials (kept encrypted), as the channel "
        'kind\'s config schema says; or {"account": "<name or id>", ...} to use a channel '
        "account the operator granted this tenant, with only the fields the account does not hold",
    )
    push_enabled: bool = True
    push_bookings: bool | None = Field(
        default=None,
        description="Send innsync's direct bookings to the channel (with push_enabled); "
        "left out: on when the channel takes bookings (capability pushes_reservations)",
    )
    pull_enabled: bool = True
    webhook_enabled: bool = True
    shadow_mode: bool = Field(default=False, description=SHADOW_MODE)


class ConnectionUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = Field(
        default=None,
        json_schema_extra=_update_config_schema,
        description="Fields to change: each given field replaces the stored one (null clears "
        'it), fields left out are kept, secrets included; "account" switches to another '
        "granted account, or null back to the connection's own credentials",
    )
    push_enabled: bool | None = None
    push_bookings: bool | None = None
    pull_enabled: bool | None = None
    webhook_enabled: bool | None = None
    shadow_mode: bool | None = Field(default=None, description=SHADOW_MODE)
    state: str | None = Field(
        default=None, description="Set 'connected' after fixing a connection, or 'disabled'"
    )


class OtaSummary(BaseModel):
    """One OTA behind a channel-manager connection, as the connection read lists it."""

    ota: str
    state: str
    since: datetime
    last_error: str | None


class SwitchChangeRead(BaseModel):
    """One audited change of a connection switch."""

    at: datetime
    actor: str = Field(description='"key:<api key id>" or "cli"')
    field: str
    old: Any
    new: Any


class ConnectionRead(BaseModel):
    id: uuid.UUID
    property_id: uuid.UUID
    channel: str
    name: str
    push_enabled: bool
    push_bookings: bool
    pull_enabled: bool
    webhook_enabled: bool
    shadow_mode: bool
    switch_history: list[SwitchChangeRead] = Field(
        description="The newest switch changes (push, pull, webhook, shadow mode, state), "
        "newest first"
    )
    state: str
    state_reason: str
    webhook_path: str
    last_full_sync_at: datetime | None
    pending_marks: int
    capabilities: list[str]
    account: str | None = Field(
        description="The name of the operator's channel account the connection uses; null when "
        "it holds its own credentials"
    )
    config: dict[str, Any] = Field(
        description="The connection's own config without its secrets (what provisioning stored "
        "included); the account's fields are never shown"
    )
    secrets_set: list[str] = Field(
        description="The connection's own secret fields that hold a value (never the values)"
    )
    otas: list[OtaSummary] = Field(
        default_factory=list,
        description="The OTAs behind a channel-manager connection (empty for other channels); "
        "GET /connections/{id}/channels gives each in full",
    )


class ChannelAccountRead(BaseModel):
    """An operator's channel account as a tenant (or the operator) sees it: never its secrets."""

    id: uuid.UUID
    channel: str
    name: str
    fields: list[str] = Field(description="The config fields the account holds (not values)")
    created_at: datetime
    rotated_at: datetime | None


class ConnectionTested(BaseModel):
    """The channel accepted the connection's credentials."""

    connection_id: uuid.UUID
    ok: bool


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


class OtaChannelRead(BaseModel):
    """One OTA behind a channel-manager connection (e.g. Booking.com behind Channex)."""

    channel_code: str = Field(description="The channel manager's id of this OTA link")
    ota: str = Field(description="The OTA, as the channel manager names it")
    state: str = Field(
        description="active, disconnected, listing_disconnected, sync_error or sync_warning"
    )
    state_since: datetime
    last_error: str | None
    last_error_at: datetime | None
    last_source: str = Field(
        description="What last told innsync: a webhook event's name, or channel_list when the "
        "reconciler read the channel's own list"
    )


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


class ProvisionedItemRead(BaseModel):
    kind: str = Field(
        description="account, property, room_type, rate_plan or cancellation_policy "
        "(Channex with cancellation_policies linked)"
    )
    action: str = Field(description="created, matched (nothing to change) or updated")
    remote_id: str = Field(description="The channel's id")
    title: str
    subject_id: uuid.UUID | None = Field(
        description="innsync's room type or rate plan id; null for the account and property"
    )
    changed: list[str] = Field(description="The channel's fields that were updated")


class ProvisionRead(BaseModel):
    connection_id: uuid.UUID
    remote_property_id: str
    created: int
    matched: int
    updated: int
    items: list[ProvisionedItemRead]
    mappings: MappingsRead


class RemoteItemKept(BaseModel):
    remote_id: str
    reason: str = Field(description="Why it was kept: the channel's own words, or innsync's")


class RemoteRemovalRead(BaseModel):
    """What was removed on the channel, and what was kept with the reason, per kind."""

    removed: list[str] = Field(description="Rate plans removed")
    kept: list[RemoteItemKept] = Field(description="Rate plans kept")
    removed_room_types: list[str] = Field(default_factory=list)
    kept_room_types: list[RemoteItemKept] = Field(default_factory=list)
    kept_property: RemoteItemKept | None = Field(
        default=None, description="On deleting a connection: the channel's property, kept"
    )


class RemoteRoomTypeRead(BaseModel):
    remote_id: str
    title: str
    units: int
    max_adults: int
    max_children: int
    default_occupancy: int


class RemoteRatePlanRead(BaseModel):
    remote_id: str
    room_type_remote_id: str
    title: str
    pricing: str
    occupancies: list[int]
    primary_occupancy: int | None


class RoomTypeMismatch(BaseModel):
    """A rate plan mapped to a remote plan that the channel sells in another room type."""

    rate_plan_id: uuid.UUID
    channel_code: str
    expected_room_type_code: str | None = Field(
        description="The code innsync's room type of the plan is mapped to (null: unmapped)"
    )
    remote_room_type_code: str


class MappingCheck(BaseModel):
    """What is wrong between the mappings and what the channel holds; empty lists mean fine."""

    is_consistent: bool
    unmapped_room_types: list[uuid.UUID]
    unmapped_rate_plans: list[uuid.UUID]
    dangling_room_types: list[RoomTypeMappingIn] = Field(
        description="Mappings to codes the channel does not have"
    )
    dangling_rate_plans: list[RatePlanMappingIn]
    room_type_mismatches: list[RoomTypeMismatch]
    unused_remote_room_types: list[str] = Field(description="Channel codes nothing maps to")
    unused_remote_rate_plans: list[str]


class RemoteCatalogRead(BaseModel):
    remote_property_id: str
    room_types: list[RemoteRoomTypeRead]
    rate_plans: list[RemoteRatePlanRead]
    check: MappingCheck


class WebhooksRegisteredRead(BaseModel):
    """The URL the channel now calls, and how many subscriptions were created or updated."""

    callback_url: str
    changed: int
