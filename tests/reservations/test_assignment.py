"""Room assignment through the reservation services: units given, kept, released, never shared."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.crypto import SecretBox
from innsync.errors import ConflictError
from innsync.properties.models import Property, Unit
from innsync.properties.schemas import UnitCreate
from innsync.properties.service import create_unit
from innsync.reservations.assignment import (
    assign_units,
    place_in_new_unit,
    set_unit,
    unassigned_stays,
)
from innsync.reservations.models import CONFIRMED, Reservation, UnitNight
from innsync.reservations.schemas import ReservationCreate, ReservationUpdate, RoomIn
from innsync.reservations.service import cancel_direct, create_direct, modify_direct
from innsync.stay_dates import DateRange
from tests.inbound.builders import Hotel, make_hotel
from tests.reservations.builders import BEFORE_PMS, ingest, revision

pytestmark = pytest.mark.backends("sqlite", "postgresql")

MONTH_START = date(2031, 3, 1)  # far in the future: nothing here depends on today


def _hotel(session: Session, box: SecretBox, policy: str, units: dict[str, list[str]]) -> Hotel:
    """Room types selling one unit more than they have named units, so some stays stay
    unassigned though sold; ``units`` names each type's units."""
    hotel = make_hotel(session, box, units={code: len(names) + 1 for code, names in units.items()})
    session.get_one(Property, hotel.property_id).room_assignment = policy
    for code, names in units.items():
        for name in names:
            create_unit(session, hotel.tenant_id, hotel.room_types[code], UnitCreate(name=name))
    session.flush()
    return hotel


def _book(
    session: Session, hotel: Hotel, arrival: date, nights: int, code: str = "DBL"
) -> Reservation:
    data = ReservationCreate(
        arrival=arrival,
        departure=arrival + timedelta(days=nights),
        rooms=[RoomIn(room_type_id=hotel.room_types[code], adults=2, amount=Decimal("100.00"))],
    )
    return create_direct(session, hotel.tenant_id, hotel.property_id, data)


def _unit_names(session: Session, reservation: Reservation) -> list[str | None]:
    session.refresh(reservation)
    return [
        session.get_one(Unit, room.unit_id).name if room.unit_id else None
        for room in reservation.rooms
    ]


def _nights_held(session: Session, property_id: uuid.UUID) -> Counter[tuple[uuid.UUID, date]]:
    """(unit, night) -> how many confirmed stays' rooms name that unit, from the rooms alone."""
    held: Counter[tuple[uuid.UUID, date]] = Counter()
    query = select(Reservation).where(
        Reservation.property_id == property_id, Reservation.status == CONFIRMED
    )
    for reservation in session.scalars(query.execution_options(populate_existing=True)):
        for room in reservation.rooms:
            if room.unit_id is not None:
                for night in DateRange(reservation.arrival, reservation.departure):
                    held[(room.unit_id, night)] += 1
    return held


def _rows(session: Session, hotel: Hotel) -> set[tuple[uuid.UUID, date]]:
    query = (
        select(UnitNight.unit_id, UnitNight.night)
        .join(Reservation, UnitNight.reservation_id == Reservation.id)
        .where(Reservation.property_id == hotel.property_id)
    )
    return {(unit_id, night) for unit_id, night in session.execute(query)}


def test_fill_takes_the_lowest_numbered_free_unit(session: Session, secret_box: SecretBox) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["101", "10", "9"]})
    first = _book(session, hotel, MONTH_START, 3)
    second = _book(session, hotel, MONTH_START + timedelta(days=2), 2)
    after = _book(session, hotel, MONTH_START + timedelta(days=3), 1)  # the first has left
    assert [_unit_names(session, r) for r in (first, second, after)] == [["9"], ["10"], ["9"]]


