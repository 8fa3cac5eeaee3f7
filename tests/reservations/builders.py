"""Builders for conflict tests: channel revisions at chosen times, PMS changes, ledger checks."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.types import BookedRoom, BookingRevision, GuestDetails
from innsync.connections.models import Connection
from innsync.inventory.models import InventoryLedgerDay
from innsync.reservations.channel import RevisionOutcome, ingest_revision
from innsync.reservations.models import Reservation, ReservationConflict
from innsync.reservations.schemas import ReservationUpdate, RoomIn
from innsync.reservations.service import modify_direct

# Channel revisions made long before, or long after, any PMS change a test makes now.
BEFORE_PMS = datetime(2001, 1, 1, tzinfo=UTC)
AFTER_PMS = datetime(2190, 1, 1, tzinfo=UTC)
ARRIVAL = date(2031, 3, 1)


def revision(
    booking_id: str,
    number: int,
    at: datetime,
    *,
    status: str = "new",
    arrival: date = ARRIVAL,
    nights: int = 2,
    rooms: tuple[tuple[str, str | None], ...] = (("DBL", "DBL-BAR"),),
    price: str = "100.00",
    guest: str = "Ada Lovelace",
) -> BookingRevision:
    """Revision ``number`` of a booking, made ``number`` minutes after ``at``."""
    stay = [arrival + timedelta(days=offset) for offset in range(nights)]
    return BookingRevision(
        channel_booking_id=booking_id,
        revision_id=f"{booking_id}-{number}",
        status=status,  # type: ignore[arg-type]
        arrival=arrival,
        departure=arrival + timedelta(days=nights),
        rooms=tuple(
            BookedRoom(code, rate, 2, tuple((night, Decimal(price)) for night in stay))
            for code, rate in rooms
        ),
        guest=GuestDetails(name=guest, email=f"{guest.split()[0].lower()}@example.com"),
        total_amount=Decimal(price) * nights * len(rooms),
        currency="EUR",
        received_at=at + timedelta(minutes=number),
    )


def ingest(
    session: Session,
    connection_id: uuid.UUID,
    booked: BookingRevision,
    origin: str = "inbox:1",
    received_at: datetime | None = None,
) -> RevisionOutcome:
    """Ingest ``booked`` as if innsync received it at ``received_at`` (by default at the
    revision's own time, so BEFORE_PMS / AFTER_PMS say when innsync got it)."""
    connection = session.get_one(Connection, connection_id)
    return ingest_revision(session, connection, booked, origin, received_at or booked.received_at)


def pms_rebooks(
    session: Session,
    reservation_id: uuid.UUID,
    room_type_ids: list[uuid.UUID],
    amount: str = "150.00",
    arrival: date | None = None,
    nights: int | None = None,
    key_id: uuid.UUID | None = None,
) -> Reservation:
    """The PMS changes a channel booking: its rooms (priced by hand) and perhaps its dates."""
    reservation = session.get_one(Reservation, reservation_id)
    departure = None
    if arrival is not None and nights is not None:
        departure = arrival + timedelta(days=nights)
    return modify_direct(
        session,
        reservation.tenant_id,
        reservation_id,
        ReservationUpdate(
            arrival=arrival,
            departure=departure,
            rooms=[
                RoomIn(room_type_id=room_type_id, adults=2, amount=Decimal(amount))
                for room_type_id in room_type_ids
            ],
        ),
        key_id,
    )


def ledger(session: Session, room_type_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, date], int]:
    """Units sold per room type and night, nights at zero left out."""
    rows = session.scalars(
        select(InventoryLedgerDay)
        .where(InventoryLedgerDay.room_type_id.in_(room_type_ids))
        .execution_options(populate_existing=True)
    )
    return {(row.room_type_id, row.stay_date): row.sold for row in rows if row.sold}


def held_units(session: Session, property_id: uuid.UUID) -> dict[tuple[uuid.UUID, date], int]:
    """What the ledger must say: one unit per room and night of every confirmed reservation."""
    held: Counter[tuple[uuid.UUID, date]] = Counter()
    reservations = session.scalars(
        select(Reservation)
        .where(Reservation.property_id == property_id, Reservation.status == "confirmed")
        .execution_options(populate_existing=True)
    )
    for reservation in reservations:
        for room in reservation.rooms:
            night = reservation.arrival
            while night < reservation.departure:
                held[(room.room_type_id, night)] += 1
                night += timedelta(days=1)
    return dict(held)


def conflict_through_api(
    client: TestClient,
    sessions: sessionmaker[Session],
    headers: dict[str, str],
    connection_id: str,
    room_type_id: str,
    codes: tuple[str, str | None] = ("DBL", "DBL-BAR"),
    booking_id: str = "OTA-1",
) -> tuple[str, str]:
    """A channel booking the PMS re-priced through the API, then an older channel revision that
    says otherwise: returns the reservation's and the held conflict's ids."""
    arrival = datetime.now(UTC).date() + timedelta(days=40)
    with sessions() as session:
        created = ingest(
            session,
            uuid.UUID(connection_id),
            revision(booking_id, 1, BEFORE_PMS, arrival=arrival, rooms=(codes,)),
        )
        session.commit()
    reservation_id = str(created.reservation_id)
    response = client.patch(
        f"/api/v1/reservations/{reservation_id}",
        json={"rooms": [{"room_type_id": room_type_id, "adults": 2, "amount": "500.00"}]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    with sessions() as session:
        older = revision(
            booking_id, 2, BEFORE_PMS, status="modified", arrival=arrival, rooms=(codes,)
        )
        assert ingest(session, uuid.UUID(connection_id), older).outcome == "conflict held"
        conflict_id = session.scalars(
            select(ReservationConflict.id).where(
                ReservationConflict.reservation_id == created.reservation_id
            )
        ).one()
        session.commit()
    return reservation_id, str(conflict_id)
