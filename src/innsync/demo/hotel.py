"""The demo hotel: created through innsync's public API, provisioned on the Channex simulator.

Three room types, two rate plans each: a base plan and a plan derived from it. One room type is
priced per person, so every pricing mode and derivation innsync supports travels to Channex.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

TIMEZONE = "Europe/Rome"
CURRENCY = "EUR"
# The shortest horizon a property may have: a full sync stays one call per endpoint class.
HORIZON_DAYS = 365
# How often innsync reads the unacknowledged feed of the demo connection: a missed webhook
# arrives within this, not within Channex's default minute.
FEED_POLL_SECONDS = 30


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """A rate plan of the demo: base price(s) or a derivation from the room's first plan."""

    code: str
    name: str
    per_person_prices: dict[int, Decimal] | None = None
    price: Decimal | None = None
    derived_rule: tuple[str, str] | None = None  # (kind, value) of one derivation rule
    inherit: tuple[str, ...] = ()
    meal_plan: str = "room_only"

    @property
    def is_derived(self) -> bool:
        return self.derived_rule is not None

    def own_restrictions(self) -> tuple[str, ...]:
        """The restrictions this plan may be given (a derived plan's inherited ones come from
        its parent and are refused on it)."""
        return tuple(name for name in RESTRICTIONS if name not in self.inherit)


@dataclass(frozen=True, slots=True)
class RoomSpec:
    code: str
    name: str
    units: int
    max_adults: int
    max_occupancy: int
    plans: tuple[PlanSpec, ...]


# The restrictions the traffic generator changes: those Channex holds (it has no advance rules).
RESTRICTIONS = (
    "min_stay_arrival",
    "max_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
)

