"""Bulk ARI writes, the effective calendar, availability and blocks."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from innsync.api.date_window import WindowYears
from innsync.api.deps import Db, Reader, Writer
from innsync.errors import InvalidInputError
from innsync.inventory import availability, bulk, calendar
from innsync.inventory.schemas import (
    AriWrite,
    AriWriteResult,
    AvailabilityRead,
    BlockCreate,
    BlockRead,
    CalendarRead,
)
from innsync.properties.models import Property, RatePlan
from innsync.properties.service import check_date_window, get_owned
from innsync.stay_dates import DateRange

router = APIRouter(tags=["inventory"])
MAX_CALENDAR_DAYS = 750

DateFrom = Annotated[date, Query(description="First stay date, included")]
DateTo = Annotated[date, Query(description="Last stay date, included")]


def _range(date_from: date, date_to: date) -> DateRange:
    if date_to < date_from:
        raise InvalidInputError("date_to must not be before date_from")
    if date_to >= date.max:
        raise InvalidInputError(f"date_to must be before {date.max}")
    dates = DateRange.inclusive(date_from, date_to)
    if dates.nights > MAX_CALENDAR_DAYS:
        raise InvalidInputError(f"read at most {MAX_CALENDAR_DAYS} days at a time")
    return dates


def _check_window(prop: Property, years: int, date_from: date, date_to: date) -> None:
    check_date_window(prop, years, {"/query/date_from": date_from, "/query/date_to": date_to})


@router.post("/properties/{property_id}/ari")
async def write_ari(property_id: uuid.UUID, data: AriWrite, db: Db, who: Writer) -> AriWriteResult:
    """Change rates, restrictions and blocks for many plans and ranges at once.

    Checked whole (any invalid entry: nothing is written), then written in bounded
    transactions in entry order (see `docs/api.md` for a write cut short).
    """
    return await run_in_threadpool(
        bulk.write_ari_in_chunks, db.sessions, who.tenant_id, property_id, data
    )


@router.get("/rate-plans/{rate_plan_id}/calendar")
async def read_calendar(
    rate_plan_id: uuid.UUID,
    date_from: DateFrom,
    date_to: DateTo,
    db: Db,
    who: Reader,
    years: WindowYears,
) -> CalendarRead:
    """Effective values per stay date: a derived plan shows its resolved prices and restrictions."""
    dates = _range(date_from, date_to)

    def read(session: Session) -> CalendarRead:
        plan = get_owned(session, RatePlan, who.tenant_id, rate_plan_id)
        _check_window(session.get_one(Property, plan.property_id), years, date_from, date_to)
        return calendar.read_calendar(session, who.tenant_id, rate_plan_id, dates)

    return await db.read(read)


@router.get("/properties/{property_id}/availability")
async def read_availability(
    property_id: uuid.UUID,
    date_from: DateFrom,
    date_to: DateTo,
    db: Db,
    who: Reader,
    years: WindowYears,
) -> AvailabilityRead:
    """Units, sold, blocked and available per room type and stay date (`overbooked_by` when sold +
    blocked exceed the units).
    """
    dates = _range(date_from, date_to)

    def read(session: Session) -> AvailabilityRead:
        prop = get_owned(session, Property, who.tenant_id, property_id)
        _check_window(prop, years, date_from, date_to)
        return availability.read_availability(session, who.tenant_id, property_id, dates)

    return await db.read(read)


@router.post("/room-types/{room_type_id}/blocks", status_code=status.HTTP_201_CREATED)
async def create_block(
    room_type_id: uuid.UUID, data: BlockCreate, db: Db, who: Writer
) -> BlockRead:
    """Take units of a room type out of sale (out of order, maintenance) from `date_from` to
    `date_to`, both included.
    """
    return await db.write(
        lambda s: availability.block_read(
            availability.create_block(s, who.tenant_id, room_type_id, data)
        )
    )


@router.get("/room-types/{room_type_id}/blocks")
async def list_blocks(room_type_id: uuid.UUID, db: Db, who: Reader) -> list[BlockRead]:
    """The room type's blocks, by start date."""
    return await db.read(
        lambda s: [
            availability.block_read(block)
            for block in availability.list_blocks(s, who.tenant_id, room_type_id)
        ]
    )


@router.delete("/blocks/{block_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_block(block_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Remove a block: its units are for sale again."""
    await db.write(lambda s: availability.delete_block(s, who.tenant_id, block_id))
