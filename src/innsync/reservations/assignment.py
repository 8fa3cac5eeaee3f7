"""Room assignment: which physical unit each room of a confirmed stay sleeps in.

Every assigned night is a ``unit_nights`` row keyed by unit and night, so the database itself
refuses a second stay in a unit on a night. Callers already hold the locks of the room types
involved (``inventory.availability.lock_room_types``), so the free units read here stay free
until the transaction ends; the key is the backstop, not the scheduler.

``assign_units`` runs after every change of a reservation, direct or from a channel, in its
transaction: a room keeps the unit it had while that unit is free on the new nights, otherwise
it takes one by the property's policy (``fill``: the lowest-numbered free unit; ``spread``: the
free unit used least around the stay) or stays unassigned when none is free (an overbooking).
With the policy ``off`` (a PMS assigns rooms itself) nothing is picked automatically; units set
by hand are still kept while free.

A unit freed on some nights (a cancellation, a no-show, a modification, a manual move) and a
new unit go to the stays still waiting for one (``place_waiting``): earliest arrival first, a
whole stay in one unit, by the same policy.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from innsync.errors import ConflictError, InvalidInputError, NotFoundError
from innsync.inventory.availability import lock_room_types
from innsync.outbox.marks import mark_unit_change
from innsync.properties.models import Property, Unit
from innsync.properties.service import get_owned
from innsync.reservations.models import CONFIRMED, Reservation, ReservationRoom, UnitNight
from innsync.stay_dates import DateRange

Policy = Literal["fill", "spread", "off"]
POLICIES: tuple[Policy, ...] = ("fill", "spread", "off")
# "spread" weighs how much each unit was used this many days either side of the stay.
SPREAD_WINDOW = timedelta(days=28)


@dataclass(frozen=True)
class UnassignedStay:
    """A room of a confirmed stay that has no unit on its nights."""

    reservation_id: uuid.UUID
    position: int
    room_type_id: uuid.UUID
    arrival: date
    departure: date
    is_overbooked: bool


def assign_units(session: Session, reservation: Reservation) -> None:
    """Give each room of the reservation a unit for its nights, keeping the ones it had where
    still free; a reservation that is not confirmed holds none. The caller holds the locks of
    the reservation's room types and has flushed the reservation."""
    before = _held_nights(session, reservation.id)
    held = {unit_id for unit_id, _night in before}
    session.execute(delete(UnitNight).where(UnitNight.reservation_id == reservation.id))
    if reservation.status != CONFIRMED:
        for room in reservation.rooms:
            room.unit_id = None
        _place_in_freed(session, reservation, before)
        return
    policy = session.get_one(Property, reservation.property_id).room_assignment
    stay = DateRange(reservation.arrival, reservation.departure)
    units = _units_by_room_type(session, {room.room_type_id for room in reservation.rooms})
    taken = _taken(session, [unit.id for group in units.values() for unit in group], stay)
    for room in reservation.rooms:
        free = [unit for unit in units.get(room.room_type_id, []) if unit.id not in taken]
        kept = next((unit for unit in free if unit.id in held), None)
        chosen = kept or _pick(session, policy, free, stay)
        room.unit_id = chosen.id if chosen else None
        if chosen is not None:
            taken.add(chosen.id)
            held.discard(chosen.id)
            _hold(session, reservation.id, chosen.id, stay)
    session.flush()
    _place_in_freed(session, reservation, before)