ROOMS = (
    RoomSpec(
        "DBL",
        "Double room",
        units=10,
        max_adults=2,
        max_occupancy=3,
        plans=(
            PlanSpec("DBL-BAR", "Double, best available rate", price=Decimal("120.00")),
            PlanSpec(
                "DBL-NRF",
                "Double, non refundable",
                derived_rule=("percent", "-10"),
                inherit=("stop_sell", "closed_to_arrival"),
            ),
        ),
    ),
    RoomSpec(
        "TWN",
        "Twin room",
        units=8,
        max_adults=2,
        max_occupancy=2,
        plans=(
            PlanSpec(
                "TWN-BAR",
                "Twin, per person",
                per_person_prices={1: Decimal("85.00"), 2: Decimal("105.00")},
            ),
            PlanSpec("TWN-FLEX", "Twin, flexible", derived_rule=("percent", "12")),
        ),
    ),
    RoomSpec(
        "STE",
        "Suite",
        units=3,
        max_adults=3,
        max_occupancy=4,
        plans=(
            PlanSpec("STE-BAR", "Suite, best available rate", price=Decimal("240.00")),
            PlanSpec(
                "STE-BB",
                "Suite with breakfast",
                derived_rule=("amount", "30"),
                meal_plan="breakfast",
            ),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class DemoPlan:
    spec: PlanSpec
    id: uuid.UUID
    channex_id: str


@dataclass(frozen=True, slots=True)
class DemoRoom:
    spec: RoomSpec
    id: uuid.UUID
    channex_id: str
    plans: tuple[DemoPlan, ...]


@dataclass(frozen=True, slots=True)
class DemoHotel:
    """Ids of the demo hotel on both sides, and the dates the first full sync covered."""

    property_id: uuid.UUID
    connection_id: uuid.UUID
    channex_property_id: str
    rooms: tuple[DemoRoom, ...]
    synced_from: date
    synced_to: date

    def names(self) -> dict[str, str]:
        """Channex ids to readable codes, for reports."""
        found = {room.channex_id: room.spec.code for room in self.rooms}
        found.update({p.channex_id: p.spec.code for room in self.rooms for p in room.plans})
        return found


class SetupError(RuntimeError):
    """innsync or the simulator refused a step of the demo's set-up."""


def property_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(TIMEZONE)).date()


def _created(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code not in (200, 201, 202):
        raise SetupError(f"{what}: {answer.status_code} {answer.text[:500]}")
    body: dict[str, Any] = answer.json()
    return body


async def create_hotel(
    api: httpx.AsyncClient,
    sim_api_url: str,
    sim_api_key: str,
    webhook_secret: str,
) -> DemoHotel:
    """Property, rooms, plans and a year of rates in innsync; then the Channex connection:
    provisioned, webhooks registered, first full sync started."""
    prop = _created(
        await api.post(
            "/properties",
            json={
                "name": "Hotel Demo Aurora",
                "timezone": TIMEZONE,
                "currency": CURRENCY,
                "horizon_days": HORIZON_DAYS,
            },
        ),
        "property",
    )
    property_id = uuid.UUID(prop["id"])
    room_ids: dict[str, uuid.UUID] = {}
    plan_ids: dict[str, uuid.UUID] = {}
    for room in ROOMS:
        created = _created(
            await api.post(
                f"/properties/{property_id}/room-types",
                json={
                    "code": room.code,
                    "name": room.name,
                    "sellable_units": room.units,
                    "max_adults": room.max_adults,
                    "max_occupancy": room.max_occupancy,
                    "default_occupancy": min(2, room.max_adults),
                },
            ),
            f"room type {room.code}",
        )
        room_ids[room.code] = uuid.UUID(created["id"])
        for plan in room.plans:
            plan_ids[plan.code] = await _create_plan(
                api, property_id, room, plan, room_ids, plan_ids
            )
    await set_opening_rates(api, property_id, plan_ids)

    connection = _created(
        await api.post(
            f"/properties/{property_id}/connections",
            json={
                "channel": "channex",
                "name": "Channex (simulator)",
                "config": {
                    "base_url": sim_api_url,
                    "api_key": sim_api_key,
                    "webhook_secret": webhook_secret,
                    "feed_poll_seconds": FEED_POLL_SECONDS,
                },
            },
        ),
        "connection",
    )
    connection_id = uuid.UUID(connection["id"])
    provisioned = _created(
        await api.post(f"/connections/{connection_id}/provision"), "provisioning on Channex"
    )
    channex_property_id = str(provisioned["remote_property_id"])
    codes = {
        uuid.UUID(row["room_type_id"]): row["channel_code"]
        for row in provisioned["mappings"]["room_types"]
    }
    codes.update(
        {
            uuid.UUID(row["rate_plan_id"]): row["channel_code"]
            for row in provisioned["mappings"]["rate_plans"]
        }
    )
    # The simulator reaches innsync at the URL this API is called on (INNSYNC_PUBLIC_URL unset).
    _created(
        await api.post(f"/connections/{connection_id}/webhooks/register"),
        "webhook subscriptions on Channex",
    )
    started = _created(
        await api.post(f"/connections/{connection_id}/full-sync"), "the first full sync"
    )
    rooms = tuple(
        DemoRoom(
            room,
            room_ids[room.code],
            codes[room_ids[room.code]],
            tuple(
                DemoPlan(plan, plan_ids[plan.code], codes[plan_ids[plan.code]])
                for plan in room.plans
            ),
        )
        for room in ROOMS
    )
    return DemoHotel(
        property_id,
        connection_id,
        channex_property_id,
        rooms,
        date.fromisoformat(started["date_from"]),
        date.fromisoformat(started["date_to"]),
    )


async def _create_plan(
    api: httpx.AsyncClient,
    property_id: uuid.UUID,
    room: RoomSpec,
    plan: PlanSpec,
    room_ids: dict[str, uuid.UUID],
    plan_ids: dict[str, uuid.UUID],
) -> uuid.UUID:
    base = room.plans[0]
    body: dict[str, Any] = {
        "room_type_id": str(room_ids[room.code]),
        "code": plan.code,
        "name": plan.name,
        "meal_plan": plan.meal_plan,
    }
    if base.per_person_prices is not None:
        body["pricing"] = "per_person"
        body["occupancies"] = sorted(base.per_person_prices)
    if plan.derived_rule is not None:
        kind, value = plan.derived_rule
        body["derived_from"] = {
            "parent_id": str(plan_ids[base.code]),
            "rules": [{"kind": kind, "value": value}],
            "inherit": list(plan.inherit),
        }
    created = _created(
        await api.post(f"/properties/{property_id}/rate-plans", json=body), f"rate plan {plan.code}"
    )
    return uuid.UUID(created["id"])


def writable_dates(today: date) -> tuple[date, date]:
    """The first and last stay dates the demo writes: today to the end of the horizon."""
    return today, today + timedelta(days=HORIZON_DAYS - 1)


async def set_opening_rates(
    api: httpx.AsyncClient, property_id: uuid.UUID, plan_ids: dict[str, uuid.UUID]
) -> None:
    """A year of prices on every base plan: weekends dearer, two nights minimum on Saturdays."""
    first, last = writable_dates(property_today())
    entries: list[dict[str, Any]] = []
    for room in ROOMS:
        base = room.plans[0]
        span = {
            "rate_plan_id": str(plan_ids[base.code]),
            "date_from": first.isoformat(),
            "date_to": last.isoformat(),
        }
        if base.per_person_prices is not None:
            entries.append(
                {
                    **span,
                    "occupancy_prices": {str(k): str(v) for k, v in base.per_person_prices.items()},
                }
            )
            continue
        price = base.price or Decimal("100.00")
        entries.append({**span, "price": str(price)})
        entries.append(
            {
                **span,
                "weekdays": ["fr", "sa"],
                "price": str((price * Decimal("1.25")).quantize(Decimal("1.00"))),
            }
        )
        entries.append({**span, "weekdays": ["sa"], "min_stay_arrival": 2})
    _created(await api.post(f"/properties/{property_id}/ari", json={"entries": entries}), "rates")
