"""Properties, room types, units and rate plans."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from innsync.api.deps import Db, Reader, Writer
from innsync.db.base import utcnow
from innsync.properties import service
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.schemas import (
    PropertyCreate,
    PropertyRead,
    PropertyUpdate,
    RatePlanCreate,
    RatePlanRead,
    RatePlanUpdate,
    RoomTypeCreate,
    RoomTypeRead,
    RoomTypeUpdate,
    UnitCreate,
    UnitRead,
)
from innsync.reservations import assignment

router = APIRouter(tags=["properties"])


@router.post("/properties", status_code=status.HTTP_201_CREATED)
async def create_property(data: PropertyCreate, db: Db, who: Writer) -> PropertyRead:
    """Create a property: its time zone, ISO 4217 currency and sync horizon."""
    return await db.write(
        lambda s: PropertyRead.model_validate(service.create_property(s, who.tenant_id, data))
    )


@router.get("/properties")
async def list_properties(db: Db, who: Reader) -> list[PropertyRead]:
    """Every property of the caller's tenant."""
    return await db.read(
        lambda s: [
            PropertyRead.model_validate(p) for p in service.list_properties(s, who.tenant_id)
        ]
    )


@router.get("/properties/{property_id}")
async def get_property(property_id: uuid.UUID, db: Db, who: Reader) -> PropertyRead:
    """One property."""
    return await db.read(
        lambda s: PropertyRead.model_validate(
            service.get_owned(s, Property, who.tenant_id, property_id)
        )
    )


@router.patch("/properties/{property_id}")
async def update_property(
    property_id: uuid.UUID, data: PropertyUpdate, db: Db, who: Writer
) -> PropertyRead:
    """Change a property's name, time zone, currency or horizon (fields given only)."""
    return await db.write(
        lambda s: PropertyRead.model_validate(
            service.update_property(s, who.tenant_id, property_id, data)
        )
    )


@router.delete("/properties/{property_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_property(property_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Delete a property; refused (409) while it has room types."""
    await db.write(lambda s: service.delete_property(s, who.tenant_id, property_id))


@router.post("/properties/{property_id}/room-types", status_code=status.HTTP_201_CREATED)
async def create_room_type(
    property_id: uuid.UUID, data: RoomTypeCreate, db: Db, who: Writer
) -> RoomTypeRead:
    """Add a room type (its code is unique in the property) with its sellable units and occupancy
    limits.
    """
    return await db.write(
        lambda s: RoomTypeRead.model_validate(
            service.create_room_type(s, who.tenant_id, property_id, data)
        )
    )


@router.get("/properties/{property_id}/room-types")
async def list_room_types(property_id: uuid.UUID, db: Db, who: Reader) -> list[RoomTypeRead]:
    """The property's room types, by code."""
    return await db.read(
        lambda s: [
            RoomTypeRead.model_validate(room_type)
            for room_type in service.list_room_types(s, who.tenant_id, property_id)
        ]
    )


@router.get("/room-types/{room_type_id}")
async def get_room_type(room_type_id: uuid.UUID, db: Db, who: Reader) -> RoomTypeRead:
    """One room type."""
    return await db.read(
        lambda s: RoomTypeRead.model_validate(
            service.get_owned(s, RoomType, who.tenant_id, room_type_id)
        )
    )


@router.patch("/room-types/{room_type_id}")
async def update_room_type(
    room_type_id: uuid.UUID, data: RoomTypeUpdate, db: Db, who: Writer
) -> RoomTypeRead:
    """Change a room type; a new `sellable_units` changes availability on every channel."""
    return await db.write(
        lambda s: RoomTypeRead.model_validate(
            service.update_room_type(s, who.tenant_id, room_type_id, data)
        )
    )


@router.delete("/room-types/{room_type_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_room_type(room_type_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Delete a room type and its units; refused while rate plans, reservations, blocks or ledger
    rows use it.
    """
    await db.write(lambda s: service.delete_room_type(s, who.tenant_id, room_type_id))


@router.post("/room-types/{room_type_id}/units", status_code=status.HTTP_201_CREATED)
async def create_unit(room_type_id: uuid.UUID, data: UnitCreate, db: Db, who: Writer) -> UnitRead:
    """Add a physical room (unit) to a room type, for assignment; its name is unique in the
    property.
    """

    def create(session: Session) -> UnitRead:
        unit = service.create_unit(session, who.tenant_id, room_type_id, data)
        room_type = session.get_one(RoomType, unit.room_type_id)
        today = service.property_today(session.get_one(Property, room_type.property_id), utcnow())
        # Stays left without a unit (an overbooking) take the new one where it is free.
        assignment.place_in_new_unit(session, unit, today)
        return UnitRead.model_validate(unit)

    return await db.write(create)


@router.get("/room-types/{room_type_id}/units")
async def list_units(room_type_id: uuid.UUID, db: Db, who: Reader) -> list[UnitRead]:
    """The room type's units, by name."""
    return await db.read(
        lambda s: [
            UnitRead.model_validate(unit)
            for unit in service.list_units(s, who.tenant_id, room_type_id)
        ]
    )


@router.delete("/units/{unit_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_unit(unit_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Delete a unit; refused (409) while reservations are assigned to it."""
    await db.write(lambda s: service.delete_unit(s, who.tenant_id, unit_id))


@router.post("/properties/{property_id}/rate-plans", status_code=status.HTTP_201_CREATED)
async def create_rate_plan(
    property_id: uuid.UUID, data: RatePlanCreate, db: Db, who: Writer
) -> RatePlanRead:
    """Add a rate plan to a room type: per-room or per-person pricing, optionally derived from a
    parent plan.
    """
    return await db.write(
        lambda s: service.rate_plan_read(
            service.create_rate_plan(s, who.tenant_id, property_id, data)
        )
    )


@router.get("/properties/{property_id}/rate-plans")
async def list_rate_plans(property_id: uuid.UUID, db: Db, who: Reader) -> list[RatePlanRead]:
    """The property's rate plans, by code."""
    return await db.read(
        lambda s: [
            service.rate_plan_read(plan)
            for plan in service.list_rate_plans(s, who.tenant_id, property_id)
        ]
    )


@router.get("/rate-plans/{rate_plan_id}")
async def get_rate_plan(rate_plan_id: uuid.UUID, db: Db, who: Reader) -> RatePlanRead:
    """One rate plan, with its derivation rules."""
    return await db.read(
        lambda s: service.rate_plan_read(
            service.get_owned(s, RatePlan, who.tenant_id, rate_plan_id)
        )
    )


@router.patch("/rate-plans/{rate_plan_id}")
async def update_rate_plan(
    rate_plan_id: uuid.UUID, data: RatePlanUpdate, db: Db, who: Writer
) -> RatePlanRead:
    """Change a rate plan (fields given only); a new derivation is refused if it would close a
    loop.
    """
    return await db.write(
        lambda s: service.rate_plan_read(
            service.update_rate_plan(s, who.tenant_id, rate_plan_id, data)
        )
    )


@router.delete("/rate-plans/{rate_plan_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rate_plan(rate_plan_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Delete a rate plan; refused while reservations, mappings or derived plans use it."""
    await db.write(lambda s: service.delete_rate_plan(s, who.tenant_id, rate_plan_id))
