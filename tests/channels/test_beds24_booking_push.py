"""Direct bookings out to Beds24 through the engine, over real HTTP, on SQLite and PostgreSQL.

A booking made, changed and cancelled through innsync's API is queued in its own transaction
(``booking_pushes``) and sent by the booking-push pass (``sync/bookings.py``) to the Beds24
simulator; every request and answer is checked against Beds24's OpenAPI file.

Evidence (issue: Beds24, bookings out): created exactly once even when the simulator's first
answer is lost after it stored the booking; the modification and the cancellation each reach
Beds24 once; a refusal shows on the reservation and as a ``reservation.push_failed`` event; a
Beds24 booking is never pushed back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.channels.types import AvailabilityUpdate, PushRequest
from innsync.connections import service as connections
from innsync.connections.schemas import ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.models import Event
from innsync.outbox.models import BookingPush
from innsync.simulators.kit.faults import FaultSettings
from innsync.stay_dates import DateRange
from tests.channels.beds24_live import LiveBeds24, live_beds24

pytestmark = pytest.mark.backends("sqlite", "postgresql")

# The lost answer waits this long, past the client's timeout: the client gives up first.
LOST_ANSWER_SECONDS = 3.0
CLIENT_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveBeds24]:
    with live_beds24(
        committed, secret_box, faults=FaultSettings(timeout_seconds=LOST_ANSWER_SECONDS)
    ) as running:
        yield running
        # Zero requests or answers may leave Beds24's OpenAPI file.
        assert running.transport.problems() == []


def _book(live: LiveBeds24, first: int = 20, nights: int = 2) -> dict[str, Any]:
    hotel = live.hotel
    body = {
        "arrival": live.day(first).isoformat(),
        "departure": live.day(first + nights).isoformat(),
        "rooms": [{"room_type_id": str(hotel.room_type_ids[0]), "adults": 2, "amount": "240.00"}],
        "guest": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    }
    with live.api() as api:
        made = api.post(f"/api/v1/properties/{hotel.property_id}/reservations", json=body)
    assert made.status_code == 201, made.text
    reservation: dict[str, Any] = made.json()
    return reservation


def _read(live: LiveBeds24, reservation_id: str) -> dict[str, Any]:
    with live.api() as api:
        answer = api.get(f"/api/v1/reservations/{reservation_id}")
    assert answer.status_code == 200, answer.text
    read: dict[str, Any] = answer.json()
    return read


def _beds24_bookings(live: LiveBeds24) -> list[dict[str, Any]]:
    held: list[dict[str, Any]] = live.sim.get("/_sim/bookings").json()["data"]
    return held


def _booking_posts(live: LiveBeds24, at_least: int = 0) -> int:
    """POST /bookings calls the simulator logged (lost answers included, once answered)."""
    for _ in range(100):
        log = live.sim.get("/_sim/requests").json()["data"]
        posts = sum(1 for entry in log if entry["endpoint"] == "POST /bookings")
        if posts >= at_least:
            break
        time.sleep(LOST_ANSWER_SECONDS / 20)
    return posts


def test_a_direct_booking_is_created_once_although_the_first_answer_is_lost(
    live: LiveBeds24,
) -> None:
    lost = live.sim.post("/_sim/lost-answers", {"endpoint": "POST /bookings", "count": 1})
    assert lost.status_code == 200, lost.text
    reservation = _book(live)
    # Queued with the booking, in its transaction: pending before any worker ran.
    assert [p["state"] for p in reservation["channel_pushes"]] == ["pending"]
    assert reservation["channel_pushes"][0]["connection_id"] == str(live.hotel.connection_id)

    # The adapter's own timeout (connection config) is shorter than the lost answer's wait.
    with transaction(live.sessions) as session:
        connections.update_connection(
            session,
            live.box,
            live.hotel.tenant_id,
            live.hotel.connection_id,
            ConnectionUpdate(config={"timeout_seconds": CLIENT_TIMEOUT_SECONDS}),
        )
    tried = live.push_bookings()

    assert tried == 2  # the attempt whose answer was lost, then the retry
    (held,) = _beds24_bookings(live)
    assert held["apiReference"] == f"innsync-{reservation['id']}"
    assert (held["arrival"], held["departure"]) == (
        reservation["arrival"],
        reservation["departure"],
    )
    assert (held["roomId"], held["numAdult"], held["price"]) == (201, 2, 240)
    assert (held["firstName"], held["lastName"]) == ("Grace", "Hopper")
    # The retry looked the booking up by its reference and changed it: no second create. The
    # lost answer's call is logged once its held answer is sent: wait for it (bounded).
    assert _booking_posts(live, at_least=2) == 2
    (push,) = _read(live, reservation["id"])["channel_pushes"]
    assert push == {
        "connection_id": str(live.hotel.connection_id),
        "state": "pushed",
        "channel_booking_id": str(held["id"]),
        "pushed_revision": 1,
        "attempts": 0,
        "error": "",
    }


def test_a_modification_and_a_cancellation_each_reach_beds24_once(live: LiveBeds24) -> None:
    reservation = _book(live)
    live.push_bookings()
    (created,) = _beds24_bookings(live)
    new_departure = live.day(23).isoformat()
    with live.api() as api:
        changed = api.patch(
            f"/api/v1/reservations/{reservation['id']}", json={"departure": new_departure}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["channel_pushes"][0]["state"] == "pending"
    assert live.push_bookings() == 1
    (modified,) = _beds24_bookings(live)
    assert (modified["id"], modified["departure"], modified["status"]) == (
        created["id"],
        new_departure,
        "confirmed",
    )
    with live.api() as api:
        cancelled = api.post(f"/api/v1/reservations/{reservation['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
    assert live.push_bookings() == 1
    (final,) = _beds24_bookings(live)
    assert (final["id"], final["status"]) == (created["id"], "cancelled")
    # Create, modify, cancel: one POST each, no more.
    assert _booking_posts(live) == 3
    (push,) = _read(live, reservation["id"])["channel_pushes"]
    assert (push["state"], push["pushed_revision"]) == ("pushed", 3)
    # Nothing is left to send: another pass tries nothing.
    assert live.push_bookings() == 0


def test_a_refused_booking_shows_on_the_reservation_and_as_an_event(live: LiveBeds24) -> None:
    # Beds24 holds no room on the stay's first night (another channel sold it), so it refuses
    # the booking its checkAvailability action guards.
    closed_night = DateRange(live.day(20), live.day(21))

    async def close() -> None:
        async with httpx.AsyncClient(transport=live.transport, timeout=30) as http:
            connection = live.connection()
            await live.adapter_for(http)(connection).push_availability(
                PushRequest("availability", (AvailabilityUpdate("201", closed_night, 0),))
            )

    asyncio.run(close())
    reservation = _book(live)
    assert live.push_bookings() == 1
    (push,) = _read(live, reservation["id"])["channel_pushes"]
    assert push["state"] == "refused"
    assert "No availability" in push["error"]
    assert _beds24_bookings(live) == []
    with live.sessions() as session:
        events = list(
            session.scalars(select(Event).where(Event.kind == kinds.RESERVATION_PUSH_FAILED))
        )
    assert [e.payload["reservation_id"] for e in events] == [reservation["id"]]
    assert events[0].payload["connection_id"] == str(live.hotel.connection_id)
    # A refusal is not retried: the next pass sends nothing.
    live.clock.advance(timedelta(hours=1).total_seconds())
    assert live.push_bookings() == 0
    assert _booking_posts(live) == 1


def test_a_beds24_booking_is_never_pushed_back(live: LiveBeds24) -> None:
    live.book(201, 30, 2)
    live.inbound()
    (stored,) = live.reservations()
    assert stored.channel == "beds24"
    with live.sessions() as session:
        assert list(session.scalars(select(BookingPush))) == []
    assert live.push_bookings() == 0
    assert _booking_posts(live) == 0
    assert len(_beds24_bookings(live)) == 1
