"""Direct reservations made by the PMS, and every reservation's history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from innsync.api.date_window import WindowYears
from innsync.api.deps import Db, Reader, Writer
from innsync.errors import FieldProblem, InvalidInputError
from innsync.properties.models import Property
from innsync.properties.service import check_date_window, get_owned
from innsync.reservations import listing, service
from innsync.reservations.listing import MAX_PAGE, ReservationFilter
from innsync.reservations.models import Reservation
from innsync.reservations.schemas import (
    ChangeRead,
    ReservationCreate,
    ReservationPage,
    ReservationRead,
    ReservationStatus,
    ReservationUpdate,
)
from innsync.stay_dates import DateRange

router = APIRouter(tags=["reservations"])
EARLIEST_CHANGE, LATEST_CHANGE = date(1900, 1, 1), date(9000, 1, 1)


@router.post(
    "/properties/{property_id}/reservations",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {
            "description": "Not enough free units on some night; for a property whose ARI comes "
            "from a connection, the stay is not bookable by that connection's reported "
            "availability and restrictions (`detail` says which); nothing was booked"
        }
    },
)
async def create_reservation(
    property_id: uuid.UUID, data: ReservationCreate, db: Db, who: Writer, years: WindowYears
) -> ReservationRead:
    """Book rooms directly: every night must have a free unit, or nothing is booked (409).

    Dates more than ``INNSYNC_DATE_WINDOW_YEARS`` from the property's today are refused (422).
    """
    return await db.write(
        lambda s: service.reservation_read(
            s, service.create_direct(s, who.tenant_id, property_id, data, who.key_id, years)
        )
    )


@router.get("/properties/{property_id}/reservations")
async def list_reservations(
    property_id: uuid.UUID,
    db: Db,
    who: Reader,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the page before; the start when left out")
    ] = None,
    status: Annotated[
        list[ReservationStatus] | None, Query(description="Any of these statuses (repeatable)")
    ] = None,
    channel: Annotated[
        str | None,
        Query(max_length=32, description='"direct" or a channel kind, e.g. "channex"'),
    ] = None,
    connection_id: Annotated[uuid.UUID | None, Query()] = None,
    ota_reservation_code: Annotated[
        str | None, Query(max_length=128, description="The OTA's code of the booking")
    ] = None,
    arrival_from: Annotated[date | None, Query(description="Arrivals on or after")] = None,
    arrival_before: Annotated[date | None, Query(description="Arrivals before")] = None,
    departure_from: Annotated[date | None, Query(description="Departures on or after")] = None,
    departure_before: Annotated[date | None, Query(description="Departures before")] = None,
    staying_from: Annotated[
        date | None, Query(description="Stays overlapping from this date")
    ] = None,
    staying_to: Annotated[date | None, Query(description="... up to this date, excluded")] = None,
    changed_since: Annotated[
        AwareDatetime | None, Query(description="Changed at or after this time")
    ] = None,
    guest_email: Annotated[
        str | None, Query(max_length=320, description="The guest's e-mail, exact (any case)")
    ] = None,
    guest_name: Annotated[
        str | None,
        Query(max_length=400, description='The guest\'s full name "first last", exact (any case)'),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    *,
    years: WindowYears,
) -> ReservationPage:
    """The property's reservations, newest change last, a page at a time (see ``next_cursor``)."""
    stay = None
    if staying_from is not None or staying_to is not None:
        if staying_from is None or staying_to is None or staying_to <= staying_from:
            raise InvalidInputError("give both staying_from and staying_to, with staying_to later")
        stay = DateRange(staying_from, staying_to)
    where = ReservationFilter(
        statuses=status,
        channel=channel,
        connection_id=connection_id,
        ota_reservation_code=ota_reservation_code,
        arrival_from=arrival_from,
        arrival_before=arrival_before,
        departure_from=departure_from,
        departure_before=departure_before,
        staying=stay,
        changed_since=changed_since,
        guest_email=guest_email,
        guest_name=guest_name,
    )

    dates = {
        "/query/arrival_from": arrival_from,
        "/query/arrival_before": arrival_before,
        "/query/departure_from": departure_from,
        "/query/departure_before": departure_before,
        "/query/staying_from": staying_from,
        "/query/staying_to": staying_to,
    }
    # "Changed since long ago" means everything, so no window; but the conversion to UTC
    # overflows at years 1 and 9999, and MariaDB stores nothing before 1000.
    if changed_since is not None and not EARLIEST_CHANGE <= changed_since.date() < LATEST_CHANGE:
        raise InvalidInputError(
            f"changed_since must lie within {EARLIEST_CHANGE} .. {LATEST_CHANGE}",
            [FieldProblem("/query/changed_since", "out of range")],
        )

    def page(session: Session) -> ReservationPage:
        prop = get_owned(session, Property, who.tenant_id, property_id)
        check_date_window(prop, years, dates)
        found = listing.list_reservations(session, who.tenant_id, property_id, where, cursor, limit)
        return ReservationPage(
            items=[service.reservation_read(session, r) for r in found.reservations],
            next_cursor=found.next_cursor,
            has_more=found.has_more,
        )

    return await db.read(page)


@router.get("/reservations/{reservation_id}")
async def get_reservation(reservation_id: uuid.UUID, db: Db, who: Reader) -> ReservationRead:
    """One reservation with its rooms, nightly prices and guest."""
    return await db.read(
        lambda s: service.reservation_read(
            s, get_owned(s, Reservation, who.tenant_id, reservation_id)
        )
    )


@router.patch("/reservations/{reservation_id}")
async def modify_reservation(
    reservation_id: uuid.UUID, data: ReservationUpdate, db: Db, who: Writer, years: WindowYears
) -> ReservationRead:
    """Change a reservation's dates, rooms, guest or notes; the ledger moves by the difference."""
    return await db.write(
        lambda s: service.reservation_read(
            s, service.modify_direct(s, who.tenant_id, reservation_id, data, who.key_id, years)
        )
    )


@router.post("/reservations/{reservation_id}/cancel")
async def cancel_reservation(reservation_id: uuid.UUID, db: Db, who: Writer) -> ReservationRead:
    """Cancel a reservation: its units are for sale again."""
    return await db.write(
        lambda s: service.reservation_read(
            s, service.cancel_direct(s, who.tenant_id, reservation_id, who.key_id)
        )
    )


@router.post(
    "/reservations/{reservation_id}/no-show",
    responses={409: {"description": "Not confirmed, or the arrival day has not come"}},
)
async def mark_no_show(reservation_id: uuid.UUID, db: Db, who: Writer) -> ReservationRead:
    """Mark a confirmed reservation a no-show once its arrival day has come; frees its nights."""
    return await db.write(
        lambda s: service.reservation_read(
            s, service.mark_no_show(s, who.tenant_id, reservation_id, who.key_id)
        )
    )


@router.get("/reservations/{reservation_id}/changes")
async def list_changes(reservation_id: uuid.UUID, db: Db, who: Reader) -> list[ChangeRead]:
    """The reservation's revision history, oldest first: who changed what, and when."""
    return await db.read(
        lambda s: [
            ChangeRead(
                revision=change.revision,
                action=change.action,
                changes=change.changes,
                origin=change.origin,
                actor_key_id=change.actor_key_id,
                created_at=change.created_at,
            )
            for change in service.list_changes(s, who.tenant_id, reservation_id)
        ]
    )
