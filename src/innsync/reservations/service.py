"""Direct reservations: create, modify and cancel with the ledger moved in the same transaction.

The PMS may modify and cancel channel bookings too. Such a change is remembered on the
reservation (``pms_base``, ``pms_changed_at``) so that the next channel revision is checked
against it for a conflict (``reservations/channel.py``) instead of silently undoing it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.db.base import utcnow
from innsync.errors import ConflictError, FieldProblem, InvalidInputError
from innsync.events import kinds
from innsync.events.service import emit
from innsync.inventory.availability import day_counts, lock_room_types, move_ledger
from innsync.inventory.calendar import effective_calendar
from innsync.marketplace import bookable, lifecycle
from innsync.money import MAX_AMOUNT, is_exact, precision_problem, round_money
from innsync.outbox.bookings import queue_booking_push
from innsync.outbox.models import BookingPush
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import check_date_window, get_owned, property_today
from innsync.reservations.assignment import assign_units
from innsync.reservations.guests import match_or_create_guest
from innsync.reservations.models import (
    CANCELLED,
    CONFIRMED,
    NO_SHOW,
    Guest,
    Reservation,
    ReservationChange,
    ReservationRoom,
)
from innsync.reservations.schemas import (
    ChannelPushRead,
    ChargeRead,
    GuaranteeRead,
    GuestRead,
    ReservationCreate,
    ReservationRead,
    ReservationUpdate,
    RoomIn,
    RoomRead,
    check_stay,
)
from innsync.stay_dates import DATE_WINDOW_YEARS, DateRange

DIRECT = "direct"
# Changes of a direct booking that channels taking bookings are told of. A no-show is not: the
# guest's nights stay booked on the channel, which has no neutral "no-show" to send.
PUSHED_ACTIONS = ("created", "modified", "cancelled")
LedgerDeltas = Counter[tuple[uuid.UUID, date]]


def create_direct(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    data: ReservationCreate,
    actor_key_id: uuid.UUID | None = None,
    window_years: int = DATE_WINDOW_YEARS,
) -> Reservation:
    """Book rooms if every night has a free unit; otherwise nothing changes and 409 says why.

    Dates more than ``window_years`` from the property's today are refused (422).
    """
    prop = get_owned(session, Property, tenant_id, property_id)
    check_date_window(prop, window_years, {"/arrival": data.arrival, "/departure": data.departure})
    stay = DateRange(data.arrival, data.departure)
    room_types = _room_types_for(session, tenant_id, prop, data.rooms)
    deltas = _nights_of(data.rooms, stay)
    _check_marketplace(session, prop, data.rooms, stay, deltas)
    _take_units(session, room_types, deltas)
    reservation = Reservation(
        tenant_id=tenant_id,
        property_id=prop.id,
        source=DIRECT,
        channel=DIRECT,
        status="confirmed",
        booked_at=utcnow(),
        arrival=stay.start,
        departure=stay.end,
        arrival_time=data.arrival_time,
        currency=prop.currency,
        notes=data.notes,
        special_requests=data.special_requests,
        revision=1,
        is_overbooked=False,
    )
    reservation.rooms = _priced_rooms(session, tenant_id, prop, data.rooms, stay)
    reservation.total_amount = _total(reservation.rooms)
    guest = match_or_create_guest(session, tenant_id, data.guest)
    reservation.guest_id = guest.id if guest else None
    session.add(reservation)
    session.flush()
    assign_units(session, reservation)
    _record(session, reservation, "created", {}, actor_key_id, kinds.RESERVATION_CREATED)
    return reservation


def modify_direct(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    data: ReservationUpdate,
    actor_key_id: uuid.UUID | None = None,
    window_years: int = DATE_WINDOW_YEARS,
) -> Reservation:
    """Change dates, rooms or guest; the ledger moves by the difference only."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    if reservation.status != CONFIRMED:
        raise ConflictError(f"a {reservation.status} reservation cannot be modified")
    prop = session.get_one(Property, reservation.property_id)
    check_date_window(prop, window_years, {"/arrival": data.arrival, "/departure": data.departure})
    before = snapshot(session, reservation)
    arrival = data.arrival or reservation.arrival
    departure = data.departure or reservation.departure
    try:
        check_stay(arrival, departure)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    stay = DateRange(arrival, departure)
    # Kept rooms are priced again from their rate plan for the new dates; a room priced by hand
    # (no rate plan) keeps its amount.
    new_rooms = (
        data.rooms
        if data.rooms is not None
        else [_room_in(room, reprice=True) for room in reservation.rooms]
    )
    old_rooms = [_room_in(room) for room in reservation.rooms]
    old_nights = _nights_of(old_rooms, reservation_range(reservation))
    room_types = _room_types_for(session, tenant_id, prop, new_rooms, also_lock=old_rooms)
    deltas: LedgerDeltas = _nights_of(new_rooms, stay)
    deltas.subtract(old_nights)
    if data.rooms is not None or stay != reservation_range_from(before):
        _check_marketplace(session, prop, new_rooms, stay, deltas)
    _take_units(session, room_types, deltas)
    reservation.arrival, reservation.departure = stay.start, stay.end
    if data.rooms is not None or stay != reservation_range_from(before):
        reservation.rooms = _priced_rooms(session, tenant_id, prop, new_rooms, stay)
        reservation.total_amount = _total(reservation.rooms)
    if data.guest is not None:
        guest = match_or_create_guest(session, tenant_id, data.guest)
        reservation.guest_id = guest.id if guest else reservation.guest_id
    if data.notes is not None:
        reservation.notes = data.notes
    if data.special_requests is not None:
        reservation.special_requests = data.special_requests
    if "arrival_time" in data.model_fields_set:
        reservation.arrival_time = data.arrival_time
    session.flush()
    assign_units(session, reservation)
    changes = diff(before, snapshot(session, reservation))
    if changes:
        reservation.revision += 1
        _note_pms_change(reservation, before)
        _record(session, reservation, "modified", changes, actor_key_id, kinds.RESERVATION_MODIFIED)
    return reservation


