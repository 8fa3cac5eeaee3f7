"""innsync's side of a benchmark hotel: rooms, plans, realistic varied ARI, a mapped connection.

Written through the same services the API uses, so the hotel is what a PMS would have built.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from innsync.connections import service as connections
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import MAX_ARI_ENTRIES, AriWrite
from innsync.properties import service as properties
from innsync.properties.models import Property
from innsync.properties.schemas import PropertyCreate, RatePlanCreate, RoomTypeCreate
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync_bench.channex_side import ChannexHotel

# Channex's example state_length (channex.md §1.3): why a full sync covers 500 days.
HORIZON_DAYS = 500
TIMEZONE = "Europe/Lisbon"


@dataclass(frozen=True)
class Hotel:
    """The ids of one benchmark hotel in innsync."""

    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[list[uuid.UUID]]
    connection_id: uuid.UUID

    @property
    def all_plan_ids(self) -> list[uuid.UUID]:
        return [plan for plans in self.rate_plan_ids for plan in plans]


def create_hotel(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    name: str,
    *,
    rooms: int,
    plans_per_room: int,
    connection: ConnectionCreate,
) -> Hotel:
    """A property with ``rooms`` room types of ``plans_per_room`` per-room plans, connected."""
    prop = properties.create_property(
        session,
        tenant_id,
        PropertyCreate(name=name, timezone=TIMEZONE, currency="EUR", horizon_days=HORIZON_DAYS),
    )
    room_type_ids: list[uuid.UUID] = []
    plan_ids: list[list[uuid.UUID]] = []
    for room in range(rooms):
        room_type = properties.create_room_type(
            session,
            tenant_id,
            prop.id,
            RoomTypeCreate(
                code=f"R{room}",
                name=f"Room {room}",
                sellable_units=6 + room % 10,
                max_adults=2,
                max_occupancy=2,
                default_occupancy=2,
            ),
        )
        room_type_ids.append(room_type.id)
        plan_ids.append(
            [
                properties.create_rate_plan(
                    session,
                    tenant_id,
                    prop.id,
                    RatePlanCreate(room_type_id=room_type.id, code=f"R{room}-P{plan}", name="Plan"),
                ).id
                for plan in range(plans_per_room)
            ]
        )
    created = connections.create_connection(session, box, tenant_id, prop.id, connection)
    return Hotel(tenant_id, prop.id, room_type_ids, plan_ids, created.id)


def varied_ari_entries(hotel: Hotel, today: date) -> list[dict[str, Any]]:
    """Seasons, weekend prices, minimum stays, stop sells, CTA/CTD and a block: no two plans
    alike (Channex's certification forbids uniform test values, channex.md §1.8)."""

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    start, end = day(-1), day(HORIZON_DAYS - 1)
    entries: list[dict[str, Any]] = []
    for index, plan_id in enumerate(hotel.all_plan_ids):
        base = Decimal(80 + 7 * (index % 23))
        plan = str(plan_id)
        shift = index % 17
        entries += [
            {
                "rate_plan_id": plan,
                "date_from": start,
                "date_to": end,
                "price": str(base),
                "min_stay_arrival": 1,
            },
            {
                "rate_plan_id": plan,
                "date_from": start,
                "date_to": end,
                "weekdays": ["fr", "sa"],
                "price": str(base + 30),
            },
            {
                "rate_plan_id": plan,
                "date_from": day(30 + shift),
                "date_to": day(120 + shift),
                "price": str(base + Decimal("55.50")),
                "min_stay_arrival": 3,
                "max_stay": 14,
            },
            {
                "rate_plan_id": plan,
                "date_from": day(200 + shift),
                "date_to": day(203 + shift),
                "stop_sell": True,
            },
            {
                "rate_plan_id": plan,
                "date_from": day(300),
                "date_to": day(330),
                "closed_to_arrival": True,
                "weekdays": ["su"],
            },
            {
                "rate_plan_id": plan,
                "date_from": day(400 + shift),
                "date_to": day(410 + shift),
                "closed_to_departure": True,
                "min_stay_through": 2,
            },
        ]
    entries.append(
        {
            "room_type_id": str(hotel.room_type_ids[-1]),
            "date_from": day(50),
            "date_to": day(56),
            "block": {"units": 3, "kind": "maintenance"},
        }
    )
    return entries


def seed_varied_ari(session: Session, hotel: Hotel, now: datetime | None = None) -> None:
    """Write the varied ARI and a few direct bookings (so availability varies too)."""
    now = now or datetime.now(UTC)
    prop = session.get_one(Property, hotel.property_id)
    today = properties.property_today(prop, now)
    entries = varied_ari_entries(hotel, today)
    for first in range(0, len(entries), MAX_ARI_ENTRIES):
        chunk = AriWrite.model_validate({"entries": entries[first : first + MAX_ARI_ENTRIES]})
        write_ari(session, hotel.tenant_id, hotel.property_id, chunk, now)
    for offset, nights, room in ((3, 2, 0), (10, 4, -1), (90, 7, 0)):
        create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(
                arrival=today + timedelta(days=offset),
                departure=today + timedelta(days=offset + nights),
                rooms=[RoomIn(room_type_id=hotel.room_type_ids[room], adults=2, amount=300)],
            ),
        )


def map_to_channex(session: Session, hotel: Hotel, channex: ChannexHotel) -> None:
    """Map every room type and plan to its Channex id; this marks everything dirty (resend)."""
    connections.set_mappings(
        session,
        hotel.tenant_id,
        hotel.connection_id,
        MappingsWrite(
            room_types=[
                RoomTypeMappingIn(room_type_id=ours, channel_code=theirs)
                for ours, theirs in zip(hotel.room_type_ids, channex.room_type_ids, strict=True)
            ],
            rate_plans=[
                RatePlanMappingIn(rate_plan_id=ours, channel_code=theirs)
                for ours_plans, their_plans in zip(
                    hotel.rate_plan_ids, channex.rate_plan_ids, strict=True
                )
                for ours, theirs in zip(ours_plans, their_plans, strict=True)
            ],
        ),
    )