def test_spread_takes_the_unit_used_least_around_the_stay(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "spread", {"DBL": ["1", "2", "3"]})
    stays = [_book(session, hotel, MONTH_START + timedelta(days=4 * i), 3) for i in range(4)]
    # No stay overlaps another, so "fill" would put all four in unit 1.
    assert [_unit_names(session, r) for r in stays] == [["1"], ["2"], ["3"], ["1"]]


def test_a_modification_keeps_the_unit_while_it_is_free(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1", "2"]})
    other = _book(session, hotel, MONTH_START, 2)
    moved = _book(session, hotel, MONTH_START, 2)
    later = _book(session, hotel, MONTH_START + timedelta(days=5), 2)
    assert [_unit_names(session, r) for r in (other, moved, later)] == [["1"], ["2"], ["1"]]

    def move(offset: int, nights: int) -> list[str | None]:
        arrival = MONTH_START + timedelta(days=offset)
        update = ReservationUpdate(arrival=arrival, departure=arrival + timedelta(days=nights))
        modify_direct(session, hotel.tenant_id, moved.id, update)
        return _unit_names(session, moved)

    # Unit 1 is free on the new nights too and "fill" would pick it first: unit 2 is kept.
    assert move(2, 2) == ["2"]
    blocker = _book(session, hotel, MONTH_START + timedelta(days=6), 2)
    assert _unit_names(session, blocker) == ["2"]
    # Onto nights where unit 2 is taken, and unit 1 too: sold, but in no unit.
    assert move(5, 2) == [None]
    # Back to free nights: a unit again.
    assert move(2, 2) == ["1"]
    assert set(_nights_held(session, hotel.property_id).values()) == {1}


def test_an_overbooking_stays_unassigned_and_is_listed(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1"]})
    first = _book(session, hotel, MONTH_START, 3)
    second = _book(session, hotel, MONTH_START + timedelta(days=1), 3)  # sold, but no unit left
    outcome = ingest(  # the channel books past the units sold: never refused, never placed
        session, hotel.connections[0], revision("OTA-1", 1, BEFORE_PMS, arrival=MONTH_START)
    )
    assert outcome.is_overbooked
    assert _unit_names(session, first) == ["1"]
    assert _unit_names(session, second) == [None]
    listed = unassigned_stays(
        session,
        hotel.tenant_id,
        hotel.property_id,
        DateRange(MONTH_START, MONTH_START + timedelta(days=31)),
    )
    assert [(stay.reservation_id, stay.is_overbooked) for stay in listed] == [
        (outcome.reservation_id, True),
        (second.id, False),
    ]
    # Outside the stays' dates, nothing is listed.
    later = DateRange(MONTH_START + timedelta(days=4), MONTH_START + timedelta(days=9))
    assert unassigned_stays(session, hotel.tenant_id, hotel.property_id, later) == []


def test_cancelling_gives_the_unit_back(session: Session, secret_box: SecretBox) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1"]})
    first = _book(session, hotel, MONTH_START, 2)
    cancel_direct(session, hotel.tenant_id, first.id)
    assert _unit_names(session, first) == [None]
    assert _rows(session, hotel) == set()
    assert _unit_names(session, _book(session, hotel, MONTH_START, 2)) == ["1"]


def test_switched_off_no_unit_is_picked_but_one_set_by_hand_is_kept(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "off", {"DBL": ["1", "2"]})
    booked = _book(session, hotel, MONTH_START, 2)
    assert _unit_names(session, booked) == [None]
    assert _rows(session, hotel) == set()
    unit_2 = session.scalar(
        select(Unit.id).where(Unit.name == "2", Unit.tenant_id == hotel.tenant_id)
    )
    set_unit(session, hotel.tenant_id, booked.id, 0, unit_2)
    update = ReservationUpdate(departure=MONTH_START + timedelta(days=3))
    modify_direct(session, hotel.tenant_id, booked.id, update)
    assert _unit_names(session, booked) == ["2"]
    assert len(_rows(session, hotel)) == 3


def test_setting_a_unit_held_on_one_night_is_refused(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1", "2"]})
    first = _book(session, hotel, MONTH_START, 2)
    second = _book(session, hotel, MONTH_START + timedelta(days=1), 2)
    assert _unit_names(session, second) == ["2"]
    unit_1 = session.get_one(Reservation, first.id).rooms[0].unit_id
    with pytest.raises(
        ConflictError, match=f"unit 1 is held by another stay on {MONTH_START + timedelta(days=1)}"
    ):
        set_unit(session, hotel.tenant_id, second.id, 0, unit_1)
    assert _unit_names(session, second) == ["2"]  # unchanged


def _unit_id(session: Session, hotel: Hotel, name: str) -> uuid.UUID:
    found = session.scalar(
        select(Unit.id).where(Unit.name == name, Unit.tenant_id == hotel.tenant_id)
    )
    assert found is not None
    return found


def test_a_cancellation_places_the_stay_waiting_for_a_unit(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1"]})
    first = _book(session, hotel, MONTH_START, 3)
    waiting = _book(session, hotel, MONTH_START + timedelta(days=1), 3)
    overbooked = ingest(  # past the 2 sold: the channel's booking is never refused
        session,
        hotel.connections[0],
        revision("OTA-1", 1, BEFORE_PMS, arrival=MONTH_START + timedelta(days=2), nights=1),
    )
    later = session.get_one(Reservation, overbooked.reservation_id)
    assert [_unit_names(session, r) for r in (first, waiting, later)] == [["1"], [None], [None]]
    cancel_direct(session, hotel.tenant_id, first.id)
    # Earliest arrival first: the waiting stay takes unit 1; the later one still overlaps it.
    assert [_unit_names(session, r) for r in (first, waiting, later)] == [[None], ["1"], [None]]
    assert set(_nights_held(session, hotel.property_id).values()) == {1}


def test_a_shortened_stay_frees_its_unit_for_a_waiting_one(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1"]})
    first = _book(session, hotel, MONTH_START, 4)
    waiting = _book(session, hotel, MONTH_START + timedelta(days=2), 2)
    assert _unit_names(session, waiting) == [None]
    update = ReservationUpdate(departure=MONTH_START + timedelta(days=3))
    modify_direct(session, hotel.tenant_id, first.id, update)
    assert _unit_names(session, waiting) == [None]  # still one night in common
    update = ReservationUpdate(departure=MONTH_START + timedelta(days=2))
    modify_direct(session, hotel.tenant_id, first.id, update)
    assert [_unit_names(session, r) for r in (first, waiting)] == [["1"], ["1"]]


def test_a_unit_left_by_hand_goes_to_a_waiting_stay_not_back(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1"]})
    moved = _book(session, hotel, MONTH_START, 2)
    waiting = _book(session, hotel, MONTH_START, 2)
    set_unit(session, hotel.tenant_id, moved.id, 0, None)
    # The stay unassigned on purpose is not put back; the one waiting gets the unit.
    assert [_unit_names(session, r) for r in (moved, waiting)] == [[None], ["1"]]


def test_a_new_unit_takes_a_waiting_stay(session: Session, secret_box: SecretBox) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1"]})
    _book(session, hotel, MONTH_START, 2)
    waiting = _book(session, hotel, MONTH_START, 2)
    old_arrival = MONTH_START - timedelta(days=10)
    for booking_id in ("OTA-OLD-1", "OTA-OLD-2"):  # the second waits, and ends before "today"
        past = ingest(
            session, hotel.connections[0], revision(booking_id, 1, BEFORE_PMS, arrival=old_arrival)
        )
    unit = create_unit(session, hotel.tenant_id, hotel.room_types["DBL"], UnitCreate(name="2"))
    assert _unit_names(session, waiting) == [None]  # adding a unit alone places nothing
    assert place_in_new_unit(session, unit, MONTH_START - timedelta(days=1)) == 1
    assert _unit_names(session, waiting) == ["2"]
    old = session.get_one(Reservation, past.reservation_id)
    assert _unit_names(session, old) == [None]


def test_switched_off_a_freed_unit_is_not_given_to_anyone(
    session: Session, secret_box: SecretBox
) -> None:
    hotel = _hotel(session, secret_box, "off", {"DBL": ["1"]})
    first = _book(session, hotel, MONTH_START, 2)
    waiting = _book(session, hotel, MONTH_START, 2)
    set_unit(session, hotel.tenant_id, first.id, 0, _unit_id(session, hotel, "1"))
    cancel_direct(session, hotel.tenant_id, first.id)
    assert _unit_names(session, waiting) == [None]
    assert _rows(session, hotel) == set()


# The property test: a month of bookings, direct and from a channel, with changes.


@dataclass(frozen=True)
class Step:
    kind: str  # "book", "move" or "cancel"
    target: int  # the booking a move or cancel acts on, modulo those made so far
    offset: int  # arrival: days after MONTH_START
    nights: int
    code: str
    via_channel: bool


def _steps(kinds: list[str], size: int) -> st.SearchStrategy[list[Step]]:
    step = st.builds(
        Step,
        kind=st.sampled_from(kinds),
        target=st.integers(0, 10_000),
        offset=st.integers(0, 27),
        nights=st.integers(1, 4),
        code=st.sampled_from(["DBL", "TWN"]),
        via_channel=st.booleans(),
    )
    return st.lists(step, min_size=size, max_size=size)


BOOKINGS = _steps(["book"], 200)
CHANGES = _steps(["move", "move", "cancel"], 60)


def _interleaved(bookings: list[Step], changes: list[Step]) -> list[Step]:
    """The bookings in order, each change slotted in at a place drawn with it."""
    steps = list(bookings)
    for change in changes:
        steps.insert(change.target % (len(steps) + 1), change)
    return steps


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(bookings=BOOKINGS, changes=CHANGES, policy=st.sampled_from(["fill", "spread"]))
def test_a_month_of_bookings_never_puts_two_stays_in_one_unit(
    session: Session, secret_box: SecretBox, bookings: list[Step], changes: list[Step], policy: str
) -> None:
    """200 bookings over a month (direct ones refused when sold out, channel ones never), with
    60 moves and cancellations among them: no unit holds two stays on a night, a moved stay
    keeps its unit whenever that unit was free on the new nights, and no stay is left without
    a unit while one is free for its whole stay."""
    hotel = _hotel(session, secret_box, policy, {"DBL": ["1", "2", "3", "4"], "TWN": ["5", "6"]})
    made: list[tuple[uuid.UUID, str, int]] = []  # reservation, channel booking id, revision
    for step in _interleaved(bookings, changes):
        arrival = MONTH_START + timedelta(days=step.offset)
        if step.kind == "book":
            reservation_id = _book_step(session, hotel, step, arrival, len(made))
            if reservation_id is not None:
                made.append((reservation_id, f"OTA-{len(made)}", 1))
            continue
        if not made:
            continue
        index = step.target % len(made)
        reservation_id, booking_id, number = made[index]
        reservation = session.get_one(Reservation, reservation_id)
        if reservation.status != CONFIRMED:
            continue
        if step.kind == "cancel":
            _cancel_step(session, hotel, reservation, booking_id, number)
        else:
            unit_before = reservation.rooms[0].unit_id
            free_before = unit_before is not None and _free(
                session, unit_before, reservation.id, arrival, step.nights
            )
            moved = _move_step(
                session, hotel, reservation, booking_id, number, arrival, step.nights
            )
            if moved and free_before:  # the unit was free on the new nights: it is kept
                session.refresh(reservation)
                assert reservation.rooms[0].unit_id == unit_before
        made[index] = (reservation_id, booking_id, number + 1)

    held = _nights_held(session, hotel.property_id)
    assert all(count == 1 for count in held.values()), "a unit holds two stays on a night"
    assert set(held) == _rows(session, hotel)  # the rooms and the unit_nights rows agree
    units = {unit.id: unit.room_type_id for unit in session.scalars(select(Unit))}
    for reservation in session.scalars(
        select(Reservation).where(Reservation.property_id == hotel.property_id)
    ):
        for room in reservation.rooms:
            assert room.unit_id is None or units[room.unit_id] == room.room_type_id
            if reservation.status != CONFIRMED:
                assert room.unit_id is None
            elif room.unit_id is None:  # waiting: no unit of its type is free for the stay
                nights = (reservation.departure - reservation.arrival).days
                free = [
                    unit_id
                    for unit_id, room_type_id in units.items()
                    if room_type_id == room.room_type_id
                    and _free(session, unit_id, reservation.id, reservation.arrival, nights)
                ]
                assert free == [], f"{reservation.id} waits while a unit is free"


def _book_step(
    session: Session, hotel: Hotel, step: Step, arrival: date, number: int
) -> uuid.UUID | None:
    if step.via_channel:
        booked = revision(
            f"OTA-{number}",
            1,
            BEFORE_PMS,
            arrival=arrival,
            nights=step.nights,
            rooms=((step.code, f"{step.code}-BAR"),),
        )
        return ingest(session, hotel.connections[0], booked).reservation_id
    try:
        with session.begin_nested():
            return _book(session, hotel, arrival, step.nights, step.code).id
    except ConflictError:  # no unit left to sell: a direct booking is refused
        return None


def _cancel_step(
    session: Session, hotel: Hotel, reservation: Reservation, booking_id: str, number: int
) -> None:
    if reservation.source == "direct":
        cancel_direct(session, hotel.tenant_id, reservation.id)
        return
    code = _code(hotel, reservation)
    booked = revision(
        booking_id,
        number + 1,
        BEFORE_PMS,
        status="cancelled",
        arrival=reservation.arrival,
        nights=(reservation.departure - reservation.arrival).days,
        rooms=((code, f"{code}-BAR"),),
    )
    ingest(session, hotel.connections[0], booked)


def _move_step(
    session: Session,
    hotel: Hotel,
    reservation: Reservation,
    booking_id: str,
    number: int,
    arrival: date,
    nights: int,
) -> bool:
    """Move the stay; False when a direct move is refused for want of units."""
    if reservation.source != "direct":
        code = _code(hotel, reservation)
        booked = revision(
            booking_id,
            number + 1,
            BEFORE_PMS,
            status="modified",
            arrival=arrival,
            nights=nights,
            rooms=((code, f"{code}-BAR"),),
        )
        ingest(session, hotel.connections[0], booked)
        return True
    update = ReservationUpdate(arrival=arrival, departure=arrival + timedelta(days=nights))
    try:
        with session.begin_nested():
            modify_direct(session, hotel.tenant_id, reservation.id, update)
    except ConflictError:
        return False
    return True


def _code(hotel: Hotel, reservation: Reservation) -> str:
    room_type_id = reservation.rooms[0].room_type_id
    return next(code for code, value in hotel.room_types.items() if value == room_type_id)


def _free(
    session: Session, unit_id: uuid.UUID, reservation_id: uuid.UUID, arrival: date, nights: int
) -> bool:
    """No other stay holds the unit on these nights."""
    query = select(UnitNight.night).where(
        UnitNight.unit_id == unit_id,
        UnitNight.reservation_id != reservation_id,
        UnitNight.night >= arrival,
        UnitNight.night < arrival + timedelta(days=nights),
    )
    return session.scalar(query.limit(1)) is None


def test_assign_units_is_idempotent(session: Session, secret_box: SecretBox) -> None:
    hotel = _hotel(session, secret_box, "fill", {"DBL": ["1", "2"]})
    booked = _book(session, hotel, MONTH_START, 3)
    before = _rows(session, hotel)
    assign_units(session, booked)
    assert _rows(session, hotel) == before
    assert len(before) == 3