def cancel_direct(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    actor_key_id: uuid.UUID | None = None,
) -> Reservation:
    """Cancel and give the units back; cancelling twice changes nothing the second time."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    if reservation.status == CANCELLED:
        return reservation
    _release(session, reservation, CANCELLED, actor_key_id, kinds.RESERVATION_CANCELLED)
    return reservation


def mark_no_show(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    actor_key_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Reservation:
    """The guest did not come: the reservation holds no units from now on (the rest of the stay
    can be sold again). Only a confirmed stay whose arrival day has come can be a no-show;
    marking it twice changes nothing the second time."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    if reservation.status == NO_SHOW:
        return reservation
    if reservation.status != CONFIRMED:
        raise ConflictError(f"a {reservation.status} reservation cannot be a no-show")
    prop = session.get_one(Property, reservation.property_id)
    today = property_today(prop, now or utcnow())
    if reservation.arrival > today:
        raise ConflictError(f"the guest is not due before {reservation.arrival}")
    _release(session, reservation, NO_SHOW, actor_key_id, kinds.RESERVATION_MODIFIED)
    return reservation


def _release(
    session: Session,
    reservation: Reservation,
    status: str,
    actor_key_id: uuid.UUID | None,
    event_kind: str,
) -> None:
    """Set the new status; a confirmed reservation gives its units back (a no-show has)."""
    _note_pms_change(reservation, snapshot(session, reservation))
    if reservation.status == CONFIRMED:
        nights = _nights_of(
            [_room_in(room) for room in reservation.rooms], reservation_range(reservation)
        )
        lock_room_types(session, {room_type_id for room_type_id, _ in nights})
        move_ledger(session, {key: -count for key, count in nights.items()})
        if bookable.is_channel_sourced(session, reservation.property_id):
            bookable.hold_nights(session, {key: -count for key, count in nights.items()})
    before = reservation.status
    reservation.status = status
    assign_units(session, reservation)
    reservation.revision += 1
    action = "cancelled" if status == CANCELLED else status
    _record(session, reservation, action, {"status": [before, status]}, actor_key_id, event_kind)


