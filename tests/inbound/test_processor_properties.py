"""Any delivery of a booking's revisions — duplicated, shuffled, replayed, cancellation first —
ends in the reservations and ledger that delivery in order gives."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innsync.crypto import SecretBox
from tests.conftest import Db
from tests.inbound.builders import (
    ARRIVAL,
    Hotel,
    Processing,
    booking,
    encode,
    ledger_of,
    make_hotel,
    reservations_of,
)

Revision = dict[str, Any]


@st.composite
def histories(draw: st.DrawFn) -> list[Revision]:
    """The revisions of one to three bookings, each in the order the channel made them."""
    revisions: list[Revision] = []
    for number in range(draw(st.integers(1, 3))):
        booking_id = f"B{number}"
        for sequence in range(1, draw(st.integers(1, 4)) + 1):
            status = "new" if sequence == 1 else draw(st.sampled_from(["modified", "cancelled"]))
            rooms = draw(st.lists(st.sampled_from(["DBL", "TWN"]), min_size=1, max_size=3))
            if status == "cancelled" and draw(st.booleans()):
                rooms = []
            body = booking(
                booking_id,
                sequence,
                status,
                arrival=ARRIVAL + timedelta(days=draw(st.integers(0, 4))),
                nights=draw(st.integers(1, 3)),
                rooms=rooms,
            )
            revisions.append(body)
    return revisions


def state(db: Db, hotel: Hotel) -> tuple[dict[str, Any], dict[tuple[str, date], int]]:
    """Each booking's status, dates and room codes, and the ledger, by codes."""
    code_of = {room_type_id: code for code, room_type_id in hotel.room_types.items()}
    with db.sessions() as session:
        bookings = {
            reservation.channel_booking_id: (
                reservation.status,
                reservation.arrival,
                reservation.departure,
                sorted(code_of[room.room_type_id] for room in reservation.rooms),
            )
            for reservation in reservations_of(session, hotel.property_id)
        }
        return bookings, ledger_of(session, hotel)


def expected(revisions: list[Revision]) -> tuple[dict[str, Any], dict[tuple[str, date], int]]:
    """What the newest revision of each booking says, worked out without innsync."""
    newest: dict[str, Revision] = {}
    for body in revisions:
        newest[body["booking_id"]] = body
    bookings: dict[str, Any] = {}
    ledger: dict[tuple[str, date], int] = {}
    for booking_id, body in newest.items():
        status = "cancelled" if body["status"] == "cancelled" else "confirmed"
        arrival, departure = (
            date.fromisoformat(body["arrival"]),
            date.fromisoformat(body["departure"]),
        )
        codes = sorted(room["room_type"] for room in body["rooms"])
        bookings[booking_id] = (status, arrival, departure, codes)
        if status == "confirmed":
            for code in codes:
                for offset in range((departure - arrival).days):
                    key = (code, arrival + timedelta(days=offset))
                    ledger[key] = ledger.get(key, 0) + 1
    return bookings, ledger


@pytest.mark.backends("sqlite")
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_delivery_order_does_not_matter(db: Db, secret_box: SecretBox, data: st.DataObject) -> None:
    revisions = data.draw(histories(), label="revisions in order")
    replays = data.draw(st.lists(st.sampled_from(revisions), max_size=4), label="replays")
    shuffled = data.draw(st.permutations(revisions + replays), label="delivery order")
    with db.sessions() as session:
        # Few units, so some stays overbook: the outcome must not depend on that either.
        in_order = make_hotel(session, secret_box, units={"DBL": 2, "TWN": 1})
        any_order = make_hotel(session, secret_box, units={"DBL": 2, "TWN": 1})
        session.commit()
    processing = Processing(db.sessions, secret_box)

    for body in revisions:
        processing.deliver(in_order.tokens[0], encode(body))
    for delivery, body in enumerate(shuffled):
        # Redeliveries come as other bytes too, so the processor (not the dedupe key) meets them.
        processing.deliver(any_order.tokens[0], encode(body, variant=delivery % 3))
    processing.run()

    assert state(db, in_order) == expected(revisions)
    assert state(db, any_order) == expected(revisions)
