"""Direct reservations made by the PMS, and every reservation's history."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from innsync.api.deps import DbSession, Reader, Writer
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
def create_reservation(
    property_id: uuid.UUID, data: ReservationCreate, session: DbSession, who: Writer
) -> ReservationRead:
    reservation = service.create_direct(session, who.tenant_id, property_id, data, who.key_id)
    session.commit()
    return service.reservation_read(session, reservation)


@router.get("/properties/{property_id}/reservations")
def list_reservations(
    property_id: uuid.UUID,
    session: DbSession,
    who: Reader,
    staying_from: Annotated[date | None, Query(description="Only stays that overlap from here")] = None,
    staying_to: Annotated[date | None, Query(description="... up to here (exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReservationRead]:
    stay = DateRange(staying_from, staying_to) if staying_from and staying_to and staying_to > staying_from else None
    found = service.list_reservations(session, who.tenant_id, property_id, stay, limit)
    return [service.reservation_read(session, reservation) for reservation in found]


@router.get("/reservations/{reservation_id}")
def get_reservation(reservation_id: uuid.UUID, session: DbSession, who: Reader) -> ReservationRead:
    reservation = get_owned(session, Reservation, who.tenant_id, reservation_id)
    return service.reservation_read(session, reservation)


@router.patch("/reservations/{reservation_id}")
def modify_reservation(
    reservation_id: uuid.UUID, data: ReservationUpdate, session: DbSession, who: Writer
) -> ReservationRead:
    reservation = service.modify_direct(session, who.tenant_id, reservation_id, data, who.key_id)
    session.commit()
    return service.reservation_read(session, reservation)


@router.post("/reservations/{reservation_id}/cancel")
def cancel_reservation(reservation_id: uuid.UUID, session: DbSession, who: Writer) -> ReservationRead:
    reservation = service.cancel_direct(session, who.tenant_id, reservation_id, who.key_id)
    session.commit()
    return service.reservation_read(session, reservation)


@router.get("/reservations/{reservation_id}/changes")
def list_changes(reservation_id: uuid.UUID, session: DbSession, who: Reader) -> list[ChangeRead]:
    return [
        ChangeRead(
            revision=change.revision,
            action=change.action,
            changes=change.changes,
            origin=change.origin,
            actor_key_id=change.actor_key_id,
            created_at=change.created_at,
        )
        for change in service.list_changes(session, who.tenant_id, reservation_id)
    ]