def list_changes(
    session: Session, tenant_id: uuid.UUID, reservation_id: uuid.UUID
) -> list[ReservationChange]:
    get_owned(session, Reservation, tenant_id, reservation_id)
    query = (
        select(ReservationChange)
        .where(ReservationChange.reservation_id == reservation_id)
        .order_by(ReservationChange.id)
    )
    return list(session.scalars(query))


def _note_pms_change(reservation: Reservation, before: dict[str, Any]) -> None:
    """Remember that the PMS changed a channel booking, and what the channel's version was."""
    if reservation.source == DIRECT:
        return
    if reservation.pms_base is None:
        reservation.pms_base = before
    reservation.pms_changed_at = utcnow()


def reservation_range(reservation: Reservation) -> DateRange:
    return DateRange(reservation.arrival, reservation.departure)


def reservation_range_from(snap: dict[str, Any]) -> DateRange:
    return DateRange(date.fromisoformat(snap["arrival"]), date.fromisoformat(snap["departure"]))


def _room_in(room: ReservationRoom, reprice: bool = False) -> RoomIn:
    return RoomIn(
        room_type_id=room.room_type_id,
        rate_plan_id=room.rate_plan_id,
        adults=room.adults,
        children=room.children,
        child_ages=room.child_ages,
        amount=None if reprice and room.rate_plan_id is not None else room.amount,
    )


def _room_types_for(
    session: Session,
    tenant_id: uuid.UUID,
    prop: Property,
    rooms: list[RoomIn],
    also_lock: list[RoomIn] | None = None,
) -> dict[uuid.UUID, RoomType]:
    """Lock and return the room types asked for, after checking they belong to the property.

    All locks are taken in one statement (``also_lock`` adds the rooms a modification gives
    back), so their order is always the same and two transactions cannot deadlock.
    """
    for index, room in enumerate(rooms):
        room_type = session.scalar(
            select(RoomType).where(
                RoomType.id == room.room_type_id, RoomType.tenant_id == tenant_id
            )
        )
        if room_type is None or room_type.property_id != prop.id:
            raise _room_error(index, "room_type_id", "no such room type in this property")
        if (
            room.adults > room_type.max_adults
            or room.adults + room.children > room_type.max_occupancy
        ):
            raise _room_error(
                index,
                "adults",
                f"{room_type.code} sleeps at most {room_type.max_adults} adults "
                f"and {room_type.max_occupancy} guests",
            )
    locked = lock_room_types(session, {room.room_type_id for room in rooms + (also_lock or [])})
    return {room_type.id: room_type for room_type in locked}


def _room_error(index: int, field: str, detail: str) -> InvalidInputError:
    """An error about one room of the request, pointing at it like validation errors do."""
    return InvalidInputError(
        f"rooms/{index}: {detail}", [FieldProblem(f"/rooms/{index}/{field}", detail)]
    )


def _nights_of(rooms: list[RoomIn], stay: DateRange) -> LedgerDeltas:
    nights: LedgerDeltas = Counter()
    for room in rooms:
        for day in stay:
            nights[(room.room_type_id, day)] += 1
    return nights


def _check_marketplace(
    session: Session, prop: Property, rooms: list[RoomIn], stay: DateRange, deltas: LedgerDeltas
) -> None:
    """A property whose ARI comes from a connection sells only what that connection reported
    (409 with the reason otherwise); the nights taken leave its reported figures at once."""
    if not bookable.is_channel_sourced(session, prop.id):
        return
    bookable.check_bookable(
        session,
        prop.id,
        [(room.room_type_id, room.rate_plan_id) for room in rooms],
        stay,
        deltas,
        property_today(prop, utcnow()),
    )
    bookable.hold_nights(session, deltas)


def _take_units(
    session: Session, room_types: dict[uuid.UUID, RoomType], deltas: LedgerDeltas
) -> None:
    """Refuse with 409 when any night lacks units; otherwise move the ledger."""
    wanted = {key: count for key, count in deltas.items() if count > 0}
    if wanted:
        days = [day for _, day in wanted]
        counts = day_counts(session, room_types.values(), DateRange.inclusive(min(days), max(days)))
        for (room_type_id, day), count in sorted(wanted.items(), key=lambda item: item[0][1]):
            free = counts[room_type_id][day].free
            if count > free:
                code = room_types[room_type_id].code
                raise ConflictError(
                    f"room type {code} has {max(free, 0)} unit(s) left on {day}; {count} requested"
                )
    move_ledger(session, deltas)


