"""Channel revisions against PMS changes: applied, held as conflicts, and resolved, with the
ledger exact and every step audited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.errors import ConflictError
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.reservations.conflicts import resolve_conflict
from innsync.reservations.models import Reservation, ReservationChange, ReservationConflict
from innsync.reservations.schemas import ConflictResolve
from innsync.tenants.service import issue_key
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, booking, encode, make_hotel
from tests.reservations.builders import (
    AFTER_PMS,
    ARRIVAL,
    BEFORE_PMS,
    held_units,
    ingest,
    ledger,
    pms_rebooks,
    revision,
)


@pytest.fixture
def hotel(session: Session, secret_box: SecretBox) -> Hotel:
    return make_hotel(session, secret_box)


def _booked(session: Session, hotel: Hotel) -> Reservation:
    """An OTA booking of one DBL for two nights (200.00), made before the PMS changes it."""
    outcome = ingest(session, hotel.connections[0], revision("B1", 1, BEFORE_PMS))
    return session.get_one(Reservation, outcome.reservation_id)


def _conflicts(session: Session) -> list[ReservationConflict]:
    return list(
        session.scalars(
            select(ReservationConflict)
            .order_by(ReservationConflict.created_at)
            .execution_options(populate_existing=True)
        )
    )


def _changes(session: Session, reservation_id: uuid.UUID) -> list[tuple[str, str]]:
    rows = session.scalars(
        select(ReservationChange)
        .where(ReservationChange.reservation_id == reservation_id)
        .order_by(ReservationChange.id)
    )
    return [(row.action, row.origin) for row in rows]


def _event_kinds(session: Session, hotel: Hotel) -> list[str]:
    return list(
        session.scalars(
            select(Event.kind).where(Event.tenant_id == hotel.tenant_id).order_by(Event.id)
        )
    )


def _exact(session: Session, hotel: Hotel) -> dict[tuple[uuid.UUID, object], int]:
    found = ledger(session, list(hotel.room_types.values()))
    assert found == held_units(session, hotel.property_id)
    return found


def test_a_pms_change_of_a_channel_booking_is_remembered(session: Session, hotel: Hotel) -> None:
    reservation = _booked(session, hotel)
    pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
    assert reservation.pms_base is not None
    assert reservation.pms_base["rooms"][0]["room_type_id"] == str(hotel.room_types["DBL"])
    assert reservation.pms_changed_at is not None
    first = reservation.pms_changed_at
    pms_rebooks(session, reservation.id, [hotel.room_types["DBL"]], amount="90.00")
    assert reservation.pms_base["rooms"][0]["room_type_id"] == str(hotel.room_types["DBL"])
    assert reservation.pms_changed_at >= first


def test_a_newer_channel_revision_of_an_ota_booking_wins(session: Session, hotel: Hotel) -> None:
    reservation = _booked(session, hotel)
    pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
    outcome = ingest(session, hotel.connections[0], revision("B1", 2, AFTER_PMS, nights=3))

    assert outcome.outcome == "modified"
    assert [room.room_type_id for room in reservation.rooms] == [hotel.room_types["DBL"]]
    assert reservation.departure == ARRIVAL + timedelta(days=3)
    assert (reservation.pms_base, reservation.pms_changed_at) == (None, None)
    assert _conflicts(session) == []
    assert _exact(session, hotel) == {
        (hotel.room_types["DBL"], ARRIVAL + timedelta(days=n)): 1 for n in range(3)
    }


def test_the_channel_s_clock_is_never_compared_with_innsync_s(
    session: Session, hotel: Hotel
) -> None:
    # The channel stamps its revision long before the PMS change (its clock is behind), but
    # innsync receives it after the change: the OTA's newer word wins, and nothing is held.
    reservation = _booked(session, hotel)
    pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
    received = utcnow() + timedelta(seconds=1)
    behind = revision("B1", 2, BEFORE_PMS + timedelta(days=1), status="modified", nights=3)

    outcome = ingest(session, hotel.connections[0], behind, received_at=received)

    assert outcome.outcome == "modified"
    assert _conflicts(session) == []
    assert reservation.departure == ARRIVAL + timedelta(days=3)


def test_an_older_contradicting_revision_is_held_with_both_versions(
    session: Session, hotel: Hotel
) -> None:
    reservation = _booked(session, hotel)
    pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]], amount="150.00")
    pms_view = (
        reservation.revision,
        str(reservation.total_amount),
        reservation.rooms[0].room_type_id,
    )
    before = _exact(session, hotel)
    older = revision("B1", 2, BEFORE_PMS, status="modified", nights=3)

    outcome = ingest(session, hotel.connections[0], older, origin="inbox:7")

    assert outcome.outcome == "conflict held"
    assert (
        reservation.revision,
        str(reservation.total_amount),
        reservation.rooms[0].room_type_id,
    ) == pms_view
    assert reservation.departure == ARRIVAL + timedelta(days=2)
    assert _exact(session, hotel) == before
    (conflict,) = _conflicts(session)
    assert (conflict.status, conflict.fields, conflict.origin) == (
        "open",
        ["rooms", "amount"],
        "inbox:7",
    )
    assert conflict.channel_version["revision_id"] == "B1-2"
    assert conflict.channel_version["departure"] == (ARRIVAL + timedelta(days=3)).isoformat()
    assert conflict.pms_version["rooms"][0]["room_type_id"] == str(hotel.room_types["TWN"])
    assert conflict.pms_changed_at == reservation.pms_changed_at
    assert _event_kinds(session, hotel)[-1] == kinds.RESERVATION_CONFLICT
    assert [action for action, _ in _changes(session, reservation.id)] == ["created", "modified"]

    again = ingest(session, hotel.connections[0], older, origin="inbox:8")
    assert again.outcome == "unchanged"
    assert len(_conflicts(session)) == 1


def test_a_channel_cancellation_always_wins(session: Session, hotel: Hotel) -> None:
    reservation = _booked(session, hotel)
    pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
    cancel = revision("B1", 2, BEFORE_PMS, status="cancelled")

    assert ingest(session, hotel.connections[0], cancel).outcome == "cancelled"
    assert reservation.status == "cancelled"
    assert _conflicts(session) == []
    assert _exact(session, hotel) == {}


def test_fields_the_pms_left_alone_are_the_channels_to_change(
    session: Session, hotel: Hotel
) -> None:
    reservation = _booked(session, hotel)
    # The PMS changes the price by 3 % only: no change as far as the rules go.
    pms_rebooks(session, reservation.id, [hotel.room_types["DBL"]], amount="206.00")
    older = revision("B1", 2, BEFORE_PMS, status="modified", arrival=ARRIVAL + timedelta(days=5))

    assert ingest(session, hotel.connections[0], older).outcome == "modified"
    assert reservation.arrival == ARRIVAL + timedelta(days=5)
    assert _conflicts(session) == []
    _exact(session, hotel)


def test_a_newer_revision_supersedes_an_open_conflict(session: Session, hotel: Hotel) -> None:
    reservation = _booked(session, hotel)
    pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
    ingest(session, hotel.connections[0], revision("B1", 2, BEFORE_PMS, status="modified"))
    assert ingest(session, hotel.connections[0], revision("B1", 3, AFTER_PMS)).outcome == "modified"

    (conflict,) = _conflicts(session)
    assert (conflict.status, conflict.resolution) == ("resolved", "superseded")
    assert reservation.rooms[0].room_type_id == hotel.room_types["DBL"]
    with pytest.raises(ConflictError, match="already resolved"):
        resolve_conflict(
            session, hotel.tenant_id, conflict.id, ConflictResolve(accept="channel"), None
        )
    _exact(session, hotel)


def _held(session: Session, hotel: Hotel) -> tuple[Reservation, ReservationConflict, uuid.UUID]:
    """A conflict: the PMS moved B1 to a TWN a day later; the channel (older) made it 3 nights."""
    reservation = _booked(session, hotel)
    key = issue_key(session, hotel.tenant_id, "front desk", ["write"]).key.id
    pms_rebooks(
        session,
        reservation.id,
        [hotel.room_types["TWN"]],
        arrival=ARRIVAL + timedelta(days=1),
        nights=2,
    )
    ingest(session, hotel.connections[0], revision("B1", 2, BEFORE_PMS, nights=3))
    (conflict,) = _conflicts(session)
    assert conflict.fields == ["dates", "rooms", "amount"]
    return reservation, conflict, key


def test_accepting_the_channel_applies_its_revision_and_keeps_the_ledger_exact(
    session: Session, hotel: Hotel
) -> None:
    reservation, conflict, key = _held(session, hotel)
    resolved = resolve_conflict(
        session, hotel.tenant_id, conflict.id, ConflictResolve(accept="channel"), key
    )

    assert (resolved.status, resolved.resolution, resolved.resolved_by_key_id) == (
        "resolved",
        "channel",
        key,
    )
    assert (reservation.arrival, reservation.departure) == (ARRIVAL, ARRIVAL + timedelta(3))
    assert [room.room_type_id for room in reservation.rooms] == [hotel.room_types["DBL"]]
    assert str(reservation.total_amount) == "300.00"
    assert (reservation.pms_base, reservation.pms_changed_at) == (None, None)
    assert _exact(session, hotel) == {
        (hotel.room_types["DBL"], ARRIVAL + timedelta(days=n)): 1 for n in range(3)
    }
    audit = session.scalars(
        select(ReservationChange)
        .where(ReservationChange.reservation_id == reservation.id)
        .order_by(ReservationChange.id)
    ).all()
    last = audit[-1]
    assert (last.action, last.origin, last.actor_key_id) == (
        "modified",
        f"conflict:{conflict.id}",
        key,
    )
    assert set(last.changes) == {"arrival", "total_amount", "rooms"}  # same departure
    assert _event_kinds(session, hotel)[-2:] == [
        kinds.RESERVATION_MODIFIED,
        kinds.RESERVATION_CONFLICT_RESOLVED,
    ]


def test_accepting_the_pms_keeps_the_reservation_and_the_ledger(
    session: Session, hotel: Hotel
) -> None:
    reservation, conflict, key = _held(session, hotel)
    before = (reservation.revision, _exact(session, hotel))

    resolve_conflict(session, hotel.tenant_id, conflict.id, ConflictResolve(accept="pms"), key)

    assert (reservation.revision, _exact(session, hotel)) == before
    assert (reservation.arrival, reservation.rooms[0].room_type_id) == (
        ARRIVAL + timedelta(days=1),
        hotel.room_types["TWN"],
    )
    assert _changes(session, reservation.id)[-1] == ("resolved", f"conflict:{conflict.id}")
    assert _event_kinds(session, hotel)[-1] == kinds.RESERVATION_CONFLICT_RESOLVED
    with pytest.raises(ConflictError, match="already resolved"):
        resolve_conflict(session, hotel.tenant_id, conflict.id, ConflictResolve(accept="pms"), key)


def test_a_merge_takes_the_chosen_fields_from_the_channel(session: Session, hotel: Hotel) -> None:
    reservation, conflict, key = _held(session, hotel)
    resolve_conflict(
        session,
        hotel.tenant_id,
        conflict.id,
        ConflictResolve(accept="merge", fields=["dates", "amount"]),
        key,
    )

    assert (reservation.arrival, reservation.departure) == (ARRIVAL, ARRIVAL + timedelta(3))
    assert [room.room_type_id for room in reservation.rooms] == [hotel.room_types["TWN"]]
    assert str(reservation.total_amount) == "300.00"
    assert str(reservation.rooms[0].amount) == "150.00"
    assert _exact(session, hotel) == {
        (hotel.room_types["TWN"], ARRIVAL + timedelta(days=n)): 1 for n in range(3)
    }
    assert conflict.resolved_fields == ["dates", "amount"]
    assert _changes(session, reservation.id)[-1] == ("modified", f"conflict:{conflict.id}")


def test_a_resolution_onto_full_nights_is_stored_and_flagged_overbooked(
    session: Session, hotel: Hotel
) -> None:
    reservation, conflict, key = _held(session, hotel)
    for number in range(5):  # the channel sells every DBL on the nights B1 would take back
        ingest(session, hotel.connections[0], revision(f"X{number}", 1, AFTER_PMS, nights=3))

    resolve_conflict(session, hotel.tenant_id, conflict.id, ConflictResolve(accept="channel"), key)

    assert reservation.is_overbooked
    assert _event_kinds(session, hotel)[-3:] == [
        kinds.RESERVATION_MODIFIED,
        kinds.OVERBOOKING,
        kinds.RESERVATION_CONFLICT_RESOLVED,
    ]
    _exact(session, hotel)


def test_the_processor_settles_a_held_revision_as_applied(db: Db, secret_box: SecretBox) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.commit()
    processing = Processing(db.sessions, secret_box)
    first = booking("B1", 1)
    first["revised_at"] = BEFORE_PMS.isoformat()
    processing.deliver(hotel.tokens[0], encode(first))
    processing.run()
    # The revision reaches innsync's inbox before the PMS changes the booking, and is processed
    # after: the PMS change is the newer one on innsync's clock, so the revision is held.
    older = booking("B1", 2, "modified", nights=3)
    older["revised_at"] = (BEFORE_PMS + timedelta(minutes=1)).isoformat()
    processing.deliver(hotel.tokens[0], encode(older))
    with db.sessions() as session:
        reservation = session.scalars(select(Reservation)).one()
        pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
        session.commit()
    assert processing.run() == 1

    with db.sessions() as session:
        items = session.scalars(select(InboxItem).order_by(InboxItem.id)).all()
        assert [(item.status, item.reason) for item in items] == [
            ("applied", "created"),
            ("applied", "conflict held"),
        ]
        (conflict,) = _conflicts(session)
        assert conflict.origin == f"inbox:{items[1].id}"
