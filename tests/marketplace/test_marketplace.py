"""The marketplace core, channel-neutral: a property whose ARI comes from a connection (the fake
channel playing the hotel's system), PMS writes refused, idempotent channel writes with
provenance, marketplace bookings through their confirmation lifecycle, the unconfirmed-booking
alert and the offers search. Real databases; time is frozen and moved by hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from innsync.alerts.rules import marketplace_booking_unconfirmed
from innsync.channels.contract import ChannelAdapter
from innsync.channels.fake import FakeChannel
from innsync.channels.fake.config import CHANNEX_LIKE_LIMITS, FakeChannelConfig
from innsync.channels.types import (
    AriSnapshot,
    AvailabilityUpdate,
    BookingConfirmation,
    RateUpdate,
    RateValues,
    RemoteCatalog,
    RemoteRatePlan,
    RemoteRoomType,
)
from innsync.connections import service as connections
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.models import Event
from innsync.inventory.models import RateCalendarRun
from innsync.inventory.runs import calendar_rows
from innsync.marketplace.confirmations import check_due_confirmations, record_confirmation
from innsync.marketplace.models import AriSource, ChannelAvailabilityDay
from innsync.marketplace.offers import search_offers
from innsync.marketplace.pulls import pull_due_ari, pull_one
from innsync.marketplace.schemas import AriSourceWrite
from innsync.marketplace.sources import set_ari_source
from innsync.outbox.models import BookingPush, DirtyMark
from innsync.properties import service as properties
from innsync.properties.models import RatePlan, RoomType
from innsync.properties.schemas import PropertyCreate
from innsync.stay_dates import DateRange
from innsync.sync.bookings import FIRST_RETRY, push_due_bookings
from innsync.tenants.service import create_tenant
from tests.calendar_runs import days_covered
from tests.conftest import Db

pytestmark = pytest.mark.backends("sqlite", "postgresql")

NOW = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
ARRIVAL = date(2031, 6, 1)
NIGHTS = 30
HOUR = timedelta(hours=1)
CATALOG = RemoteCatalog(
    "H1",
    room_types=(
        RemoteRoomType("DBL", "Double", units=5, max_adults=2, max_children=1, default_occupancy=2),
        RemoteRoomType("SGL", "Single", units=3, max_adults=1, max_children=0, default_occupancy=1),
    ),
    rate_plans=(
        RemoteRatePlan("DBL-BAR", "DBL", "Best available", "per_room", ()),
        RemoteRatePlan("SGL-BAR", "SGL", "Best available", "per_room", ()),
    ),
)
SEASON = DateRange(ARRIVAL, ARRIVAL + timedelta(days=NIGHTS))
# Every stored run of the calendar, as plain values in key order.
ALL_RUNS = select(RateCalendarRun.__table__).order_by(
    RateCalendarRun.rate_plan_id, RateCalendarRun.start_date
)


def held_ari(price: str = "120.00", **dbl_extra: Any) -> AriSnapshot:
    return AriSnapshot(
        availability=(
            AvailabilityUpdate("DBL", SEASON, 4),
            AvailabilityUpdate("SGL", SEASON, 2),
        ),
        rates=(
            RateUpdate("DBL", "DBL-BAR", SEASON, RateValues(price=Decimal(price), **dbl_extra)),
            RateUpdate("SGL", "SGL-BAR", SEASON, RateValues(price=Decimal("80.00"))),
        ),
        catalog=CATALOG,
    )


@dataclass
class Hotel:
    """A property whose ARI comes from a fake connection, pulled once at ``NOW``."""

    db: Db
    tenant_id: uuid.UUID
    key: str
    property_id: uuid.UUID
    connection_id: uuid.UUID
    channel: FakeChannel
    now: datetime = NOW
    other_connection_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def adapter_for(self, _connection: Connection) -> ChannelAdapter:
        return self.channel

    def pull(self, at: datetime = NOW) -> Any:
        return asyncio.run(
            pull_one(self.db.sessions, self.channel, self.property_id, HOUR, clock=lambda: at)
        )

    def push(self, at: datetime, attempts: int = 8) -> int:
        return asyncio.run(
            push_due_bookings(
                self.db.sessions, self.adapter_for, clock=lambda: at, marketplace_attempts=attempts
            )
        )

    def check(self, at: datetime) -> int:
        return asyncio.run(
            check_due_confirmations(self.db.sessions, self.adapter_for, HOUR, clock=lambda: at)
        )

    def ids(self, model: Any) -> dict[str, uuid.UUID]:
        with self.db.sessions() as session:
            return {
                row.code: row.id
                for row in session.scalars(
                    select(model).where(model.property_id == self.property_id)
                )
            }

    def count(self, model: Any, *where: Any) -> int:
        with self.db.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def events(self, kind: str) -> list[Event]:
        with self.db.sessions() as session:
            query = select(Event).where(Event.kind == kind, Event.tenant_id == self.tenant_id)
            return list(session.scalars(query.order_by(Event.id)))

    def push_row(self) -> BookingPush:
        with self.db.sessions() as session:
            return session.scalars(
                select(BookingPush).where(BookingPush.connection_id == self.connection_id)
            ).one()


def build_hotel(
    db: Db,
    box: SecretBox,
    name: str = "Lakeside",
    tenant: tuple[uuid.UUID, str] | None = None,
    channel: FakeChannel | None = None,
    other_connection: bool = False,
) -> Hotel:
    with transaction(db.sessions) as session:
        if tenant is None:
            made, issued = create_tenant(session, "Marketplace")
            tenant = (made.id, issued.secret)
        prop = properties.create_property(
            session,
            tenant[0],
            PropertyCreate(name=name, timezone="Europe/Rome", currency="EUR", horizon_days=400),
        )
        source = connections.create_connection(
            session,
            box,
            tenant[0],
            prop.id,
            ConnectionCreate(channel="fake", name="hotel", config={}),
        )
        other = (
            connections.create_connection(
                session,
                box,
                tenant[0],
                prop.id,
                ConnectionCreate(channel="fake", name="ota", config={}),
            )
            if other_connection
            else None
        )
        set_ari_source(session, tenant[0], prop.id, AriSourceWrite(connection_id=source.id), NOW)
    hotel = Hotel(
        db,
        tenant[0],
        tenant[1],
        prop.id,
        source.id,
        channel or FakeChannel(),
        other_connection_id=other.id if other else None,
    )
    hotel.channel.hold_ari(held_ari())
    hotel.pull()
    return hotel


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    return build_hotel(db, secret_box, other_connection=True)


def booking(
    hotel: Hotel, nights: int = 2, arrival: date = ARRIVAL, code: str = "DBL"
) -> dict[str, Any]:
    return {
        "arrival": arrival.isoformat(),
        "departure": (arrival + timedelta(days=nights)).isoformat(),
        "rooms": [
            {
                "room_type_id": str(hotel.ids(RoomType)[code]),
                "rate_plan_id": str(hotel.ids(RatePlan)[f"{code}-BAR"]),
                "adults": 1,
            }
        ],
        "guest": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
    }


def book(client: TestClient, hotel: Hotel, **kwargs: Any) -> Any:
    return client.post(
        f"/api/v1/properties/{hotel.property_id}/reservations",
        json=booking(hotel, **kwargs),
        headers=hotel.headers,
    )


# ARI source and PMS writes


def test_every_pms_ari_write_is_refused_with_409_naming_the_source(
    client: TestClient, hotel: Hotel
) -> None:
    room_type, plan = hotel.ids(RoomType)["DBL"], hotel.ids(RatePlan)["DBL-BAR"]
    room = {"code": "NEW", "name": "New", "sellable_units": 1, "max_adults": 2,
            "max_occupancy": 2, "default_occupancy": 2}  # fmt: skip
    first = SEASON.start.isoformat()
    writes = [
        ("POST", f"/api/v1/properties/{hotel.property_id}/room-types", room),
        ("PATCH", f"/api/v1/room-types/{room_type}", {"name": "Renamed"}),
        ("DELETE", f"/api/v1/room-types/{room_type}", None),
        ("POST", f"/api/v1/properties/{hotel.property_id}/rate-plans",
         {"room_type_id": str(room_type), "code": "PMS", "name": "PMS"}),
        ("PATCH", f"/api/v1/rate-plans/{plan}", {"name": "Renamed"}),
        ("DELETE", f"/api/v1/rate-plans/{plan}", None),
        ("POST", f"/api/v1/properties/{hotel.property_id}/ari",
         {"entries": [{"rate_plan_id": str(plan), "date_from": first, "date_to": first,
                       "price": "99.00"}]}),
        ("POST", f"/api/v1/room-types/{room_type}/blocks",
         {"date_from": first, "date_to": first, "units": 1}),
    ]  # fmt: skip
    for method, path, body in writes:
        answer = client.request(method, path, json=body, headers=hotel.headers)
        assert answer.status_code == 409, (method, path, answer.text)
        detail = answer.json()["detail"]
        assert (
            f"ARI of property {hotel.property_id} comes from connection {hotel.connection_id}"
            in detail
        )
    # Nothing changed.
    assert hotel.count(RoomType, RoomType.property_id == hotel.property_id) == 2
    assert hotel.count(RatePlan, RatePlan.property_id == hotel.property_id) == 2
    with hotel.db.sessions() as session:
        held = calendar_rows(session, [plan], SEASON)[plan]
        assert held[SEASON.start].price == Decimal("120.00")
        assert session.get_one(RoomType, room_type).name == "Double"
    # Given back to the PMS, the same write is taken.
    path = f"/api/v1/properties/{hotel.property_id}/ari-source"
    cleared = client.put(path, json={"connection_id": None}, headers=hotel.headers)
    assert cleared.json()["connection_id"] is None
    taken = client.patch(
        f"/api/v1/room-types/{room_type}", json={"name": "Renamed"}, headers=hotel.headers
    )
    assert taken.status_code == 200


def test_the_source_must_be_a_connection_of_the_property(
    client: TestClient, db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    second = build_hotel(db, secret_box, "Hillside", tenant=(hotel.tenant_id, hotel.key))
    path = f"/api/v1/properties/{hotel.property_id}/ari-source"
    answer = client.put(
        path, json={"connection_id": str(second.connection_id)}, headers=hotel.headers
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "/connection_id"
    answer = client.put(path, json={"connection_id": str(uuid.uuid4())}, headers=hotel.headers)
    assert answer.status_code == 422
    read = client.get(path, headers=hotel.headers).json()
    assert (read["connection_id"], read["pulled_at"]) == (
        str(hotel.connection_id),
        "2031-05-06T09:00:00Z",
    )


# Channel writes: idempotent, with provenance, never pushed back


def test_a_repeated_report_writes_no_row_no_mark_and_no_event(hotel: Hotel) -> None:
    assert hotel.count(ChannelAvailabilityDay) == 2 * NIGHTS
    with hotel.db.sessions() as session:
        assert (
            days_covered(session, RateCalendarRun.source_connection_id == hotel.connection_id)
            == 2 * NIGHTS
        )
        runs_before = session.execute(ALL_RUNS).all()
    # The other (pushing) connection was told; the source never is.
    marks_before = hotel.count(DirtyMark, DirtyMark.connection_id == hotel.other_connection_id)
    assert marks_before > 0
    assert hotel.count(DirtyMark, DirtyMark.connection_id == hotel.connection_id) == 0
    events_before = hotel.count(Event)

    again = hotel.pull(NOW + HOUR)

    assert again.changed == 0
    assert (
        hotel.count(DirtyMark, DirtyMark.connection_id == hotel.other_connection_id) == marks_before
    )
    assert hotel.count(Event) == events_before
    with hotel.db.sessions() as session:
        stamps = set(session.scalars(select(RateCalendarRun.source_updated_at)))
        assert stamps == {NOW}
        assert session.execute(ALL_RUNS).all() == runs_before
        assert set(session.scalars(select(ChannelAvailabilityDay.updated_at))) == {NOW}
    assert hotel.count(RoomType, RoomType.property_id == hotel.property_id) == 2


def test_one_changed_value_writes_one_day_and_the_calendar_says_who_and_when(
    client: TestClient, hotel: Hotel
) -> None:
    plan = hotel.ids(RatePlan)["DBL-BAR"]
    later = NOW + HOUR
    changed_day = SEASON.start + timedelta(days=3)
    hotel.channel.hold_ari(
        AriSnapshot(
            rates=(
                RateUpdate(
                    "DBL",
                    "DBL-BAR",
                    DateRange.single(changed_day),
                    RateValues(price=Decimal("150.00")),
                ),
            ),
        )
    )
    result = hotel.pull(later)
    assert (result.calendar_days, result.availability_days) == (1, 0)

    calendar = client.get(
        f"/api/v1/rate-plans/{plan}/calendar",
        params={"date_from": SEASON.start.isoformat(), "date_to": SEASON.last.isoformat()},
        headers=hotel.headers,
    ).json()
    days = {day["stay_date"]: day for day in calendar["days"]}
    assert len(days) == NIGHTS
    changed = days[changed_day.isoformat()]
    assert (changed["price"], changed["source"]) == ("150.00", "connection")
    assert changed["source_connection_id"] == str(hotel.connection_id)
    assert changed["source_updated_at"] == "2031-05-06T10:00:00Z"
    others = [day for key, day in days.items() if key != changed_day.isoformat()]
    assert {(d["price"], d["source_updated_at"]) for d in others} == {
        ("120.00", "2031-05-06T09:00:00Z")
    }
    availability = client.get(
        f"/api/v1/properties/{hotel.property_id}/availability",
        params={"date_from": SEASON.start.isoformat(), "date_to": SEASON.start.isoformat()},
        headers=hotel.headers,
    ).json()
    dbl = next(r for r in availability["room_types"] if r["code"] == "DBL")["days"][0]
    assert (dbl["channel_available"], dbl["source_connection_id"]) == (4, str(hotel.connection_id))


def test_the_periodic_pull_is_due_hourly(db: Db, hotel: Hotel) -> None:
    def due(at: datetime) -> int:
        return asyncio.run(pull_due_ari(db.sessions, hotel.adapter_for, HOUR, clock=lambda: at))

    assert len(hotel.channel.ari_pulls) == 1
    assert due(NOW + timedelta(minutes=59)) == 0
    assert due(NOW + HOUR) == 1
    assert len(hotel.channel.ari_pulls) == 2
    with db.sessions() as session:
        source = session.get_one(AriSource, hotel.property_id)
        assert (source.next_pull_at, source.pull_error) == (NOW + 2 * HOUR, "")
    # A failed pull is retried sooner than the next regular one, and says why.
    hotel.channel.fail_next(1)
    assert due(NOW + 2 * HOUR) == 1
    with db.sessions() as session:
        source = session.get_one(AriSource, hotel.property_id)
        assert source.next_pull_at == NOW + 2 * HOUR + timedelta(seconds=30)
        assert source.pull_error.startswith("attempt 1: ")


# Marketplace bookings


def test_a_booking_goes_pending_pushed_confirmed_with_an_event_each(
    client: TestClient, hotel: Hotel
) -> None:
    made = book(client, hotel)
    assert made.status_code == 201, made.text
    reservation = made.json()
    assert [p["state"] for p in reservation["channel_pushes"]] == ["pending"]
    assert len(hotel.events("marketplace.booking_pending")) == 1
    # The nights left the reported availability at once.
    with hotel.db.sessions() as session:
        held = session.get_one(ChannelAvailabilityDay, (hotel.ids(RoomType)["DBL"], ARRIVAL))
        assert held.available == 3

    assert hotel.push(NOW) == 1
    push = hotel.push_row()
    assert (push.state, push.channel_booking_id) == ("pushed", "fake-booking-1")
    (sent,) = hotel.channel.bookings.values()
    assert sent.channel_booking_id == reservation["id"]  # the idempotency reference
    assert len(hotel.events("marketplace.booking_pushed")) == 1

    # The hotel has not answered: still pushed, asked again later.
    assert hotel.check(NOW + timedelta(minutes=2)) == 1
    assert hotel.push_row().state == "pushed"
    hotel.channel.answer_booking("fake-booking-1", BookingConfirmation("confirmed"))
    assert hotel.check(NOW + timedelta(minutes=3)) == 0  # not due before the interval
    assert hotel.check(NOW + timedelta(minutes=2) + HOUR) == 1
    assert hotel.push_row().state == "confirmed"
    (confirmed,) = hotel.events("marketplace.booking_confirmed")
    assert confirmed.payload["reservation_id"] == reservation["id"]
    read = client.get(f"/api/v1/reservations/{reservation['id']}", headers=hotel.headers).json()
    assert [p["state"] for p in read["channel_pushes"]] == ["confirmed"]


def test_a_modification_and_a_cancellation_go_the_same_way(
    client: TestClient, hotel: Hotel
) -> None:
    reservation = book(client, hotel).json()
    hotel.push(NOW)
    hotel.channel.answer_booking("fake-booking-1", BookingConfirmation("confirmed"))
    hotel.check(NOW + timedelta(minutes=2))
    assert hotel.push_row().state == "confirmed"

    later = (ARRIVAL + timedelta(days=3)).isoformat()
    changed = client.patch(
        f"/api/v1/reservations/{reservation['id']}",
        json={"departure": later},
        headers=hotel.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (hotel.push_row().state, hotel.push_row().wanted_revision) == ("pending", 2)
    hotel.push(NOW + timedelta(minutes=5))
    assert hotel.push_row().state == "pushed"
    assert hotel.channel.bookings[reservation["id"]].status == "modified"
    assert hotel.channel.booking_push_calls == 2
    hotel.check(NOW + timedelta(minutes=10))
    assert hotel.push_row().state == "confirmed"

    client.post(f"/api/v1/reservations/{reservation['id']}/cancel", headers=hotel.headers)
    assert hotel.push_row().state == "pending"
    hotel.push(NOW + timedelta(minutes=15))
    assert hotel.channel.bookings[reservation["id"]].status == "cancelled"
    assert len(hotel.channel.bookings) == 1
    assert len(hotel.events("marketplace.booking_pending")) == 3
    assert len(hotel.events("marketplace.booking_pushed")) == 3
    with hotel.db.sessions() as session:
        held = session.get_one(ChannelAvailabilityDay, (hotel.ids(RoomType)["DBL"], ARRIVAL))
        assert held.available == 4  # given back with the cancellation


def test_a_stay_the_source_does_not_sell_is_refused_and_nothing_is_stored(
    client: TestClient, hotel: Hotel
) -> None:
    stop_day = ARRIVAL + timedelta(days=1)
    hotel.channel.hold_ari(
        AriSnapshot(
            availability=(AvailabilityUpdate("SGL", SEASON, 0),),
            rates=(
                RateUpdate(
                    "DBL", "DBL-BAR", DateRange.single(stop_day), RateValues(stop_sell=True)
                ),
                RateUpdate(
                    "DBL",
                    "DBL-BAR",
                    DateRange.single(ARRIVAL + timedelta(days=10)),
                    RateValues(min_stay_arrival=3),
                ),
                RateUpdate(
                    "DBL",
                    "DBL-BAR",
                    DateRange.single(ARRIVAL + timedelta(days=22)),
                    RateValues(closed_to_departure=True),
                ),
            ),
        )
    )
    hotel.pull(NOW + HOUR)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, f"stop sell on {stop_day}"),
        ({"code": "SGL"}, "room type SGL has 0 unit(s) available"),
        ({"arrival": ARRIVAL + timedelta(days=10)}, "minimum stay of 3 nights"),
        ({"arrival": ARRIVAL + timedelta(days=20)}, "closed to departure"),
    ]
    for kwargs, reason in cases:
        answer = book(client, hotel, **kwargs)
        assert answer.status_code == 409, answer.text
        assert reason in answer.json()["detail"]
    assert hotel.count(BookingPush) == 0
    assert hotel.events("reservation.created") == []
    assert book(client, hotel, arrival=ARRIVAL + timedelta(days=10), nights=3).status_code == 201


def test_a_push_fails_with_its_reason_after_bounded_retries_and_is_stored_once(
    client: TestClient, hotel: Hotel
) -> None:
    book(client, hotel)
    # The first answer is lost after the hotel stored the booking; then it is down for good.
    hotel.channel.script_booking_pushes("lost", "unavailable", "unavailable")
    at = NOW
    attempts_seen = []
    for _ in range(3):
        assert hotel.push(at, attempts=3) == 1
        push = hotel.push_row()
        attempts_seen.append(push.attempts)
        at = push.next_attempt_at
    push = hotel.push_row()
    assert push.state == "failed"
    assert "gave up after 3 attempts" in push.last_error
    assert attempts_seen == [1, 2, 3]
    assert hotel.channel.booking_push_calls == 3
    assert len(hotel.channel.bookings) == 1  # the retry after the lost answer stored nothing new
    (failed,) = hotel.events("marketplace.booking_failed")
    assert "gave up after 3 attempts" in failed.payload["reason"]
    assert hotel.push(at + HOUR, attempts=3) == 0  # failed is final


def test_the_backoff_between_attempts_doubles(client: TestClient, hotel: Hotel) -> None:
    book(client, hotel)
    hotel.channel.script_booking_pushes("unavailable", "unavailable")
    hotel.push(NOW)
    assert hotel.push_row().next_attempt_at == NOW + FIRST_RETRY
    hotel.push(NOW + FIRST_RETRY)
    assert hotel.push_row().next_attempt_at == NOW + 3 * FIRST_RETRY


def test_a_refusal_by_the_hotel_fails_the_booking(client: TestClient, hotel: Hotel) -> None:
    book(client, hotel)
    hotel.push(NOW)
    hotel.channel.answer_booking("fake-booking-1", BookingConfirmation("rejected", "no rooms left"))
    hotel.check(NOW + timedelta(minutes=2))
    push = hotel.push_row()
    assert push.state == "failed"
    assert push.last_error == "the hotel rejected it: no rooms left"
    assert len(hotel.events("marketplace.booking_failed")) == 1


def test_pushes_and_pulls_share_the_source_quota(
    client: TestClient, db: Db, secret_box: SecretBox
) -> None:
    quota = dataclasses.replace(CHANNEX_LIKE_LIMITS, requests_per_window=2, window_seconds=300.0)
    channel = FakeChannel(FakeChannelConfig(limits=quota))
    hotel = build_hotel(db, secret_box, channel=channel)  # the first pull spends one call
    book(client, hotel)
    assert hotel.push(NOW) == 1  # the second call
    assert hotel.push_row().state == "pushed"
    # The status check finds the quota spent: it waits, asking nothing.
    hotel.check(NOW + timedelta(minutes=2))
    push = hotel.push_row()
    assert (push.state, push.next_attempt_at) == ("pushed", NOW + timedelta(seconds=300))
    assert hotel.pull(NOW + timedelta(minutes=2)) is None  # so does the pull
    assert len(channel.ari_pulls) == 1


# The deadline alert


def test_a_booking_unconfirmed_past_the_deadline_is_an_alert(
    client: TestClient, hotel: Hotel
) -> None:
    reservation = book(client, hotel).json()
    hotel.push(NOW)

    def findings(at: datetime) -> list[Any]:
        with hotel.db.sessions() as session:
            return marketplace_booking_unconfirmed(session, at, lambda _tenant: 30.0)

    assert findings(NOW + timedelta(minutes=29)) == []
    (found,) = findings(NOW + timedelta(minutes=31))
    assert (found.subject_kind, found.subject_id) == ("reservation", reservation["id"])
    assert found.details["status"] == "pushed"
    hotel.channel.answer_booking("fake-booking-1", BookingConfirmation("confirmed"))
    hotel.check(NOW + timedelta(minutes=31))
    assert findings(NOW + timedelta(minutes=40)) == []


# Offers


def test_offers_of_five_hotels_for_thirty_nights_in_five_queries(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    tenant = (hotel.tenant_id, hotel.key)
    hotels = [hotel] + [
        build_hotel(db, secret_box, f"Hotel {index}", tenant=tenant) for index in range(1, 5)
    ]
    # One hotel stops selling one night: its offer is left out.
    hotels[4].channel.hold_ari(
        AriSnapshot(
            rates=(
                RateUpdate(
                    "DBL",
                    "DBL-BAR",
                    DateRange.single(ARRIVAL + timedelta(days=7)),
                    RateValues(stop_sell=True),
                ),
            )
        )
    )
    hotels[4].pull(NOW + HOUR)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with db.sessions() as session:
        bind = session.connection()
        event.listen(bind, "before_cursor_execute", count)
        try:
            found = search_offers(
                session, hotel.tenant_id, ARRIVAL, ARRIVAL + timedelta(days=NIGHTS), 2, 0, NOW
            )
        finally:
            event.remove(bind, "before_cursor_execute", count)

    assert len(statements) == 5, statements
    # Two adults fit only DBL; four hotels sell all 30 nights.
    assert len(found.offers) == 4
    assert {offer.property_id for offer in found.offers} == {h.property_id for h in hotels[:4]}
    for offer in found.offers:
        assert len(offer.nightly) == NIGHTS
        assert {night.price for night in offer.nightly} == {Decimal("120.00")}
        assert offer.total == Decimal("3600.00")
        assert offer.restrictions.available == 4
        assert offer.rate_plan_name == "Best available"


def test_the_offers_api_answers_only_the_callers_marketplace(
    client: TestClient, db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    build_hotel(db, secret_box, "Someone else's")  # another tenant
    params = {
        "arrival": ARRIVAL.isoformat(),
        "departure": (ARRIVAL + timedelta(days=2)).isoformat(),
        "adults": 1,
    }
    body = client.get("/api/v1/offers", params=params, headers=hotel.headers).json()
    assert {offer["property_id"] for offer in body["offers"]} == {str(hotel.property_id)}
    assert sorted(offer["total"] for offer in body["offers"]) == ["160.00", "240.00"]
    bad = client.get(
        "/api/v1/offers", params={**params, "departure": ARRIVAL.isoformat()}, headers=hotel.headers
    )
    assert bad.status_code == 422
    edge = {**params, "arrival": "9999-12-30", "departure": "9999-12-31"}
    assert client.get("/api/v1/offers", params=edge, headers=hotel.headers).status_code == 422


def test_a_confirmation_sent_by_the_channel_is_applied_once(
    client: TestClient, hotel: Hotel
) -> None:
    book(client, hotel)
    hotel.push(NOW)
    answer = BookingConfirmation("confirmed")
    with transaction(hotel.db.sessions) as session:
        unknown = record_confirmation(session, hotel.connection_id, "nope", answer, NOW, HOUR)
        applied = record_confirmation(
            session, hotel.connection_id, "fake-booking-1", answer, NOW, HOUR
        )
    with transaction(hotel.db.sessions) as session:
        again = record_confirmation(
            session, hotel.connection_id, "fake-booking-1", answer, NOW, HOUR
        )
    assert (unknown, applied, again) == (False, True, False)
    assert hotel.push_row().state == "confirmed"
    assert len(hotel.events("marketplace.booking_confirmed")) == 1