def _priced_rooms(
    session: Session, tenant_id: uuid.UUID, prop: Property, rooms: list[RoomIn], stay: DateRange
) -> list[ReservationRoom]:
    priced = []
    for index, room in enumerate(rooms):
        nightly: dict[str, str] = {}
        if room.rate_plan_id is not None:
            plan = get_owned(session, RatePlan, tenant_id, room.rate_plan_id)
            if plan.room_type_id != room.room_type_id:
                raise _room_error(index, "rate_plan_id", "the rate plan sells another room type")
            nightly = _nightly_prices(session, plan, stay, room.adults + room.children, index)
        if room.amount is not None:
            if not is_exact(room.amount, prop.currency):
                raise _room_error(index, "amount", precision_problem(prop.currency))
            amount = round_money(room.amount, prop.currency)
        elif nightly:
            amount = sum((Decimal(value) for value in nightly.values()), Decimal("0.00"))
        else:
            raise _room_error(
                index, "amount", "give a rate_plan_id to price the stay, or an amount"
            )
        if amount > MAX_AMOUNT:
            raise _room_error(index, "amount", f"the amount {amount} exceeds {MAX_AMOUNT}")
        priced.append(
            ReservationRoom(
                position=index,
                room_type_id=room.room_type_id,
                rate_plan_id=room.rate_plan_id,
                adults=room.adults,
                children=room.children,
                child_ages=list(room.child_ages),
                nightly_prices=nightly,
                amount=amount,
                charges=[],
            )
        )
    return priced


def _total(rooms: list[ReservationRoom]) -> Decimal:
    total = sum((room.amount for room in rooms), Decimal("0.00"))
    if total > MAX_AMOUNT:
        raise InvalidInputError(f"the reservation's total {total} exceeds {MAX_AMOUNT}")
    return total


def _nightly_prices(
    session: Session, plan: RatePlan, stay: DateRange, guests: int, index: int
) -> dict[str, str]:
    prices: dict[str, str] = {}
    for day, values in effective_calendar(session, plan, stay).items():
        price = values.price
        if plan.pricing == "per_person" and values.occupancy_prices:
            # The smallest priced occupancy that fits everyone; the largest if none does.
            fitting = [
                amount for occupancy, amount in values.occupancy_prices if occupancy >= guests
            ]
            price = fitting[0] if fitting else values.occupancy_prices[-1][1]
        if price is None:
            raise _room_error(index, "rate_plan_id", f"rate plan {plan.code} has no price on {day}")
        prices[day.isoformat()] = str(price)
    return prices


def snapshot(session: Session, reservation: Reservation) -> dict[str, Any]:
    """A JSON-ready picture of the reservation, for the audit trail and diffs."""
    return {
        "status": reservation.status,
        "arrival": reservation.arrival.isoformat(),
        "departure": reservation.departure.isoformat(),
        "total_amount": str(reservation.total_amount),
        "guest_id": str(reservation.guest_id) if reservation.guest_id else None,
        "notes": reservation.notes,
        "rooms": [
            {
                "room_type_id": str(room.room_type_id),
                "rate_plan_id": str(room.rate_plan_id) if room.rate_plan_id else None,
                "adults": room.adults,
                "children": room.children,
                "child_ages": list(room.child_ages or ()),
                "amount": str(room.amount),
            }
            for room in reservation.rooms
        ],
        "ota_name": reservation.ota_name,
        "ota_reservation_code": reservation.ota_reservation_code,
        "arrival_time": reservation.arrival_time,
        "special_requests": reservation.special_requests,
        "total_before_tax": _text_or_none(reservation.total_before_tax),
        "commission": _text_or_none(reservation.commission),
        "payment_collect": reservation.payment_collect,
        "payment_type": reservation.payment_type,
    }