def place_waiting(
    session: Session,
    room_type_ids: Iterable[uuid.UUID],
    dates: DateRange,
    skip: uuid.UUID | None = None,
) -> int:
    """Give a unit to the rooms of confirmed stays overlapping ``dates`` that wait for one, in
    these room types; returns how many were placed. The caller holds the room types' locks.

    Earliest arrival first; each room needs one unit free for its whole stay, chosen by its
    property's policy (none under ``off``). ``skip`` leaves out a reservation just handled.
    """
    ids = sorted(set(room_type_ids))
    if not ids:
        return 0
    query = (
        select(ReservationRoom, Reservation)
        .join(Reservation, ReservationRoom.reservation_id == Reservation.id)
        .where(
            Reservation.status == CONFIRMED,
            Reservation.arrival < dates.end,
            Reservation.departure > dates.start,
            ReservationRoom.room_type_id.in_(ids),
            ReservationRoom.unit_id.is_(None),
        )
        .order_by(Reservation.arrival, Reservation.id, ReservationRoom.position)
    )
    waiting = [(room, stay) for room, stay in session.execute(query) if stay.id != skip]
    if not waiting:
        return 0
    units = _units_by_room_type(session, ids)
    policies: dict[uuid.UUID, str] = {}
    placed: set[uuid.UUID] = set()
    for room, reservation in waiting:
        if reservation.property_id not in policies:
            prop = session.get_one(Property, reservation.property_id)
            policies[reservation.property_id] = prop.room_assignment
        stay = DateRange(reservation.arrival, reservation.departure)
        group = units.get(room.room_type_id, [])
        taken = _taken(session, [unit.id for unit in group], stay)
        free = [unit for unit in group if unit.id not in taken]
        chosen = _pick(session, policies[reservation.property_id], free, stay)
        if chosen is None:
            continue
        room.unit_id = chosen.id
        _hold(session, reservation.id, chosen.id, stay)
        placed.add(room.id)
    for property_id in {r.property_id for room, r in waiting if room.id in placed}:
        mark_unit_change(session, property_id)
    session.flush()
    return len(placed)


def place_in_new_unit(session: Session, unit: Unit, today: date) -> int:
    """A unit just added takes stays of its room type waiting for one, from ``today`` on."""
    lock_room_types(session, [unit.room_type_id])
    return place_waiting(session, [unit.room_type_id], DateRange(today, date.max))


def _place_in_freed(
    session: Session, reservation: Reservation, before: set[tuple[uuid.UUID, date]]
) -> None:
    """Offer the unit nights this reservation gave up to the stays waiting for a unit."""
    freed = before - _held_nights(session, reservation.id)
    if not freed:
        return
    nights = [night for _unit_id, night in freed]
    unit_ids = {unit_id for unit_id, _night in freed}
    room_types = session.scalars(select(Unit.room_type_id).where(Unit.id.in_(unit_ids)))
    window = DateRange(min(nights), max(nights) + timedelta(days=1))
    place_waiting(session, set(room_types), window, skip=reservation.id)


