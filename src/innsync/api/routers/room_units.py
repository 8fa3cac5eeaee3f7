"""Room assignment: the unit each room sleeps in, and the stays still without one."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from innsync.api.date_window import WindowYears
from innsync.api.deps import Db, Reader, Writer
from innsync.errors import InvalidInputError
from innsync.properties.models import Property
from innsync.properties.service import check_date_window, get_owned
from innsync.reservations import assignment, service
from innsync.reservations.schemas import ReservationRead, UnassignedStayRead, UnitAssign
from innsync.stay_dates import DateRange

router = APIRouter(tags=["reservations"])


@router.put(
    "/reservations/{reservation_id}/unit",
    responses={
        409: {
            "description": "The unit is held by another stay on a night, or the reservation "
            "is not confirmed"
        }
    },
)
async def assign_unit(
    reservation_id: uuid.UUID, data: UnitAssign, db: Db, who: Writer
) -> ReservationRead:
    """Put one room of the reservation in a unit of its room type for the whole stay."""
    return await db.write(
        lambda s: service.reservation_read(
            s, assignment.set_unit(s, who.tenant_id, reservation_id, data.position, data.unit_id)
        )
    )


@router.get("/properties/{property_id}/unassigned-stays")
async def list_unassigned_stays(
    property_id: uuid.UUID,
    db: Db,
    who: Reader,
    date_from: Annotated[date, Query(description="Stays overlapping from this date")],
    date_to: Annotated[date, Query(description="... up to this date, excluded")],
    years: WindowYears,
) -> list[UnassignedStayRead]:
    """Rooms of confirmed stays with no unit on their nights (overbookings among them)."""
    if date_to <= date_from:
        raise InvalidInputError("date_to must be later than date_from")
    dates = DateRange(date_from, date_to)

    def read(session: Session) -> list[UnassignedStayRead]:
        prop = get_owned(session, Property, who.tenant_id, property_id)
        check_date_window(prop, years, {"/query/date_from": date_from, "/query/date_to": date_to})
        stays = assignment.unassigned_stays(session, who.tenant_id, property_id, dates)
        return [UnassignedStayRead(**vars(stay)) for stay in stays]

    return await db.read(read)
