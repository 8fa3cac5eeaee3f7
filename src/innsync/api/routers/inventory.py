"""Bulk ARI writes, the effective calendar, availability and blocks."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from innsync.api.deps import DbSession, Reader, Writer
from innsync.errors import InvalidInputError
from innsync.inventory import availability, calendar
from innsync.inventory.schemas import (
    AriWrite,
    AriWriteResult,
    AvailabilityRead,
    BlockCreate,
    BlockRead,
    CalendarRead,
)
from innsync.stay_dates import DateRange

router = APIRouter(tags=["inventory"])
MAX_CALENDAR_DAYS = 750

DateFrom = Annotated[date, Query(description="First stay date, included")]
DateTo = Annotated[date, Query(description="Last stay date, included")]


def _range(date_from: date, date_to: date) -> DateRange:
    if date_to < date_from:
        raise InvalidInputError("date_to must not be before date_from")
    dates = DateRange.inclusive(date_from, date_to)
    if dates.nights > MAX_CALENDAR_DAYS:
        raise InvalidInputError(f"read at most {MAX_CALENDAR_DAYS} days at a time")
    return dates


@router.post("/properties/{property_id}/ari")
def write_ari(property_id: uuid.UUID, data: AriWrite, session: DbSession, who: Writer) -> AriWriteResult:
    """Change rates, restrictions and blocks for many plans and ranges at once, all or nothing."""
    result = calendar.write_ari(session, who.tenant_id, property_id, data)
    session.commit()
    return result


@router.get("/rate-plans/{rate_plan_id}/calendar")
def read_calendar(
    rate_plan_id: uuid.UUID, date_from: DateFrom, date_to: DateTo, session: DbSession, who: Reader
) -> CalendarRead:
    """Effective values per stay date: a derived plan shows its resolved prices and restrictions."""
    return calendar.read_calendar(session, who.tenant_id, rate_plan_id, _range(date_from, date_to))


@router.get("/properties/{property_id}/availability")
def read_availability(
    property_id: uuid.UUID, date_from: DateFrom, date_to: DateTo, session: DbSession, who: Reader
) -> AvailabilityRead:
    return availability.read_availability(
        session, who.tenant_id, property_id, _range(date_from, date_to)
    )


@router.post("/room-types/{room_type_id}/blocks", status_code=status.HTTP_201_CREATED)
def create_block(
    room_type_id: uuid.UUID, data: BlockCreate, session: DbSession, who: Writer
) -> BlockRead:
    block = availability.create_block(session, who.tenant_id, room_type_id, data)
    session.commit()
    return availability.block_read(block)


@router.get("/room-types/{room_type_id}/blocks")
def list_blocks(room_type_id: uuid.UUID, session: DbSession, who: Reader) -> list[BlockRead]:
    blocks = availability.list_blocks(session, who.tenant_id, room_type_id)
    return [availability.block_read(block) for block in blocks]


@router.delete("/blocks/{block_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_block(block_id: uuid.UUID, session: DbSession, who: Writer) -> None:
    availability.delete_block(session, who.tenant_id, block_id)
    session.commit()
