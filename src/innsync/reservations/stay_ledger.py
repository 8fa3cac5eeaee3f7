"""The ledger side of a channel booking: lock the property's room types, give a reservation its
stay and rooms while moving the ledger by the difference, and report the nights it overbooks.

A channel booking is never refused: nights that take more units than are free are returned as
shortfalls, the reservation is flagged ``is_overbooked`` and ``report_overbooking`` writes the
``inventory.overbooking`` event.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.events import kinds
from innsync.events.service import emit
from innsync.inventory.availability import day_counts, lock_room_types, move_ledger
from innsync.properties.models import RoomType
from innsync.reservations.models import CONFIRMED, Reservation, ReservationRoom
from innsync.reservations.service import LedgerDeltas
from innsync.stay_dates import DateRange


def set_stay(
    session: Session,
    room_types: dict[uuid.UUID, RoomType],
    reservation: Reservation,
    *,
    status: str,
    stay: DateRange,
    rooms: list[ReservationRoom],
) -> dict[tuple[uuid.UUID, date], int]:
    """Give the reservation this status, stay and rooms, moving the ledger by the difference.

    Never refuses (a channel booking is never refused): returns the nights that took more units
    than were free, by how many, and flags the reservation overbooked when there are any.
    """
    old_nights: LedgerDeltas = Counter()
    if reservation.status == CONFIRMED:
        old_nights = _nights(
            [room.room_type_id for room in reservation.rooms],
            DateRange(reservation.arrival, reservation.departure),
        )
    new_nights = (
        _nights([room.room_type_id for room in rooms], stay) if status == CONFIRMED else Counter()
    )
    deltas: LedgerDeltas = Counter(new_nights)
    deltas.subtract(old_nights)
    shortfalls = _shortfalls(session, room_types, deltas)
    move_ledger(session, deltas)
    reservation.status = status
    reservation.arrival, reservation.departure = stay.start, stay.end
    reservation.rooms = rooms
    if shortfalls:
        reservation.is_overbooked = True
    return shortfalls


def lock_property_room_types(session: Session, property_id: uuid.UUID) -> dict[uuid.UUID, RoomType]:
    """Every room type of the property by id, locked in id order (as direct bookings lock)."""
    ids = session.scalars(select(RoomType.id).where(RoomType.property_id == property_id))
    return {room_type.id: room_type for room_type in lock_room_types(session, ids)}


def _nights(room_type_ids: list[uuid.UUID], stay: DateRange) -> LedgerDeltas:
    """Units held: one per room and night of the stay."""
    nights: LedgerDeltas = Counter()
    for room_type_id in room_type_ids:
        for night in stay:
            nights[(room_type_id, night)] += 1
    return nights


def _shortfalls(
    session: Session, room_types: dict[uuid.UUID, RoomType], deltas: LedgerDeltas
) -> dict[tuple[uuid.UUID, date], int]:
    """How many units beyond the free ones each night takes (before the ledger moves)."""
    wanted = {key: count for key, count in deltas.items() if count > 0}
    if not wanted:
        return {}
    days = [night for _, night in wanted]
    counts = day_counts(
        session,
        [room_types[room_type_id] for room_type_id in {key[0] for key in wanted}],
        DateRange.inclusive(min(days), max(days)),
    )
    short = {}
    for (room_type_id, night), count in sorted(wanted.items(), key=lambda item: item[0][1]):
        free = max(counts[room_type_id][night].free, 0)
        if count > free:
            short[(room_type_id, night)] = count - free
    return short


def report_overbooking(
    session: Session,
    connection: Connection,
    reservation: Reservation,
    shortfalls: dict[tuple[uuid.UUID, date], int],
) -> None:
    """Write the ``inventory.overbooking`` event: each night taken beyond the free units."""
    emit(
        session,
        reservation.tenant_id,
        kinds.OVERBOOKING,
        {
            "reservation_id": str(reservation.id),
            "connection_id": str(connection.id),
            "channel_booking_id": reservation.channel_booking_id,
            "nights": [
                {
                    "room_type_id": str(room_type_id),
                    "stay_date": night.isoformat(),
                    "short_by": short,
                }
                for (room_type_id, night), short in shortfalls.items()
            ],
        },
        property_id=reservation.property_id,
        subject_id=str(reservation.id),
    )
