"""The catalog the live XML channel harnesses (Booking.com, Expedia, Agoda) map to their
simulators: one helper, so the three e2e suites exercise the same hotel."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from innsync.properties import service as properties
from innsync.properties.schemas import RatePlanCreate, RoomTypeCreate

ROOM_CODES = ("DBL", "TWN", "STE")
PLAN_CODES = ("BAR", "NRF")


def create_catalog(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Three room types of 6, 7 and 8 units, each with a BAR and an NRF plan coded
    ``<room>-<plan>``; the room type ids and the rate plan ids, in that order."""
    room_types: list[uuid.UUID] = []
    plans: list[uuid.UUID] = []
    for index, code in enumerate(ROOM_CODES):
        room_type = properties.create_room_type(
            session,
            tenant_id,
            property_id,
            RoomTypeCreate(
                code=code,
                name=code,
                sellable_units=6 + index,
                max_adults=2,
                max_occupancy=2,
                default_occupancy=2,
            ),
        )
        room_types.append(room_type.id)
        for plan_code in PLAN_CODES:
            plan = properties.create_rate_plan(
                session,
                tenant_id,
                property_id,
                RatePlanCreate(
                    room_type_id=room_type.id, code=f"{code}-{plan_code}", name=plan_code
                ),
            )
            plans.append(plan.id)
    return room_types, plans
