"""A property for the calendar page: room types x rate plans with a month of ARI, a booking,
a block over it (an overbooked night) and a connection mapping everything; all via services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from innsync.admin.calendar_grid import month_range
from innsync.connections import service as connections
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.inventory.availability import create_block
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import AriWrite, BlockCreate
from innsync.properties import service as properties
from innsync.properties.schemas import DerivationIn, RatePlanCreate, RoomTypeCreate
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct


def next_month() -> date:
    """The first day of next month (inside every property's horizon, never in the past)."""
    return month_range(datetime.now(UTC).date()).end


@dataclass
class CalendarProperty:
    property_id: uuid.UUID
    month: date
    room_type_ids: list[uuid.UUID] = field(default_factory=list)
    rate_plan_ids: list[uuid.UUID] = field(default_factory=list)
    derived_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None

    @property
    def month_text(self) -> str:
        return f"{self.month:%Y-%m}"


def add_calendar(
    sessions: sessionmaker[Session],
    box: SecretBox,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    rooms: int,
    plans_each: int,
    *,
    month: date | None = None,
    connection: ConnectionCreate | None = None,
    derived: bool = False,
    codes: tuple[list[str], list[str]] | None = None,
) -> CalendarProperty:
    """Room types of one unit each (the booking fills the first), ``plans_each`` plans per room
    type with weekday prices and restrictions over ``month``, and a mapped connection.

    ``derived`` adds a plan deriving from the first one (10 % off); ``codes`` are the channel's
    room type and rate plan codes to map to (default: made-up codes for the fake channel)."""
    first = month or next_month()
    last = month_range(first).last
    built = CalendarProperty(property_id, first)
    with transaction(sessions) as session:
        for index in range(rooms):
            room = properties.create_room_type(
                session,
                tenant_id,
                property_id,
                RoomTypeCreate(
                    code=f"R{index:02d}",
                    name=f"Room {index}",
                    sellable_units=1,
                    max_adults=2,
                    max_occupancy=2,
                    default_occupancy=2,
                ),
            )
            built.room_type_ids.append(room.id)
            for number in range(plans_each):
                plan = properties.create_rate_plan(
                    session,
                    tenant_id,
                    property_id,
                    RatePlanCreate(
                        room_type_id=room.id,
                        code=f"R{index:02d}-P{number:02d}",
                        name=f"Plan {number}",
                    ),
                )
                built.rate_plan_ids.append(plan.id)
        if derived:
            child = properties.create_rate_plan(
                session,
                tenant_id,
                property_id,
                RatePlanCreate(
                    room_type_id=built.room_type_ids[0],
                    code="R00-ZDERIVED",
                    name="Derived",
                    derived_from=DerivationIn.model_validate(
                        {
                            "parent_id": built.rate_plan_ids[0],
                            "rules": [{"kind": "percent", "value": "-10"}],
                        }
                    ),
                ),
            )
            built.derived_id = child.id
        entries: list[dict[str, Any]] = []
        for index, plan_id in enumerate(built.rate_plan_ids):
            span = {"rate_plan_id": str(plan_id), "date_from": str(first), "date_to": str(last)}
            entries += [
                {**span, "price": str(Decimal(100 + index)), "min_stay_arrival": 2},
                {**span, "weekdays": ["fr", "sa"], "price": str(Decimal(130 + index))},
                {**span, "weekdays": ["su"], "closed_to_arrival": True, "max_stay": 7},
            ]
        entries.append(
            {
                "rate_plan_id": str(built.rate_plan_ids[0]),
                "date_from": str(first + timedelta(days=20)),
                "date_to": str(first + timedelta(days=21)),
                "stop_sell": True,
            }
        )
        write_ari(session, tenant_id, property_id, AriWrite.model_validate({"entries": entries}))
        booking = create_direct(
            session,
            tenant_id,
            property_id,
            ReservationCreate(
                arrival=first + timedelta(days=2),
                departure=first + timedelta(days=5),
                rooms=[
                    RoomIn(
                        room_type_id=built.room_type_ids[0],
                        rate_plan_id=built.rate_plan_ids[0],
                        adults=2,
                    )
                ],
            ),
        )
        built.booking_id = booking.id
        # The night of the 4th is sold and blocked: one unit, two taken, overbooked by one.
        create_block(
            session,
            tenant_id,
            built.room_type_ids[0],
            BlockCreate(
                date_from=first + timedelta(days=3),
                date_to=first + timedelta(days=3),
                units=1,
                reason="Leak",
            ),
        )
        if connection is not None:
            rooms_codes, plans_codes = codes or (
                [f"RT{n}" for n in range(rooms)],
                [f"RP{n}" for n in range(len(built.rate_plan_ids))],
            )
            created = connections.create_connection(
                session, box, tenant_id, property_id, connection
            )
            connections.set_mappings(
                session,
                tenant_id,
                created.id,
                MappingsWrite(
                    room_types=[
                        RoomTypeMappingIn(room_type_id=room_id, channel_code=code)
                        for room_id, code in zip(built.room_type_ids, rooms_codes, strict=True)
                    ],
                    rate_plans=[
                        RatePlanMappingIn(rate_plan_id=plan_id, channel_code=code)
                        for plan_id, code in zip(built.rate_plan_ids, plans_codes, strict=True)
                    ],
                ),
            )
    return built
