"""Properties, room types, units and rate plans."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from innsync.api.deps import DbSession, Reader, Writer
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

router = APIRouter(tags=["properties"])


@router.post("/properties", status_code=status.HTTP_201_CREATED)
def create_property(data: PropertyCreate, session: DbSession, who: Writer) -> PropertyRead:
    prop = service.create_property(session, who.tenant_id, data)
    session.commit()
    return PropertyRead.model_validate(prop)


@router.get("/properties")
def list_properties(session: DbSession, who: Reader) -> list[PropertyRead]:
    return [PropertyRead.model_validate(p) for p in service.list_properties(session, who.tenant_id)]


@router.get("/properties/{property_id}")
def get_property(property_id: uuid.UUID, session: DbSession, who: Reader) -> PropertyRead:
    return PropertyRead.model_validate(service.get_owned(session, Property, who.tenant_id, property_id))


@router.patch("/properties/{property_id}")
def update_property(
    property_id: uuid.UUID, data: PropertyUpdate, session: DbSession, who: Writer
) -> PropertyRead:
    prop = service.update_property(session, who.tenant_id, property_id, data)
    session.commit()
    return PropertyRead.model_validate(prop)


@router.delete("/properties/{property_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_property(property_id: uuid.UUID, session: DbSession, who: Writer) -> None:
    service.delete_property(session, who.tenant_id, property_id)
    session.commit()


@router.post("/properties/{property_id}/room-types", status_code=status.HTTP_201_CREATED)
def create_room_type(
    property_id: uuid.UUID, data: RoomTypeCreate, session: DbSession, who: Writer
) -> RoomTypeRead:
    room_type = service.create_room_type(session, who.tenant_id, property_id, data)
    session.commit()
    return RoomTypeRead.model_validate(room_type)


@router.get("/properties/{property_id}/room-types")
def list_room_types(property_id: uuid.UUID, session: DbSession, who: Reader) -> list[RoomTypeRead]:
    found = service.list_room_types(session, who.tenant_id, property_id)
    return [RoomTypeRead.model_validate(room_type) for room_type in found]


@router.get("/room-types/{room_type_id}")
def get_room_type(room_type_id: uuid.UUID, session: DbSession, who: Reader) -> RoomTypeRead:
    return RoomTypeRead.model_validate(
        service.get_owned(session, RoomType, who.tenant_id, room_type_id)
    )


@router.patch("/room-types/{room_type_id}")
def update_room_type(
    room_type_id: uuid.UUID, data: RoomTypeUpdate, session: DbSession, who: Writer
) -> RoomTypeRead:
    room_type = service.update_room_type(session, who.tenant_id, room_type_id, data)
    session.commit()
    return RoomTypeRead.model_validate(room_type)


@router.delete("/room-types/{room_type_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_room_type(room_type_id: uuid.UUID, session: DbSession, who: Writer) -> None:
    service.delete_room_type(session, who.tenant_id, room_type_id)
    session.commit()


@router.post("/room-types/{room_type_id}/units", status_code=status.HTTP_201_CREATED)
def create_unit(
    room_type_id: uuid.UUID, data: UnitCreate, session: DbSession, who: Writer
) -> UnitRead:
    unit = service.create_unit(session, who.tenant_id, room_type_id, data)
    session.commit()
    return UnitRead.model_validate(unit)


@router.get("/room-types/{room_type_id}/units")
def list_units(room_type_id: uuid.UUID, session: DbSession, who: Reader) -> list[UnitRead]:
    return [UnitRead.model_validate(u) for u in service.list_units(session, who.tenant_id, room_type_id)]


@router.delete("/units/{unit_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_unit(unit_id: uuid.UUID, session: DbSession, who: Writer) -> None:
    service.delete_unit(session, who.tenant_id, unit_id)
    session.commit()


@router.post("/properties/{property_id}/rate-plans", status_code=status.HTTP_201_CREATED)
def create_rate_plan(
    property_id: uuid.UUID, data: RatePlanCreate, session: DbSession, who: Writer
) -> RatePlanRead:
    plan = service.create_rate_plan(session, who.tenant_id, property_id, data)
    session.commit()
    return service.rate_plan_read(plan)


@router.get("/properties/{property_id}/rate-plans")
def list_rate_plans(property_id: uuid.UUID, session: DbSession, who: Reader) -> list[RatePlanRead]:
    plans = service.list_rate_plans(session, who.tenant_id, property_id)
    return [service.rate_plan_read(plan) for plan in plans]


@router.get("/rate-plans/{rate_plan_id}")
def get_rate_plan(rate_plan_id: uuid.UUID, session: DbSession, who: Reader) -> RatePlanRead:
    return service.rate_plan_read(service.get_owned(session, RatePlan, who.tenant_id, rate_plan_id))


@router.patch("/rate-plans/{rate_plan_id}")
def update_rate_plan(
    rate_plan_id: uuid.UUID, data: RatePlanUpdate, session: DbSession, who: Writer
) -> RatePlanRead:
    plan = service.update_rate_plan(session, who.tenant_id, rate_plan_id, data)
    session.commit()
    return service.rate_plan_read(plan)


@router.delete("/rate-plans/{rate_plan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rate_plan(rate_plan_id: uuid.UUID, session: DbSession, who: Writer) -> None:
    service.delete_rate_plan(session, who.tenant_id, rate_plan_id)
    session.commit()
