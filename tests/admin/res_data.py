"""Bookings for the reservations and conflicts pages, made through the real inbound path.

Fake-channel webhooks are received into the inbox and processed (so each revision links to the
inbox item that kept its raw body); a conflict is held the way it happens in production: a
revision waits in the inbox while the PMS changes the booking, then the processor finds the two
disagree. A direct booking and a guest erased on request complete the picture.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.privacy.erasure import erase_reservation_guest
from innsync.reservations.models import Reservation, ReservationConflict
from innsync.reservations.schemas import GuestIn, ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.tenants.users import create_user
from tests.admin.hotels import PASSWORD, PASSWORDS
from tests.inbound.builders import Processing, booking, encode, make_hotel
from tests.reservations.builders import pms_rebooks


@dataclass
class Bookings:
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_id: uuid.UUID
    arrival: date
    conflicted: uuid.UUID  # OTA-100: the PMS re-dated and re-priced it; a revision is held
    conflict_id: uuid.UUID
    erased: uuid.UUID  # OTA-200: its guest was erased
    direct: uuid.UUID  # booked in the PMS (Alan Turing), owed to the channel
    emails: dict[str, str] = field(default_factory=dict)  # role -> e-mail


def _processed(processing: Processing) -> int:
    """Process the inbox in a thread of its own: the processor runs an event loop, and a
    browser test's thread already has Playwright's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(processing.run).result()


def _reservation(session: Session, tenant_id: uuid.UUID, booking_id: str) -> uuid.UUID:
    return session.scalars(
        select(Reservation.id).where(
            Reservation.tenant_id == tenant_id, Reservation.channel_booking_id == booking_id
        )
    ).one()


def build_bookings(
    sessions: sessionmaker[Session], box: SecretBox, name: str, conflicts: int = 1
) -> Bookings:
    """A tenant with one property, a fake connection, users of each role and bookings: OTA-200
    (its guest erased), a direct one, and ``conflicts`` conflicted ones from OTA-100 on."""
    arrival = datetime.now(UTC).date() + timedelta(days=40)
    with transaction(sessions) as session:
        hotel = make_hotel(session, box, units={"DBL": 4 + conflicts})
        slug = uuid.uuid4().hex[:8]
        emails = {}
        for role in ("owner", "manager", "read_only"):
            emails[role] = f"{role}-{name}-{slug}@hotel.example"
            create_user(session, PASSWORDS, hotel.tenant_id, emails[role], PASSWORD, role)
    processing = Processing(sessions, box)
    token = hotel.tokens[0]
    held = [f"OTA-{100 + number}" for number in range(conflicts)]
    for booking_id in held:
        processing.deliver(token, encode(booking(booking_id, 1, arrival=arrival)))
    processing.deliver(token, encode(booking("OTA-200", 1, arrival=arrival, guest="Grace Hopper")))
    assert _processed(processing) == 1 + conflicts
    # A channel revision is received, and before it is processed the PMS changes the booking:
    # the revision is older than the PMS change and contradicts its dates and amount.
    for booking_id in held:
        later = booking(booking_id, 2, "modified", arrival=arrival, nights=3, price="120.00")
        processing.deliver(token, encode(later | {"guest": {"name": "Ada King"}}))
    dbl = hotel.room_types["DBL"]
    with transaction(sessions) as session:
        conflicted = [_reservation(session, hotel.tenant_id, booking_id) for booking_id in held]
        erased = _reservation(session, hotel.tenant_id, "OTA-200")
        for reservation_id in conflicted:
            pms_rebooks(session, reservation_id, [dbl], "500.00", arrival + timedelta(days=1), 2)
    assert _processed(processing) == conflicts
    with transaction(sessions) as session:
        conflict_id = session.scalars(
            select(ReservationConflict.id).where(
                ReservationConflict.reservation_id == conflicted[0]
            )
        ).one()
        erase_reservation_guest(session, hotel.tenant_id, erased, "test")
        # The channel takes bookings from innsync: the direct one is queued for it.
        session.get_one(Connection, hotel.connections[0]).push_bookings = True
        direct = create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(
                arrival=arrival,
                departure=arrival + timedelta(days=1),
                rooms=[RoomIn(room_type_id=dbl, adults=1, amount=Decimal("90.00"))],
                guest=GuestIn(first_name="Alan", last_name="Turing", email="alan@example.com"),
            ),
        )
    return Bookings(
        tenant_id=hotel.tenant_id,
        property_id=hotel.property_id,
        room_type_id=dbl,
        arrival=arrival,
        conflicted=conflicted[0],
        conflict_id=conflict_id,
        erased=erased,
        direct=direct.id,
        emails=emails,
    )
