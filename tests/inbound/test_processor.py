"""The processor applies channel revisions: create, modify, cancel, tombstones, parking,
overbooking, rejection and retries, each item in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.channels.errors import (
    ChannelAuthError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.personal import personal_hash
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import GIVE_UP_AFTER, MAX_ATTEMPTS
from innsync.outbox.models import AVAILABILITY, DirtyMark
from innsync.reservations.models import Guest, ReservationChange
from tests.conftest import Db
from tests.inbound.builders import (
    ARRIVAL,
    Hotel,
    Processing,
    booking,
    encode,
    ledger_of,
    make_hotel,
    map_all,
    reservations_of,
)


@pytest.fixture
def setup(db: Db, secret_box: SecretBox) -> tuple[Processing, Hotel]:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.commit()
    return Processing(db.sessions, secret_box), hotel


def event_kinds(session: Session, hotel: Hotel) -> list[str]:
    return list(
        session.scalars(
            select(Event.kind).where(Event.tenant_id == hotel.tenant_id).order_by(Event.id)
        )
    )


def only_item(session: Session) -> InboxItem:
    return session.scalars(select(InboxItem).execution_options(populate_existing=True)).one()


def nights(
    code: str, start_offset: int, count: int, sold: int = 1
) -> dict[tuple[str, object], int]:
    return {(code, ARRIVAL + timedelta(days=start_offset + n)): sold for n in range(count)}


def test_a_new_booking_is_stored_with_ledger_guest_audit_and_event(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    assert processing.deliver(hotel.tokens[0], encode(booking("B1"))) == "stored"
    assert processing.run() == 1

    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        item = only_item(session)
        assert (item.status, item.reason, item.attempts) == ("applied", "created", 1)
        assert reservation.source == str(hotel.connections[0])
        assert (reservation.status, reservation.channel_booking_id) == ("confirmed", "B1")
        assert (reservation.arrival, reservation.departure) == (ARRIVAL, ARRIVAL + timedelta(2))
        assert reservation.channel_revision_id == "B1-1"
        assert not reservation.is_overbooked
        assert [(r.room_type_id, r.adults, str(r.amount)) for r in reservation.rooms] == [
            (hotel.room_types["DBL"], 2, "200.00")
        ]
        assert reservation.rooms[0].rate_plan_id == hotel.rate_plans["DBL-BAR"]
        assert str(reservation.total_amount) == "200.00"
        guest = session.get_one(Guest, reservation.guest_id)
        assert (guest.first_name, guest.last_name, guest.email) == (
            "Ada",
            "Lovelace",
            "ada@example.com",
        )
        assert guest.email_hash == personal_hash("ada@example.com")
        assert ledger_of(session, hotel) == nights("DBL", 0, 2)
        changes = session.scalars(select(ReservationChange)).all()
        assert [(c.action, c.origin) for c in changes] == [("created", f"inbox:{item.id}")]
        assert event_kinds(session, hotel) == [kinds.RESERVATION_CREATED]
        marks = session.scalars(
            select(DirtyMark).where(DirtyMark.connection_id == hotel.connections[0])
        ).all()
        assert any(
            m.kind == AVAILABILITY and m.subject_id == hotel.room_types["DBL"] for m in marks
        )


def test_a_modification_moves_the_ledger_by_the_difference(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1", nights=3)))
    changed = booking("B1", 2, "modified", arrival=ARRIVAL + timedelta(1), rooms=["DBL", "TWN"])
    processing.deliver(hotel.tokens[0], encode(changed))
    assert processing.run() == 2

    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        assert (reservation.arrival, reservation.departure) == (
            ARRIVAL + timedelta(1),
            ARRIVAL + timedelta(3),
        )
        assert [room.room_type_id for room in reservation.rooms] == [
            hotel.room_types["DBL"],
            hotel.room_types["TWN"],
        ]
        assert reservation.revision == 2
        assert ledger_of(session, hotel) == nights("DBL", 1, 2) | nights("TWN", 1, 2)
        assert event_kinds(session, hotel) == [
            kinds.RESERVATION_CREATED,
            kinds.RESERVATION_MODIFIED,
        ]
        modified = session.scalars(
            select(ReservationChange).where(ReservationChange.action == "modified")
        ).one()
        assert set(modified.changes) == {"arrival", "rooms", "total_amount"}


def test_a_cancellation_gives_the_units_back(setup: tuple[Processing, Hotel], db: Db) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    processing.deliver(hotel.tokens[0], encode(booking("B1", 2, "cancelled")))
    processing.run()

    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        assert (reservation.status, reservation.revision) == ("cancelled", 2)
        assert ledger_of(session, hotel) == {}
        assert event_kinds(session, hotel) == [
            kinds.RESERVATION_CREATED,
            kinds.RESERVATION_CANCELLED,
        ]


def test_a_cancellation_shows_what_it_says_even_without_rooms(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    bare = booking("B1", 2, "cancelled", arrival=ARRIVAL + timedelta(30)) | {"rooms": []}
    processing.deliver(hotel.tokens[0], encode(bare))
    processing.run()

    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        assert (reservation.status, reservation.arrival) == ("cancelled", ARRIVAL + timedelta(30))
        assert reservation.rooms == []
        assert ledger_of(session, hotel) == {}
        cancelled = session.scalars(
            select(ReservationChange).where(ReservationChange.action == "cancelled")
        ).one()
        assert len(cancelled.changes["rooms"][0]) == 1  # the audit trail keeps the old rooms


def test_an_unmapped_room_does_not_hold_up_a_cancellation(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1", rooms=["DBL"])))
    processing.deliver(hotel.tokens[0], encode(booking("B1", 2, "cancelled", rooms=["DBL", "X"])))
    processing.run()
    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        assert reservation.status == "cancelled"
        assert [room.room_type_id for room in reservation.rooms] == [hotel.room_types["DBL"]]
        assert ledger_of(session, hotel) == {}


def test_a_cancellation_before_its_booking_leaves_a_tombstone(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1", 2, "cancelled")))
    processing.run()
    processing.deliver(hotel.tokens[0], encode(booking("B1", 1, "new")))
    processing.run()

    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        assert (reservation.status, reservation.channel_revision_id) == ("cancelled", "B1-2")
        assert ledger_of(session, hotel) == {}
        late = session.scalars(select(InboxItem).order_by(InboxItem.id.desc())).first()
        assert late is not None
        assert (late.status, late.reason) == (
            "ignored",
            "nothing newer than the revisions already stored",
        )
        assert event_kinds(session, hotel) == [kinds.RESERVATION_CANCELLED]


def test_replays_and_redeliveries_change_nothing(setup: tuple[Processing, Hotel], db: Db) -> None:
    processing, hotel = setup
    first, second = booking("B1"), booking("B1", 2, "modified", nights=4)
    processing.deliver(hotel.tokens[0], encode(first))
    processing.deliver(hotel.tokens[0], encode(second))
    assert processing.deliver(hotel.tokens[0], encode(second)) == "duplicate"
    processing.deliver(hotel.tokens[0], encode(second, variant=2))  # same revision, other bytes
    processing.deliver(hotel.tokens[0], encode(first, variant=2))  # an old revision replayed
    assert processing.run() == 4

    with db.sessions() as session:
        statuses = [item.status for item in session.scalars(select(InboxItem).order_by("id"))]
        assert statuses == ["applied", "applied", "ignored", "ignored"]
        (reservation,) = reservations_of(session, hotel.property_id)
        assert reservation.departure == ARRIVAL + timedelta(4)
        assert reservation.revision == 2
        assert ledger_of(session, hotel) == nights("DBL", 0, 4)


def test_an_unmapped_code_parks_the_item_until_mappings_change(
    db: Db, secret_box: SecretBox
) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, mapped=False)
        session.commit()
    processing = Processing(db.sessions, secret_box)
    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    processing.run()

    with db.sessions() as session:
        item = only_item(session)
        assert item.status == "parked"
        assert item.reason == "room 0: room code 'DBL' is not mapped"
        assert reservations_of(session, hotel.property_id) == []
        assert ledger_of(session, hotel) == {}
        alert = session.scalars(select(Event).where(Event.tenant_id == hotel.tenant_id)).one()
        assert alert.kind == kinds.CONNECTION_NEEDS_ATTENTION
        assert alert.payload["inbox_item_id"] == item.id
        assert alert.payload["status"] == "parked"
        assert session.get_one(Connection, hotel.connections[0]).state == "pending"

    with db.sessions() as session:
        map_all(session, hotel, hotel.connections[0])
        session.commit()
    assert processing.run() == 1
    with db.sessions() as session:
        assert only_item(session).status == "applied"
        (reservation,) = reservations_of(session, hotel.property_id)
        assert reservation.status == "confirmed"
        assert ledger_of(session, hotel) == nights("DBL", 0, 2)


def test_a_rate_code_of_another_room_type_is_parked(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    body = booking("B1")
    body["rooms"][0]["rate_plan"] = "TWN-BAR"
    processing.deliver(hotel.tokens[0], encode(body))
    processing.run()
    with db.sessions() as session:
        item = only_item(session)
        assert item.status == "parked"
        assert "mapped to a plan of another room type" in item.reason


def test_a_booking_that_does_not_fit_is_stored_and_flagged(db: Db, secret_box: SecretBox) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, units={"DBL": 1}, connections=2)
        session.commit()
    processing = Processing(db.sessions, secret_box)
    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    processing.deliver(hotel.tokens[1], encode(booking("B2", nights=3)))
    processing.run()

    with db.sessions() as session:
        first, second = reservations_of(session, hotel.property_id)
        assert (first.is_overbooked, second.is_overbooked) == (False, True)
        assert ledger_of(session, hotel) == nights("DBL", 0, 2, sold=2) | nights("DBL", 2, 1)
        assert [item.reason for item in session.scalars(select(InboxItem).order_by("id"))] == [
            "created",
            "created (overbooked)",
        ]
        alert = session.scalars(select(Event).where(Event.kind == kinds.OVERBOOKING)).one()
        assert alert.payload["reservation_id"] == str(second.id)
        assert alert.payload["nights"] == [
            {
                "room_type_id": str(hotel.room_types["DBL"]),
                "stay_date": (ARRIVAL + timedelta(n)).isoformat(),
                "short_by": 1,
            }
            for n in range(2)
        ]
        for connection_id in hotel.connections:  # availability 0 goes to every channel
            assert session.scalar(
                select(func.count()).where(
                    DirtyMark.connection_id == connection_id,
                    DirtyMark.kind == AVAILABILITY,
                    DirtyMark.start <= ARRIVAL,
                    DirtyMark.end >= ARRIVAL + timedelta(3),
                )
            )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "the body is not JSON"),
        (encode(booking("B1", nights=400)), "a stay of 400 nights exceeds 365"),
        (encode(booking("B1") | {"booking_id": "B\x00"}), "the booking id must be printable"),
        (encode(booking("B1") | {"total": "1e20"}), "the total exceeds"),
    ],
)
def test_a_malformed_message_is_rejected_with_a_reason(
    setup: tuple[Processing, Hotel], db: Db, body: bytes, reason: str
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], body)
    processing.run()
    with db.sessions() as session:
        item = only_item(session)
        assert item.status == "rejected"
        assert reason in item.reason
        assert reservations_of(session, hotel.property_id) == []
        assert event_kinds(session, hotel) == [kinds.CONNECTION_NEEDS_ATTENTION]


def test_an_unavailable_channel_is_retried_then_parked(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1")))

    class Unavailable:
        name = "fake"

        async def parse_webhook(self, headers: object, body: bytes) -> list[object]:
            raise ChannelUnavailableError("down", retry_after=30)

        def verify_webhook(self, headers: object, body: bytes) -> None:
            return None

    down = Processing(db.sessions, processing.box, adapter=Unavailable())
    assert down.run() == 1
    with db.sessions() as session:
        item = only_item(session)
        assert (item.status, item.attempts) == ("pending", 1)
        assert item.reason == "channel unavailable: down"
        assert item.not_before is not None
        assert item.not_before >= utcnow() + timedelta(seconds=29)
        item.attempts, item.not_before = MAX_ATTEMPTS, None
        item.received_at = utcnow() - GIVE_UP_AFTER
        session.commit()
    assert down.run() == 0  # the item is parked at claim time, not taken
    with db.sessions() as session:
        item = only_item(session)
        assert item.status == "parked"
        assert item.reason.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


def test_an_adapter_without_webhooks_rejects_the_item(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1")))

    class PushOnly:
        name = "push-only"

    processing.adapter = PushOnly()
    processing.run()
    with db.sessions() as session:
        assert only_item(session).reason == "the push-only channel does not take webhooks"


def test_guest_details_are_cleaned_before_matching(setup: tuple[Processing, Hotel], db: Db) -> None:
    processing, hotel = setup
    body = booking("B1")
    body["guest"] = {"name": "Grace\x00 Hopper", "email": "x" * 400, "phone": "\ud800"}
    processing.deliver(hotel.tokens[0], json.dumps(body).encode())
    processing.run()
    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        guest = session.get_one(Guest, reservation.guest_id)
        assert (guest.first_name, guest.last_name, guest.email) == ("Grace", "Hopper", None)


class Stub:
    """An adapter whose parsing gives ``outcome`` (or raises it), after running ``meanwhile``."""

    name = "stub"

    def __init__(self, outcome: object, meanwhile: Callable[[], None] | None = None) -> None:
        self.outcome, self.meanwhile = outcome, meanwhile

    def verify_webhook(self, headers: object, body: bytes) -> None:
        return None

    async def parse_webhook(self, headers: object, body: bytes) -> object:
        if self.meanwhile is not None:
            self.meanwhile()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        (
            ChannelAuthError("key revoked"),
            "pending",
            "channel refused the credentials: key revoked",
        ),
        (MappingMissingError("no code for X"), "parked", "no code for X"),
        (ValueError("no rooms"), "rejected", "the message holds an invalid revision: no rooms"),
        ([], "ignored", "the message holds no booking revision"),
    ],
)
def test_what_the_adapter_says_settles_the_item(
    setup: tuple[Processing, Hotel], db: Db, outcome: object, status: str, reason: str
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    Processing(db.sessions, processing.box, adapter=Stub(outcome)).run()
    with db.sessions() as session:
        item = only_item(session)
        assert (item.status, item.reason) == (status, reason)
        assert reservations_of(session, hotel.property_id) == []


@pytest.mark.parametrize(
    "outcome", [[], ChannelUnavailableError("down"), MappingMissingError("no code")]
)
def test_an_item_settled_meanwhile_is_left_alone(
    setup: tuple[Processing, Hotel], db: Db, outcome: object
) -> None:
    processing, hotel = setup
    processing.deliver(hotel.tokens[0], encode(booking("B1")))

    def settle_elsewhere() -> None:  # another processor, after this one's lease ran out
        with db.sessions() as session:
            only_item(session).status = "applied"
            session.commit()

    Processing(db.sessions, processing.box, adapter=Stub(outcome, settle_elsewhere)).run()
    with db.sessions() as session:
        assert (only_item(session).status, only_item(session).reason) == ("applied", "")
        assert event_kinds(session, hotel) == []


def test_an_unmapped_rate_code_parks_and_a_booking_may_come_without_guest(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, hotel = setup
    body = booking("B1") | {"guest": {}}
    body["rooms"][0]["rate_plan"] = "NOPE"
    processing.deliver(hotel.tokens[0], encode(body))
    body["rooms"][0]["rate_plan"] = "DBL-BAR"
    processing.deliver(hotel.tokens[0], encode(body))
    processing.run()
    with db.sessions() as session:
        parked, applied = session.scalars(select(InboxItem).order_by(InboxItem.id)).all()
        assert (parked.status, parked.reason) == (
            "parked",
            "room 0: rate code 'NOPE' is not mapped",
        )
        assert applied.status == "applied"
        (reservation,) = reservations_of(session, hotel.property_id)
        assert reservation.guest_id is None
