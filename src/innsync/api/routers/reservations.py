"""Direct reservations made by the PMS, and every reservation's history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from innsync.api.deps import Db, Reader, Writer
from innsync.errors import InvalidInputError
from innsync.properties.service import get_owned
from innsync.reservations import service
from innsync.reservations.models import Reservation
from innsync.reservations.schemas import (
    ChangeRead,
    ReservationCreate,
    ReservationRead,
    ReservationUpdate,
)
from innsync.stay_dates import DateRange

router = APIRouter(tags=["reservations"])


@router.post(
    "/properties/{property_id}/reservations",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Not enough free units on some night; nothing was booked"}},
)
async def create_reservation(
    property_id: uuid.UUID, data: ReservationCreate, db: Db, who: Writer
) -> ReservationRead:
    """Book rooms directly: every night must have a free unit, or nothing is booked (409)."""
    return await db.write(
        lambda s: service.reservation_read(
            s, service.create_direct(s, who.tenant_id, property_id, data, who.key_id)
        )
    )


@router.get("/properties/{property_id}/reservations")
async def list_reservations(
    property_id: uuid.UUID,
    db: Db,
    who: Reader,
    staying_from: Annotated[
        date | None, Query(description="Stays overlapping from this date")
    ] = None,
    staying_to: Annotated[date | None, Query(description="... up to this date, excluded")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReservationRead]:
    """The property's reservations, by arrival (optionally those overlapping a stay window)."""
    stay = None
    if staying_from is not None or staying_to is not None:
        if staying_from is None or staying_to is None or staying_to <= staying_from:
            raise InvalidInputError("give both staying_from and staying_to, with staying_to later")
        stay = DateRange(staying_from, staying_to)
    return await db.read(
        lambda s: [
            service.reservation_read(s, reservation)
            for reservation in service.list_reservations(s, who.tenant_id, property_id, stay, limit)
        ]
    )


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
    reservation_id: uuid.UUID, data: ReservationUpdate, db: Db, who: Writer
) -> ReservationRead:
    """Change a reservation's dates, rooms, guest or notes; the ledger moves by the difference."""
    return await db.write(
        lambda s: service.reservation_read(
            s, service.modify_direct(s, who.tenant_id, reservation_id, data, who.key_id)
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