def set_unit(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    position: int,
    unit_id: uuid.UUID | None,
) -> Reservation:
    """Put one room of a confirmed stay in this unit (``None`` unassigns it); 409 when the
    unit is held by another stay on one of its nights."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    if reservation.status != CONFIRMED:
        raise ConflictError(f"a {reservation.status} reservation holds no units")
    room = next((room for room in reservation.rooms if room.position == position), None)
    if room is None:
        raise NotFoundError(f"the reservation has no room at position {position}")
    unit = get_owned(session, Unit, tenant_id, unit_id) if unit_id is not None else None
    if unit is not None and unit.room_type_id != room.room_type_id:
        raise InvalidInputError("the unit belongs to another room type than the room's")
    lock_room_types(session, [room.room_type_id])
    if unit is not None and unit.id == room.unit_id:
        return reservation
    stay = DateRange(reservation.arrival, reservation.departure)
    if unit is not None:
        clash = session.scalar(
            select(func.min(UnitNight.night)).where(
                UnitNight.unit_id == unit.id,
                UnitNight.night >= stay.start,
                UnitNight.night < stay.end,
            )
        )
        if clash is not None:
            raise ConflictError(f"unit {unit.name} is held by another stay on {clash}")
    freed = room.unit_id
    if freed is not None:
        session.execute(
            delete(UnitNight).where(
                UnitNight.reservation_id == reservation.id, UnitNight.unit_id == freed
            )
        )
    room.unit_id = unit.id if unit is not None else None
    if unit is not None:
        _hold(session, reservation.id, unit.id, stay)
    mark_unit_change(session, reservation.property_id)
    session.flush()
    if freed is not None:
        # The unit left is offered to stays waiting; not to this one, moved on purpose.
        place_waiting(session, [room.room_type_id], stay, skip=reservation.id)
    return reservation


def unassigned_stays(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID, dates: DateRange
) -> list[UnassignedStay]:
    """Rooms of confirmed stays overlapping ``dates`` without a unit, by arrival."""
    get_owned(session, Property, tenant_id, property_id)
    query = (
        select(ReservationRoom, Reservation)
        .join(Reservation, ReservationRoom.reservation_id == Reservation.id)
        .where(
            Reservation.tenant_id == tenant_id,
            Reservation.property_id == property_id,
            Reservation.status == CONFIRMED,
            Reservation.arrival < dates.end,
            Reservation.departure > dates.start,
            ReservationRoom.unit_id.is_(None),
        )
        .order_by(Reservation.arrival, Reservation.id, ReservationRoom.position)
    )
    return [
        UnassignedStay(
            reservation_id=reservation.id,
            position=room.position,
            room_type_id=room.room_type_id,
            arrival=reservation.arrival,
            departure=reservation.departure,
            is_overbooked=reservation.is_overbooked,
        )
        for room, reservation in session.execute(query)
    ]


def _held_nights(session: Session, reservation_id: uuid.UUID) -> set[tuple[uuid.UUID, date]]:
    query = select(UnitNight.unit_id, UnitNight.night).where(
        UnitNight.reservation_id == reservation_id
    )
    return {(unit_id, night) for unit_id, night in session.execute(query)}


def _units_by_room_type(
    session: Session, room_type_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Unit]]:
    """The units of each room type, lowest number first ("9" before "10")."""
    grouped: dict[uuid.UUID, list[Unit]] = {}
    for unit in session.scalars(select(Unit).where(Unit.room_type_id.in_(list(room_type_ids)))):
        grouped.setdefault(unit.room_type_id, []).append(unit)
    for group in grouped.values():
        group.sort(key=lambda unit: _natural(unit.name))
    return grouped


def _natural(name: str) -> tuple[tuple[int, str], ...]:
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part.lower())
        for part in re.findall(r"\d+|\D+", name)
    )


def _taken(session: Session, unit_ids: list[uuid.UUID], stay: DateRange) -> set[uuid.UUID]:
    """Units held by some stay on at least one of these nights."""
    if not unit_ids:
        return set()
    query = select(UnitNight.unit_id).where(
        UnitNight.unit_id.in_(unit_ids), UnitNight.night >= stay.start, UnitNight.night < stay.end
    )
    return set(session.scalars(query.distinct()))


def _pick(session: Session, policy: str, free: list[Unit], stay: DateRange) -> Unit | None:
    if policy == "off" or not free:
        return None
    if policy == "fill":
        return free[0]
    counted = session.execute(
        select(UnitNight.unit_id, func.count())
        .where(
            UnitNight.unit_id.in_([unit.id for unit in free]),
            UnitNight.night >= stay.start - SPREAD_WINDOW,
            UnitNight.night < stay.end + SPREAD_WINDOW,
        )
        .group_by(UnitNight.unit_id)
    )
    used: Counter[uuid.UUID] = Counter({unit_id: count for unit_id, count in counted})
    return min(free, key=lambda unit: used[unit.id])  # min keeps the lowest on a tie


def _hold(session: Session, reservation_id: uuid.UUID, unit_id: uuid.UUID, stay: DateRange) -> None:
    rows = [
        {"unit_id": unit_id, "night": night, "reservation_id": reservation_id} for night in stay
    ]
    session.execute(insert(UnitNight), rows)