def _text_or_none(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for every top-level field that changed."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }


def _record(
    session: Session,
    reservation: Reservation,
    action: str,
    changes: dict[str, Any],
    actor_key_id: uuid.UUID | None,
    event_kind: str,
    origin: str = "api",
) -> None:
    """Audit row, PMS event and the booking's pushes to channels, all in the reservation's
    transaction."""
    snap = snapshot(session, reservation)
    session.add(
        ReservationChange(
            tenant_id=reservation.tenant_id,
            reservation_id=reservation.id,
            revision=reservation.revision,
            action=action,
            changes=changes,
            snapshot=snap,
            origin=origin,
            actor_key_id=actor_key_id,
        )
    )
    emit(
        session,
        reservation.tenant_id,
        event_kind,
        {"reservation_id": str(reservation.id), "revision": reservation.revision, **snap},
        property_id=reservation.property_id,
        subject_id=str(reservation.id),
    )
    if reservation.source == DIRECT and action in PUSHED_ACTIONS:
        queue_booking_push(
            session,
            reservation.tenant_id,
            reservation.property_id,
            reservation.id,
            reservation.revision,
            {room.room_type_id for room in reservation.rooms},
            utcnow(),
            is_cancellation=action == "cancelled",
        )
        lifecycle.note_queued(session, reservation.id)
    session.flush()


def reservation_read(session: Session, reservation: Reservation) -> ReservationRead:
    guest = session.get(Guest, reservation.guest_id) if reservation.guest_id else None
    guarantee = reservation.guarantee
    return ReservationRead(
        id=reservation.id,
        property_id=reservation.property_id,
        source=reservation.channel,
        connection_id=reservation.connection_id,
        channel_booking_id=reservation.channel_booking_id,
        channel_reference=reservation.channel_reference,
        ota_name=reservation.ota_name,
        ota_reservation_code=reservation.ota_reservation_code,
        status=reservation.status,
        booked_at=reservation.booked_at,
        arrival=reservation.arrival,
        departure=reservation.departure,
        arrival_time=reservation.arrival_time,
        currency=reservation.currency,
        total_amount=reservation.total_amount,
        total_before_tax=reservation.total_before_tax,
        commission=reservation.commission,
        payment_collect=reservation.payment_collect,
        payment_type=reservation.payment_type,
        guarantee=GuaranteeRead.model_validate(guarantee) if guarantee is not None else None,
        is_overbooked=reservation.is_overbooked,
        revision=reservation.revision,
        rooms=[
            RoomRead(
                position=room.position,
                room_type_id=room.room_type_id,
                unit_id=room.unit_id,
                rate_plan_id=room.rate_plan_id,
                adults=room.adults,
                children=room.children,
                child_ages=room.child_ages,
                amount=room.amount,
                nightly_prices={
                    date.fromisoformat(k): Decimal(v) for k, v in room.nightly_prices.items()
                },
                charges=[
                    ChargeRead(
                        kind=charge["kind"],
                        name=charge["name"],
                        amount=Decimal(charge["amount"]),
                        is_inclusive=charge["inclusive"],
                    )
                    for charge in room.charges
                ],
            )
            for room in reservation.rooms
        ],
        guest=GuestRead(
            id=guest.id,
            first_name=guest.first_name,
            last_name=guest.last_name,
            email=guest.email,
            phone=guest.phone,
            country=guest.country,
            address=guest.address,
            city=guest.city,
            postal_code=guest.postal_code,
            language=guest.language,
        )
        if guest
        else None,
        special_requests=reservation.special_requests,
        notes=reservation.notes,
        channel_pushes=_channel_pushes(session, reservation),
        created_at=reservation.created_at,
        updated_at=reservation.updated_at,
    )


def _channel_pushes(session: Session, reservation: Reservation) -> list[ChannelPushRead]:
    if reservation.source != DIRECT:
        return []
    query = select(BookingPush).where(BookingPush.reservation_id == reservation.id)
    return [
        ChannelPushRead(
            connection_id=push.connection_id,
            state=push.state,
            channel_booking_id=push.channel_booking_id,
            pushed_revision=push.pushed_revision,
            attempts=push.attempts,
            error=push.last_error,
        )
        for push in session.scalars(query.order_by(BookingPush.connection_id))
    ]
