"""The shapes of Channex API v1 answers (channex.md §1.2, §1.4 to §1.7), as innsync reads them.

Unknown fields are ignored: Channex adds fields over time, and innsync reads only what it uses.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VendorModel(BaseModel):
    # Channex adds fields over time; unknown ones are ignored, missing required ones fail.
    model_config = ConfigDict(extra="ignore", frozen=True)


class TaskRef(VendorModel):
    """A queued ARI task; one call is one task (channex.md §1.5)."""

    id: str
    type: str = "task"


class AriWriteMeta(VendorModel):
    message: str | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class AriWriteAnswer(VendorModel):
    """The 200 answer to POST /restrictions or /availability; refused entries are warnings."""

    data: list[TaskRef] | None = None
    meta: AriWriteMeta = Field(default_factory=AriWriteMeta)

    @property
    def task_id(self) -> str | None:
        return self.data[0].id if self.data else None


class RestrictionDay(VendorModel):
    """One rate plan on one date as GET /restrictions shows it (rates as decimal strings)."""

    rate: Decimal | None = Field(default=None, ge=0)
    min_stay_arrival: int | None = Field(default=None, ge=1)
    min_stay_through: int | None = Field(default=None, ge=1)
    max_stay: int | None = Field(default=None, ge=0)
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    stop_sell: bool | None = None


class RestrictionsAnswer(VendorModel):
    data: dict[str, dict[date, RestrictionDay]]


class AvailabilityAnswer(VendorModel):
    data: dict[str, dict[date, int]]


class PropertyAttributes(VendorModel):
    id: str
    title: str | None = None
    currency: str | None = None
    timezone: str | None = None
    # §1.4 optional address, contact and content fields (coordinates are decimal strings).
    email: str | None = None
    phone: str | None = None
    zip_code: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    address: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    website: str | None = None
    content: dict[str, Any] | None = None
    group_ids: tuple[str, ...] = ()
    """From the `groups` relationship (§1.4), when the answer carries it."""


class GroupAttributes(VendorModel):
    id: str
    title: str


class RoomTypeAttributes(VendorModel):
    """A room type as §1.4 describes it."""

    id: str
    property_id: str | None = None
    title: str
    count_of_rooms: int
    occ_adults: int
    occ_children: int = 0
    occ_infants: int = 0
    default_occupancy: int


class OccupancyOption(VendorModel):
    occupancy: int
    is_primary: bool = False


class RatePlanAttributes(VendorModel):
    """A rate plan as §1.4 describes it, with its occupancy options."""

    id: str
    property_id: str | None = None
    room_type_id: str
    title: str
    sell_mode: str = "per_room"
    rate_mode: str = "manual"
    parent_rate_plan_id: str | None = None
    options: list[OccupancyOption] = Field(default_factory=list)
    meal_type: str | None = None
    # §1.4: decimal strings in answers ("0.00"); numbers are read too.
    children_fee: Decimal | None = None
    infant_fee: Decimal | None = None
    # [UNCONFIRMED] not in §1.4; third-party integrations send it (CHECKLIST.yaml).
    cancellation_policy_id: str | None = None


class CancellationPolicyAttributes(VendorModel):
    """[UNCONFIRMED] A policy of ``/cancellation_policies``, known from third-party code only;
    innsync reads back its id, property and title."""

    id: str
    property_id: str | None = None
    title: str


class Resource(VendorModel):
    id: str
    attributes: dict[str, Any]
    relationships: dict[str, Any] = Field(default_factory=dict)

    def merged(self) -> dict[str, Any]:
        """The attributes with the resource id and, for properties, the ids of its groups."""
        merged = {**self.attributes, "id": self.id}
        groups = self.relationships.get("groups")
        if isinstance(groups, dict) and isinstance(groups.get("data"), list):
            merged["group_ids"] = tuple(
                str(item["id"])
                for item in groups["data"]
                if isinstance(item, dict) and "id" in item
            )
        return merged


class ResourceAnswer(VendorModel):
    data: Resource


class ListMeta(VendorModel):
    total: int | None = None


class ListAnswer(VendorModel):
    data: list[Resource]
    meta: ListMeta = Field(default_factory=ListMeta)


class PropertyResource(VendorModel):
    attributes: PropertyAttributes


class PropertyAnswer(VendorModel):
    data: PropertyResource


class RatePlanOption(VendorModel):
    """One row of GET /rate_plans/options: one occupancy option of one plan (channex.md §1.4)."""

    id: str
    room_type_id: str | None = None
    sell_mode: str = "per_room"
    occupancy: int | None = None


class RatePlanOptionResource(VendorModel):
    id: str
    attributes: dict[str, Any]


class RatePlanOptionsAnswer(VendorModel):
    data: list[RatePlanOptionResource]


class WebhookAttributes(VendorModel):
    """§1.7 webhook subscription."""

    id: str
    property_id: str | None = None
    callback_url: str
    event_mask: str
    is_active: bool = False
    send_data: bool = False
    headers: dict[str, str] | None = None


class ChannelAttributes(VendorModel):
    """One OTA channel of a property (docs.channex.io "Channel API"; not in §1.4, see
    docs/channels/channex.md): ``channel`` is the OTA's code, e.g. "BookingCom"."""

    id: str
    channel: str
    title: str | None = None
    is_active: bool = True


class ErrorBody(VendorModel):
    code: str = "unknown"
    title: str = ""
    details: dict[str, Any] | list[Any] | None = None


class ErrorAnswer(VendorModel):
    errors: ErrorBody
