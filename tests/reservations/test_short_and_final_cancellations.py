"""Cancellations that name only the booking (``BookingCancellation``), and channels whose
cancellations are final (``CancelsForGood``), applied by ``reservations/channel.py``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from innsync.channels.types import BookingCancellation
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.reservations.channel import RevisionOutcome, ingest_cancellation, ingest_revision
from innsync.reservations.models import Reservation
from innsync.reservations.service import cancel_direct
from tests.inbound.builders import Hotel, make_hotel
from tests.reservations.builders import (
    AFTER_PMS,
    ARRIVAL,
    BEFORE_PMS,
    held_units,
    ledger,
    revision,
)


@pytest.fixture
def hotel(session: Session, secret_box: SecretBox) -> Hotel:
    return make_hotel(session, secret_box)


def short_cancel(booking_id: str, minutes: int) -> BookingCancellation:
    return BookingCancellation(
        channel_booking_id=booking_id,
        revision_id=f"{booking_id}-cancel",
        received_at=BEFORE_PMS + timedelta(minutes=minutes),
        currency="EUR",
        ota_name="Agoda",
    )


def apply(session: Session, hotel: Hotel, message: object, *, final: bool) -> RevisionOutcome:
    connection = session.get_one(Connection, hotel.connections[0])
    if isinstance(message, BookingCancellation):
        return ingest_cancellation(
            session, connection, message, "inbox:1", message.received_at, final_cancellations=final
        )
    return ingest_revision(
        session,
        connection,
        message,  # type: ignore[arg-type]
        "inbox:1",
        message.received_at,  # type: ignore[attr-defined]
        final_cancellations=final,
    )


def exact(session: Session, hotel: Hotel) -> dict[object, int]:
    found = ledger(session, list(hotel.room_types.values()))
    assert found == held_units(session, hotel.property_id)
    return dict(found)


@pytest.mark.parametrize("final", [False, True])
def test_a_short_cancel_of_a_known_booking_keeps_its_stay_amount_and_details(
    session: Session, hotel: Hotel, final: bool
) -> None:
    booked = apply(session, hotel, revision("B1", 1, BEFORE_PMS, nights=3), final=final)
    outcome = apply(session, hotel, short_cancel("B1", 5), final=final)

    assert (outcome.outcome, outcome.reservation_id) == ("cancelled", booked.reservation_id)
    reservation = session.get_one(Reservation, booked.reservation_id)
    assert reservation.status == "cancelled"
    assert (reservation.arrival, reservation.departure) == (ARRIVAL, ARRIVAL + timedelta(3))
    assert reservation.total_amount == Decimal("300.00")
    assert reservation.guest_id is not None
    assert reservation.ota_name == "Agoda"
    assert exact(session, hotel) == {}
    # Delivered again: nothing changes.
    assert apply(session, hotel, short_cancel("B1", 5), final=final).outcome == "unchanged"


def test_a_short_cancel_of_an_unknown_booking_is_a_tombstone_the_late_book_cannot_revive(
    session: Session, hotel: Hotel
) -> None:
    tomb = apply(session, hotel, short_cancel("B2", 5), final=True)
    assert tomb.outcome == "cancelled"
    reservation = session.get_one(Reservation, tomb.reservation_id)
    assert reservation.status == "cancelled"
    assert reservation.total_amount == Decimal("0.00")
    assert reservation.arrival == BEFORE_PMS.date()

    # The book delivered late is even dated after the cancel here: still not live.
    late = apply(session, hotel, revision("B2", 1, AFTER_PMS), final=True)
    assert late.outcome == "stale"
    assert reservation.status == "cancelled"
    assert exact(session, hotel) == {}


def test_without_final_cancellations_a_newer_revision_still_revives(
    session: Session, hotel: Hotel
) -> None:
    # Channex and the others keep "newest wins": their revisions carry the channel's time.
    apply(session, hotel, revision("B3", 1, BEFORE_PMS), final=False)
    apply(session, hotel, revision("B3", 2, BEFORE_PMS, status="cancelled"), final=False)
    revived = apply(session, hotel, revision("B3", 3, BEFORE_PMS), final=False)
    assert revived.outcome == "modified"
    assert session.get_one(Reservation, revived.reservation_id).status == "confirmed"


def test_with_final_cancellations_a_later_modify_is_stale(session: Session, hotel: Hotel) -> None:
    apply(session, hotel, revision("B4", 1, BEFORE_PMS), final=True)
    apply(session, hotel, revision("B4", 2, BEFORE_PMS, status="cancelled"), final=True)
    late = apply(session, hotel, revision("B4", 3, BEFORE_PMS, nights=4), final=True)
    assert late.outcome == "stale"
    reservation = session.get_one(Reservation, late.reservation_id)
    assert (reservation.status, reservation.departure) == ("cancelled", ARRIVAL + timedelta(2))
    assert exact(session, hotel) == {}


def test_a_booking_the_pms_cancelled_still_meets_the_conflict_rules(
    session: Session, hotel: Hotel
) -> None:
    # Final cancellations are the channel's own: a PMS cancellation of an OTA booking is weighed
    # by the conflict rules as for any channel, and a newer OTA revision wins.
    booked = apply(session, hotel, revision("B5", 1, BEFORE_PMS), final=True)
    cancel_direct(session, hotel.tenant_id, booked.reservation_id)
    newer = apply(session, hotel, revision("B5", 2, AFTER_PMS, nights=3), final=True)
    assert newer.outcome == "modified"
    reservation = session.get_one(Reservation, booked.reservation_id)
    assert (reservation.status, reservation.departure) == ("confirmed", ARRIVAL + timedelta(3))
