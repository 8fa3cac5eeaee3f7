"""A hundred channel bookings for the last unit: all stored, one fits, 99 flagged, ledger exact."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy import Engine, func, select

from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inventory.models import InventoryLedgerDay
from innsync.reservations.models import Reservation
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.settings import Settings
from tests.inbound.builders import (
    ARRIVAL,
    Processing,
    booking,
    encode,
    headers,
    hooks_app,
    make_hotel,
)
from tests.servers import serving

UNITS = 5
CONNECTIONS = 4
BOOKINGS = 100
PROCESSORS = 4
COPIES = 10
LATER = ARRIVAL + timedelta(days=20)


def test_a_hundred_webhooks_for_the_last_unit(committed: Engine, secret_box: SecretBox) -> None:
    sessions = session_factory(committed)
    with sessions() as session:
        hotel = make_hotel(session, secret_box, units={"DBL": UNITS}, connections=CONNECTIONS)
        room = RoomIn(room_type_id=hotel.room_types["DBL"], adults=1, amount=Decimal("90.00"))
        create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(
                arrival=ARRIVAL, departure=ARRIVAL + timedelta(2), rooms=[room] * (UNITS - 1)
            ),
        )
        session.commit()
    app = hooks_app(
        sessions, committed, secret_box, Settings(database_url="sqlite://", background_loops=False)
    )

    def post(base_url: str, token: str, content: bytes) -> httpx.Response:
        # A client per call, as each channel is its own caller: one client's connection pool
        # shared by a hundred threads once closed a socket under another thread's read (EBADF).
        with httpx.Client(base_url=base_url, timeout=60) as http:
            return http.post(f"/hooks/{token}", content=content, headers=headers())

    def deliver(number: int, base_url: str) -> httpx.Response:
        body = booking(f"OTA-{number}", guest=f"Guest {number}")
        return post(base_url, hotel.tokens[number % CONNECTIONS], encode(body))

    # One more booking, on other dates, delivered ten times at once: it is stored once.
    again = encode(booking("AGAIN", arrival=LATER, guest="Guest again"))

    with serving(app) as base_url, ThreadPoolExecutor(max_workers=BOOKINGS) as pool:
        responses = list(pool.map(lambda number: deliver(number, base_url), range(BOOKINGS)))
        copies = list(pool.map(lambda _: post(base_url, hotel.tokens[0], again), range(COPIES)))
    assert Counter(r.status_code for r in responses + copies) == {200: BOOKINGS + COPIES}
    assert {r.json()["status"] for r in responses} == {"stored"}
    assert Counter(r.json()["status"] for r in copies) == {"stored": 1, "duplicate": COPIES - 1}

    # Several processors at once, as several workers on PostgreSQL or MariaDB would run.
    processing = Processing(sessions, secret_box)

    def process() -> int:
        done = 0
        while taken := asyncio.run(process_pending(sessions, processing.adapter_for, 10)):
            done += taken
        return done

    with ThreadPoolExecutor(max_workers=PROCESSORS) as pool:
        processed = sum(pool.map(lambda _: process(), range(PROCESSORS)))
    assert processed == BOOKINGS + 1

    with sessions() as session:
        statuses = Counter(session.scalars(select(InboxItem.status)))
        assert statuses == {"applied": BOOKINGS + 1}
        channel = list(
            session.scalars(
                select(Reservation).where(
                    Reservation.source != "direct", Reservation.channel_booking_id != "AGAIN"
                )
            )
        )
        assert len(channel) == BOOKINGS
        assert {r.status for r in channel} == {"confirmed"}
        assert Counter(r.is_overbooked for r in channel) == {False: 1, True: BOOKINGS - 1}
        assert {r.source for r in channel} == {str(c) for c in hotel.connections}
        sold = dict(
            session.execute(select(InventoryLedgerDay.stay_date, InventoryLedgerDay.sold)).all()
        )
        assert sold == {
            ARRIVAL: UNITS + BOOKINGS - 1,
            ARRIVAL + timedelta(1): UNITS + BOOKINGS - 1,
            LATER: 1,
            LATER + timedelta(1): 1,
        }
        events = Counter(
            session.scalars(
                select(Event.kind).where(
                    Event.kind.in_([kinds.RESERVATION_CREATED, kinds.OVERBOOKING])
                )
            )
        )
        assert events == {kinds.RESERVATION_CREATED: BOOKINGS + 2, kinds.OVERBOOKING: BOOKINGS - 1}
        assert session.scalar(select(func.count()).select_from(InboxItem)) == BOOKINGS + 1
