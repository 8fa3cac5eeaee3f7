"""A block written while a booking checks its units: the booking waits for the block, on every
database, so a direct booking is refused (409) and a channel booking is flagged overbooked."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.errors import ConflictError
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inventory.availability import create_block
from innsync.inventory.models import Block, InventoryLedgerDay
from innsync.inventory.schemas import BlockCreate
from innsync.properties.models import Property
from innsync.properties.service import property_today
from innsync.reservations.models import Reservation
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from tests.inbound.builders import Hotel, make_hotel
from tests.reservations.builders import BEFORE_PMS, ingest, revision

UNITS = 2
# How long the booking is given to get past the open block. With the room-type lock it cannot,
# however long it is given; without it, it commits in well under this.
OVERTAKE_SECONDS = 2.0


def _hotel(sessions: sessionmaker[Session], box: SecretBox) -> tuple[Hotel, date]:
    with sessions() as session:
        hotel = make_hotel(session, box, units={"DBL": UNITS})
        today = property_today(session.get_one(Property, hotel.property_id), datetime.now(UTC))
        session.commit()
    return hotel, today + timedelta(days=10)


def _block_held_open(
    sessions: sessionmaker[Session],
    hotel: Hotel,
    night: date,
    written: threading.Event,
    release: threading.Event,
) -> None:
    """Block every unit of DBL on ``night``, then keep the transaction open until released."""
    with sessions() as session:
        create_block(
            session,
            hotel.tenant_id,
            hotel.room_types["DBL"],
            BlockCreate(date_from=night, date_to=night, units=UNITS, reason="water leak"),
        )
        written.set()
        release.wait(timeout=60)
        session.commit()


def _race(
    sessions: sessionmaker[Session], hotel: Hotel, night: date, book: Callable[[Session], object]
) -> Future[object]:
    """Book while the block is written but not committed; returns the booking's outcome."""
    written, release = threading.Event(), threading.Event()

    def booking() -> object:
        with sessions() as session:
            outcome = book(session)
            session.commit()
            return outcome

    with ThreadPoolExecutor(max_workers=2) as pool:
        blocker = pool.submit(_block_held_open, sessions, hotel, night, written, release)
        assert written.wait(timeout=60)
        booked = pool.submit(booking)
        wait([booked], timeout=OVERTAKE_SECONDS)
        overtook = booked.done()
        release.set()
        blocker.result(timeout=60)
        wait([booked], timeout=60)
    assert not overtook, "the booking finished while a block of its room type was uncommitted"
    return booked


def _sold(session: Session) -> dict[date, int]:
    rows = session.execute(select(InventoryLedgerDay.stay_date, InventoryLedgerDay.sold)).all()
    return {stay_date: sold for stay_date, sold in rows if sold}


def test_a_direct_booking_waits_for_a_block_and_is_refused(
    committed: Engine, secret_box: SecretBox
) -> None:
    sessions = session_factory(committed)
    hotel, night = _hotel(sessions, secret_box)

    def book(session: Session) -> object:
        room = RoomIn(room_type_id=hotel.room_types["DBL"], adults=2, amount=Decimal("100.00"))
        return create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(arrival=night, departure=night + timedelta(days=1), rooms=[room]),
        )

    booked = _race(sessions, hotel, night, book)

    with pytest.raises(ConflictError, match=f"DBL has 0 unit\\(s\\) left on {night}"):
        booked.result()
    with sessions() as session:
        assert _sold(session) == {}
        assert session.scalars(select(Reservation)).all() == []
        assert [block.units for block in session.scalars(select(Block))] == [UNITS]


def test_a_channel_booking_waits_for_a_block_and_is_flagged_overbooked(
    committed: Engine, secret_box: SecretBox
) -> None:
    sessions = session_factory(committed)
    hotel, night = _hotel(sessions, secret_box)

    def book(session: Session) -> object:
        booked = revision("OTA-1", 1, BEFORE_PMS, arrival=night, nights=1)
        return ingest(session, hotel.connections[0], booked).reservation_id

    booked = _race(sessions, hotel, night, book)

    reservation_id = booked.result()
    assert isinstance(reservation_id, uuid.UUID)
    with sessions() as session:
        reservation = session.get_one(Reservation, reservation_id)
        assert reservation.is_overbooked is True
        assert _sold(session) == {night: 1}
        overbooking = session.scalars(select(Event).where(Event.kind == kinds.OVERBOOKING)).all()
        assert len(overbooking) == 1
        assert overbooking[0].payload["nights"] == [
            {"room_type_id": str(hotel.room_types["DBL"]), "stay_date": str(night), "short_by": 1}
        ]
