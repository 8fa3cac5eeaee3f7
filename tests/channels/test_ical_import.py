"""iCal import through the real pull path: reconciler -> inbox -> processor, on each database."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from innsync.channels.ical import IcalChannel, IcalConfig
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.connections.schemas import MappingsWrite, RoomTypeMappingIn
from innsync.connections.service import delete_connection, set_mappings
from innsync.crypto import SecretBox
from innsync.events import kinds
from innsync.events.models import Event
from innsync.ical_export.service import busy_events
from innsync.inbox import reconciler
from innsync.inbox.models import InboxItem, PullCursor
from innsync.inventory.availability import day_counts
from innsync.inventory.models import CHANNEL_CLOSED, Block
from innsync.properties.models import RoomType
from innsync.stay_dates import DateRange
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, make_hotel, reservations_of

URL = "https://www.airbnb.test/calendar/ical/42.ics?s=0123456789abcdef"


def on(offset: int) -> str:
    return f"{datetime.now(UTC).date() + timedelta(days=offset):%Y%m%d}"


def iso(offset: int) -> date:
    return datetime.now(UTC).date() + timedelta(days=offset)


def feed(*events: tuple[str, int, int, str]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Airbnb Inc//Hosting Calendar//EN"]
    for uid, start, end, summary in events:
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;VALUE=DATE:{on(start)}",
            f"DTEND;VALUE=DATE:{on(end)}",
            f"UID:{uid}",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


class Feed:
    def __init__(self, body: bytes) -> None:
        self.body, self.status = body, 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status, content=self.body, headers={"etag": f'"{len(self.body)}"'}
        )


class Setup:
    def __init__(self, db: Db, box: SecretBox, platform: Feed) -> None:
        self.db, self.box, self.platform = db, box, platform
        # Frozen: the adapter and the reconciler read this clock; a test moves it.
        self.now = datetime.now(UTC).replace(microsecond=0)
        with db.sessions() as session:
            self.hotel: Hotel = make_hotel(session, box, units={"DBL": 1}, connections=0)
            connection = Connection(
                id=uuid.uuid4(),
                tenant_id=self.hotel.tenant_id,
                property_id=self.hotel.property_id,
                channel="ical",
                name="Airbnb",
                config_encrypted=box.encrypt(
                    IcalConfig(feed_url=SecretStr(URL), platform="Airbnb").model_dump_json()
                ),
                push_enabled=False,
                state="connected",
                state_reason="",
                webhook_token=secrets.token_urlsafe(32),
                bucket_key="ical:test",
                consecutive_failures=0,
            )
            session.add(connection)
            session.flush()
            set_mappings(
                session,
                self.hotel.tenant_id,
                connection.id,
                MappingsWrite(
                    room_types=[
                        RoomTypeMappingIn(
                            room_type_id=self.hotel.room_types["DBL"], channel_code="listing"
                        )
                    ],
                    rate_plans=[],
                ),
            )
            session.commit()
            self.connection_id = connection.id
        self.restart()

    def restart(self) -> None:
        """A new adapter (a new process): only the database carries state over."""
        adapter = IcalChannel(
            IcalConfig(feed_url=SecretStr(URL), platform="Airbnb"),
            httpx.AsyncClient(transport=httpx.MockTransport(self.platform.handler)),
            credentials=DatabaseCredentialStore(self.db.sessions, self.box, self.connection_id),
            now=lambda: self.now,
        )
        self.processing = Processing(self.db.sessions, self.box, adapter=adapter)

    def pull(self) -> None:
        self.now += timedelta(seconds=1)  # time passes between reads (revisions are ordered by it)
        with self.db.sessions() as session:  # due now, whatever the cadence says
            session.execute(
                update(PullCursor).values(next_pull_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
            session.commit()
        asyncio.run(
            reconciler.pull_due(
                self.db.sessions, self.processing.adapter_for, clock=lambda: self.now
            )
        )
        self.processing.run()

    def bookings(self) -> dict[str, tuple[str, date, date]]:
        with self.db.sessions() as session:
            return {
                str(r.channel_booking_id): (r.status, r.arrival, r.departure)
                for r in reservations_of(session, self.hotel.property_id)
            }

    def events(self) -> Counter[str]:
        with self.db.sessions() as session:
            return Counter(session.scalars(select(Event.kind)))

    def inbox_size(self) -> int:
        with self.db.sessions() as session:
            return len(list(session.scalars(select(InboxItem.id))))


@pytest.fixture
def platform() -> Feed:
    return Feed(
        feed(
            ("a@airbnb.com", 3, 6, "Reserved"),
            ("b@airbnb.com", 10, 12, "Reserved"),
            ("c@airbnb.com", 20, 23, "Reserved"),
            ("blk@airbnb.com", 30, 40, "Airbnb (Not available)"),
        )
    )


def test_create_modify_cancel_once_each_across_rereads_and_restarts(
    db: Db, secret_box: SecretBox, platform: Feed
) -> None:
    setup = Setup(db, secret_box, platform)
    setup.pull()
    assert setup.bookings() == {
        "a@airbnb.com": ("confirmed", iso(3), iso(6)),
        "b@airbnb.com": ("confirmed", iso(10), iso(12)),
        "c@airbnb.com": ("confirmed", iso(20), iso(23)),
    }  # the "Not available" block is no booking
    setup.pull()  # the same feed again
    setup.restart()
    setup.pull()  # and after a restart
    assert setup.events()[kinds.RESERVATION_CREATED] == 3
    stored = setup.inbox_size()
    assert stored == 3

    platform.body = feed(
        ("a@airbnb.com", 3, 7, "Reserved"),  # one more night
        ("b@airbnb.com", 10, 12, "Reserved"),
        ("c@airbnb.com", 20, 23, "Reserved"),
        ("d@airbnb.com", 25, 27, "Reserved"),
    ).replace(b"c@airbnb.com", b"e@airbnb.com")  # c vanished, e appeared
    for _ in range(2):
        setup.pull()
        setup.restart()
    assert setup.bookings() == {
        "a@airbnb.com": ("confirmed", iso(3), iso(7)),
        "b@airbnb.com": ("confirmed", iso(10), iso(12)),
        "c@airbnb.com": ("cancelled", iso(20), iso(23)),
        "d@airbnb.com": ("confirmed", iso(25), iso(27)),
        "e@airbnb.com": ("confirmed", iso(20), iso(23)),
    }
    counts = setup.events()
    assert counts[kinds.RESERVATION_CREATED] == 5
    assert counts[kinds.RESERVATION_MODIFIED] == 1
    assert counts[kinds.RESERVATION_CANCELLED] == 1
    assert setup.inbox_size() == stored + 4


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, b"Not Found"), (200, b"<!doctype html><html>Sign in</html>"), (200, b"")],
)
def test_a_broken_or_suddenly_empty_feed_cancels_nothing_and_needs_attention(
    db: Db, secret_box: SecretBox, platform: Feed, status: int, body: bytes
) -> None:
    setup = Setup(db, secret_box, platform)
    setup.pull()
    before = setup.bookings()
    platform.status, platform.body = status, body
    setup.pull()
    assert setup.bookings() == before
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 1


def test_an_emptied_calendar_is_held(db: Db, secret_box: SecretBox, platform: Feed) -> None:
    setup = Setup(db, secret_box, platform)
    setup.pull()
    before = setup.bookings()
    platform.body = feed()
    setup.pull()
    assert setup.bookings() == before
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 1
    with db.sessions() as session:
        assert "held for review" in session.get_one(PullCursor, setup.connection_id).last_error


def test_a_feed_unread_for_stale_after_is_told_once_and_cleared_by_a_success(
    db: Db, secret_box: SecretBox, platform: Feed
) -> None:
    setup = Setup(db, secret_box, platform)
    setup.pull()
    stale_after = timedelta(seconds=IcalConfig().stale_after_seconds)
    platform.status = 503  # an outage: retried, told only after ATTENTION_AFTER failures
    for _ in range(3):
        setup.now += stale_after / 4
        setup.pull()
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 0
    setup.now += stale_after / 2  # now past stale_after since the last success
    setup.pull()
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 1
    with db.sessions() as session:
        cursor = session.get_one(PullCursor, setup.connection_id)
        assert cursor.failures == 4
        assert "has not been read successfully since" in cursor.last_error
    for _ in range(3):  # still failing: not told again, except the reconciler's fifth failure
        setup.now += stale_after
        setup.pull()
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 2
    platform.status = 200  # a success clears it; a new stale spell is told again
    setup.pull()
    platform.status = 503
    setup.now += stale_after / 2
    setup.pull()
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 2
    setup.now += stale_after
    setup.pull()
    assert setup.events()[kinds.CONNECTION_NEEDS_ATTENTION] == 3
    assert setup.bookings() == {
        "a@airbnb.com": ("confirmed", iso(3), iso(6)),
        "b@airbnb.com": ("confirmed", iso(10), iso(12)),
        "c@airbnb.com": ("confirmed", iso(20), iso(23)),
    }


def test_not_available_ranges_close_nights_as_blocks_replaced_on_each_read(
    db: Db, secret_box: SecretBox, platform: Feed
) -> None:
    setup = Setup(db, secret_box, platform)
    room_type_id = setup.hotel.room_types["DBL"]

    def blocks() -> list[tuple[date, date, int, str]]:
        with db.sessions() as session:
            rows = session.scalars(
                select(Block)
                .where(Block.connection_id == setup.connection_id)
                .order_by(Block.start)
            )
            return [(b.start, b.end, b.units, b.kind) for b in rows]

    def free(offset: int) -> int:
        with db.sessions() as session:
            room_type = session.get_one(RoomType, room_type_id)
            return day_counts(session, [room_type], DateRange.single(iso(offset)))[room_type_id][
                iso(offset)
            ].free

    setup.pull()
    assert blocks() == [(iso(30), iso(40), 1, CHANNEL_CLOSED)]
    assert (free(30), free(39), free(40)) == (0, 0, 1)  # the listing's one unit is closed
    assert "blk@airbnb.com" not in setup.bookings()  # and it is no booking
    with db.sessions() as session:  # the closure is not exported back to an iCal listing
        assert busy_events(session, setup.connection_id, DateRange(iso(29), iso(41))) == []
        first_id = session.scalar(select(Block.id).where(Block.connection_id.isnot(None)))
    setup.pull()
    setup.restart()
    setup.pull()  # read again, and after a restart: the same block, not a new one
    with db.sessions() as session:
        assert session.scalar(select(Block.id).where(Block.connection_id.isnot(None))) == first_id

    platform.body = feed(
        ("a@airbnb.com", 3, 6, "Reserved"),
        ("b@airbnb.com", 10, 12, "Reserved"),
        ("c@airbnb.com", 20, 23, "Reserved"),
        ("blk@airbnb.com", 32, 35, "Airbnb (Not available)"),
        ("v1", 50, 52, "Blocked"),
    )
    setup.pull()
    assert blocks() == [
        (iso(32), iso(35), 1, CHANNEL_CLOSED),
        (iso(50), iso(52), 1, CHANNEL_CLOSED),
    ]
    assert (free(30), free(32)) == (1, 0)
    platform.body = feed(
        ("a@airbnb.com", 3, 6, "Reserved"),
        ("b@airbnb.com", 10, 12, "Reserved"),
        ("c@airbnb.com", 20, 23, "Reserved"),
    )
    setup.pull()
    assert blocks() == []
    assert free(32) == 1
    assert setup.events()[kinds.RESERVATION_CREATED] == 3

    # A room type no longer mapped on the connection keeps none of its closed dates.
    platform.body = feed(
        ("a@airbnb.com", 3, 6, "Reserved"),
        ("b@airbnb.com", 10, 12, "Reserved"),
        ("c@airbnb.com", 20, 23, "Reserved"),
        ("blk@airbnb.com", 32, 35, "Airbnb (Not available)"),
    )
    setup.pull()
    assert len(blocks()) == 1
    with db.sessions() as session:
        empty = MappingsWrite(room_types=[], rate_plans=[])
        set_mappings(session, setup.hotel.tenant_id, setup.connection_id, empty)
        session.commit()
    setup.pull()
    assert blocks() == []


def test_a_deleted_connection_takes_its_closed_dates_with_it(
    db: Db, secret_box: SecretBox, platform: Feed
) -> None:
    setup = Setup(db, secret_box, platform)
    setup.pull()
    with db.sessions() as session:
        assert len(session.scalars(select(Block.id)).all()) == 1
        delete_connection(session, setup.hotel.tenant_id, setup.connection_id)
        session.commit()
        assert session.scalars(select(Block.id)).all() == []
        room_type = session.get_one(RoomType, setup.hotel.room_types["DBL"])
        counts = day_counts(session, [room_type], DateRange(iso(30), iso(40)))
        assert {count.blocked for count in counts[room_type.id].values()} == {0}
