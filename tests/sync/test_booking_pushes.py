"""The booking-push outbox and pass, channel-neutral: what is queued with a direct booking, and
how each answer of a channel is recorded (taken, refused, unavailable, refused credentials).

The channel is a small scripted one that takes bookings (``PushesReservations``); the
database is real. Times come from an injected clock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from innsync.channels.contract import ChannelAdapter
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.types import BookingRevision, ChannelLimits
from innsync.connections import service as connections
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate, MappingsWrite, RoomTypeMappingIn
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.models import Event
from innsync.outbox.models import BookingPush
from innsync.reservations import service as reservations
from innsync.reservations.schemas import ReservationCreate, ReservationUpdate
from innsync.sync.bookings import FIRST_RETRY, PUSH_LEASE, push_due_bookings
from tests.conftest import Db
from tests.sync.engine_fixtures import HotelRows, create_hotel_rows

pytestmark = pytest.mark.backends("sqlite", "postgresql")

NOW = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
ARRIVAL = date(2031, 6, 1)
Outcome = str | ChannelError


@dataclass
class ScriptedChannel:
    """Answers each push with the next scripted outcome: a booking id or a channel error."""

    outcomes: list[Outcome]
    received: list[BookingRevision] = field(default_factory=list)
    name: str = "scripted"
    limits: ChannelLimits = field(default_factory=lambda: ChannelLimits(100, 60.0))
    on_push: Callable[[], None] | None = None

    async def test_connection(self) -> None:
        return None

    async def push_reservation(self, revision: BookingRevision) -> str:
        self.received.append(revision)
        if self.on_push is not None:
            self.on_push()
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, ChannelError):
            raise outcome
        return outcome


@dataclass
class Hotel:
    db: Db
    rows: HotelRows

    def book(self, room_index: int = 0) -> uuid.UUID:
        data = ReservationCreate.model_validate(
            {
                "arrival": ARRIVAL.isoformat(),
                "departure": (ARRIVAL + timedelta(days=2)).isoformat(),
                "rooms": [
                    {
                        "room_type_id": str(self.rows.room_type_ids[room_index]),
                        "adults": 2,
                        "amount": "200.00",
                    }
                ],
                "guest": {"first_name": "Ada", "last_name": "Lovelace"},
            }
        )
        with transaction(self.db.sessions) as session:
            made = reservations.create_direct(
                session, self.rows.tenant_id, self.rows.property_id, data
            )
            return made.id

    def change(self, reservation_id: uuid.UUID) -> None:
        with transaction(self.db.sessions) as session:
            reservations.modify_direct(
                session,
                self.rows.tenant_id,
                reservation_id,
                ReservationUpdate(departure=ARRIVAL + timedelta(days=3)),
            )

    def pushes(self) -> list[BookingPush]:
        with self.db.sessions() as session:
            return list(session.scalars(select(BookingPush).order_by(BookingPush.id)))

    def run(self, channel: ScriptedChannel, now: datetime = NOW) -> int:
        def adapter_for(_: Connection) -> ChannelAdapter:
            return channel

        return asyncio.run(push_due_bookings(self.db.sessions, adapter_for, clock=lambda: now))

    def connection(self) -> Connection:
        with self.db.sessions() as session:
            return session.get_one(Connection, self.rows.connection_id)

    def events(self, kind: str) -> list[Event]:
        with self.db.sessions() as session:
            return list(session.scalars(select(Event).where(Event.kind == kind)))


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    rows = create_hotel_rows(
        db.sessions,
        secret_box,
        ConnectionCreate(channel="fake", name="takes bookings", config={}, push_bookings=True),
    )
    with transaction(db.sessions) as session:
        # Only the first room type is mapped.
        connections.set_mappings(
            session,
            rows.tenant_id,
            rows.connection_id,
            MappingsWrite(
                room_types=[RoomTypeMappingIn(room_type_id=rows.room_type_ids[0], channel_code="A")]
            ),
        )
    return Hotel(db, rows)


def test_a_direct_booking_is_queued_with_it_and_sent_through_the_mappings(hotel: Hotel) -> None:
    reservation_id = hotel.book()
    (push,) = hotel.pushes()
    assert (push.state, push.wanted_revision, push.pushed_revision) == ("pending", 1, None)
    channel = ScriptedChannel(["B-1"])

    assert hotel.run(channel) == 1

    (sent,) = channel.received
    assert (sent.channel_booking_id, sent.status) == (str(reservation_id), "new")
    assert [room.room_type_code for room in sent.rooms] == ["A"]
    assert sent.total_amount == Decimal("200.00")
    assert sent.guest.name == "Ada Lovelace"
    (push,) = hotel.pushes()
    assert (push.state, push.pushed_revision, push.channel_booking_id) == ("pushed", 1, "B-1")
    assert hotel.run(ScriptedChannel([])) == 0  # nothing left to send


def test_a_room_type_the_connection_does_not_map_queues_nothing(hotel: Hotel) -> None:
    hotel.book(room_index=1)
    assert hotel.pushes() == []


def test_a_connection_with_booking_pushes_off_gets_nothing(hotel: Hotel) -> None:
    with transaction(hotel.db.sessions) as session:
        session.get_one(Connection, hotel.rows.connection_id).push_bookings = False
    hotel.book()
    assert hotel.pushes() == []


def test_an_unavailable_channel_is_retried_with_backoff_and_nothing_is_lost(hotel: Hotel) -> None:
    hotel.book()
    channel = ScriptedChannel([ChannelUnavailableError("down"), ChannelUnavailableError("down")])
    assert hotel.run(channel) == 1
    (push,) = hotel.pushes()
    assert (push.state, push.attempts) == ("pending", 1)
    assert push.next_attempt_at == NOW + FIRST_RETRY
    assert "down" in push.last_error
    # Not due before the backoff ends.
    assert hotel.run(channel, NOW + FIRST_RETRY - timedelta(seconds=1)) == 0
    assert hotel.run(channel, NOW + FIRST_RETRY) == 1
    (push,) = hotel.pushes()
    # The second failure waits twice as long.
    assert (push.attempts, push.next_attempt_at) == (2, NOW + FIRST_RETRY + 2 * FIRST_RETRY)
    channel.outcomes.append("B-9")
    assert hotel.run(channel, NOW + timedelta(minutes=1)) == 1
    (push,) = hotel.pushes()
    assert (push.state, push.attempts, push.last_error) == ("pushed", 0, "")
    assert len(channel.received) == 3


def test_a_refusal_is_kept_on_the_push_told_once_and_not_retried(hotel: Hotel) -> None:
    reservation_id = hotel.book()
    channel = ScriptedChannel([ChannelRejectedError("room closed")])
    hotel.run(channel)
    (push,) = hotel.pushes()
    assert (push.state, push.last_error) == ("refused", "room closed")
    (event,) = hotel.events(kinds.RESERVATION_PUSH_FAILED)
    assert event.payload["reservation_id"] == str(reservation_id)
    assert hotel.run(channel, NOW + timedelta(days=1)) == 0
    # A change of the booking is owed again.
    hotel.change(reservation_id)
    (push,) = hotel.pushes()
    assert (push.state, push.wanted_revision) == ("pending", 2)


def test_refused_credentials_park_the_connection_and_keep_the_push(hotel: Hotel) -> None:
    hotel.book()
    hotel.run(ScriptedChannel([ChannelAuthError("token refused")]))
    (push,) = hotel.pushes()
    assert (push.state, push.attempts) == ("pending", 1)
    assert hotel.connection().state == "needs_attention"
    assert len(hotel.events(kinds.CONNECTION_NEEDS_ATTENTION)) == 1
    # Waiting for a person: not sent, even when due.
    assert hotel.run(ScriptedChannel([]), NOW + PUSH_LEASE * 10) == 0


def test_a_change_made_while_the_push_was_on_the_wire_is_sent_after(hotel: Hotel) -> None:
    reservation_id = hotel.book()
    channel = ScriptedChannel(["B-1", "B-1"])

    def change_once() -> None:
        channel.on_push = None
        hotel.change(reservation_id)

    channel.on_push = change_once
    hotel.run(channel)
    (push,) = hotel.pushes()
    assert (push.state, push.pushed_revision, push.wanted_revision) == ("pending", 1, 2)
    hotel.run(channel)
    (push,) = hotel.pushes()
    assert (push.state, push.pushed_revision) == ("pushed", 2)
    assert [r.status for r in channel.received] == ["new", "modified"]
    assert channel.received[1].departure == ARRIVAL + timedelta(days=3)


def test_a_mapping_removed_before_the_push_refuses_it_without_calling(hotel: Hotel) -> None:
    hotel.book()
    with transaction(hotel.db.sessions) as session:
        connections.set_mappings(
            session, hotel.rows.tenant_id, hotel.rows.connection_id, MappingsWrite()
        )
    channel = ScriptedChannel([])
    assert hotel.run(channel) == 1
    assert channel.received == []
    (push,) = hotel.pushes()
    assert push.state == "refused"
    assert "not mapped" in push.last_error
    assert len(hotel.events(kinds.RESERVATION_PUSH_FAILED)) == 1
