"""The reservations list: a cursor in the order of changes, and its filters.

A PMS pages through thousands of reservations while bookings keep coming in, and must see each
once: no gaps, no repeats. A change made after a page showed a reservation brings it again.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from innsync.properties.models import Property
from innsync.reservations.change_order import take_numbers
from innsync.reservations.models import Reservation, ReservationSequence
from innsync.tenants.service import create_tenant
from tests.api.helpers import Hotel, day, make_hotel, new_tenant, ok, problem
from tests.conftest import Db

BULK = 3000  # 50,000 in the slow run (``-m slow``)
PAGE = 250


def _path(hotel: Hotel) -> str:
    return f"/api/v1/properties/{hotel.property_id}/reservations"


def _book(client: TestClient, hotel: Hotel, arrival: int, nights: int = 1, **extra: Any) -> Any:
    return ok(
        client.post(
            _path(hotel),
            json={
                "arrival": day(arrival),
                "departure": day(arrival + nights),
                "rooms": [{"room_type_id": hotel.room_type_id, "adults": 2, "amount": "90.00"}],
                **extra,
            },
            headers=hotel.caller.headers,
        ),
        201,
    )


def _page(client: TestClient, hotel: Hotel, **params: Any) -> Any:
    return ok(client.get(_path(hotel), params=params, headers=hotel.caller.headers))


def _bulk_insert(db: Db, hotel: Hotel, count: int) -> list[str]:
    """``count`` stored reservations, numbered 1..count in the change order as migrated data is."""
    ids = [uuid.uuid4() for _ in range(count)]
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    arrival = date(2026, 3, 1)
    with db.sessions() as session:
        session.execute(
            insert(Reservation),
            [
                {
                    "id": reservation_id,
                    "tenant_id": uuid.UUID(hotel.caller.tenant_id),
                    "property_id": uuid.UUID(hotel.property_id),
                    "source": "direct",
                    "channel": "direct",
                    "status": "confirmed",
                    "arrival": arrival + timedelta(days=index % 200),
                    "departure": arrival + timedelta(days=index % 200 + 2),
                    "currency": "EUR",
                    "total_amount": Decimal("180.00"),
                    "is_overbooked": False,
                    "revision": 1,
                    "notes": "",
                    "special_requests": "",
                    "change_seq": index + 1,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for index, reservation_id in enumerate(ids)
            ],
        )
        session.execute(
            insert(ReservationSequence).values(
                property_id=uuid.UUID(hotel.property_id), last_seq=count
            )
        )
        session.commit()
    return [str(reservation_id) for reservation_id in ids]


@pytest.mark.parametrize("bulk", [BULK, pytest.param(50_000, marks=pytest.mark.slow, id="50000")])
def test_paging_through_thousands_while_bookings_arrive_sees_each_once(
    client: TestClient, db: Db, bulk: int
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=50)
    expected = _bulk_insert(db, hotel, bulk)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
        page = _page(client, hotel, **params)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
        if not page["has_more"]:
            break
        if pages <= 6:  # new bookings land behind the reader while it pages
            expected += [_book(client, hotel, pages)["id"] for _ in range(pages % 3 + 1)]
    assert len(seen) == len(set(seen)), "a reservation was shown twice"
    assert sorted(seen) == sorted(expected), "a reservation was skipped"
    assert seen[:bulk] == expected[:bulk]  # oldest change first
    assert len(expected) == bulk + 12

    # The last cursor is where the PMS polls on from: nothing yet, then just what came.
    assert _page(client, hotel, cursor=cursor)["items"] == []
    latest = _book(client, hotel, 20)
    polled = _page(client, hotel, cursor=cursor)
    assert [item["id"] for item in polled["items"]] == [latest["id"]]
    assert polled["has_more"] is False


def test_a_change_after_a_page_brings_the_reservation_again_with_its_new_state(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    first, second, third = (_book(client, hotel, offset) for offset in (1, 2, 3))
    page = _page(client, hotel)
    assert [item["id"] for item in page["items"]] == [first["id"], second["id"], third["id"]]

    ok(
        client.patch(
            f"/api/v1/reservations/{first['id']}",
            json={"special_requests": "Sea view", "arrival_time": "18:00"},
            headers=hotel.caller.headers,
        )
    )
    ok(client.post(f"/api/v1/reservations/{second['id']}/cancel", headers=hotel.caller.headers))
    changed = _page(client, hotel, cursor=page["next_cursor"])
    assert [(item["id"], item["revision"]) for item in changed["items"]] == [
        (first["id"], 2),
        (second["id"], 2),
    ]
    assert (changed["items"][0]["special_requests"], changed["items"][0]["arrival_time"]) == (
        "Sea view",
        "18:00",
    )
    # A read changes nothing, so it brings nothing again.
    ok(client.get(f"/api/v1/reservations/{third['id']}", headers=hotel.caller.headers))
    assert _page(client, hotel, cursor=changed["next_cursor"])["items"] == []


def test_filters_by_status_channel_ota_code_arrival_departure_and_change_time(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    early = _book(client, hotel, 1, nights=2)
    middle = _book(client, hotel, 4, nights=3)
    late = _book(client, hotel, 8, nights=1)
    ok(client.post(f"/api/v1/reservations/{late['id']}/cancel", headers=hotel.caller.headers))
    with db.sessions() as session:
        stored = session.get_one(Reservation, uuid.UUID(middle["id"]))
        stored.ota_name, stored.ota_reservation_code = "Booking.com", "4711"
        stored.channel = "channex"
        session.commit()

    def ids(**params: Any) -> list[str]:
        return [item["id"] for item in _page(client, hotel, **params)["items"]]

    assert ids(status="cancelled") == [late["id"]]
    assert ids(status=["confirmed", "cancelled"]) == [early["id"], late["id"], middle["id"]]
    assert ids(channel="channex") == [middle["id"]]
    assert ids(channel="direct") == [early["id"], late["id"]]
    assert ids(ota_reservation_code="4711") == [middle["id"]]
    assert ids(ota_reservation_code="4712") == []
    assert ids(arrival_from=day(2), arrival_before=day(8)) == [middle["id"]]
    assert ids(arrival_from=day(4)) == [late["id"], middle["id"]]
    assert ids(departure_from=day(3), departure_before=day(7)) == [early["id"]]
    assert ids(departure_before=day(10)) == [early["id"], late["id"], middle["id"]]
    assert ids(staying_from=day(5), staying_to=day(6)) == [middle["id"]]
    changed_at = _page(client, hotel, ota_reservation_code="4711")["items"][0]["updated_at"]
    assert ids(changed_since=changed_at) == [middle["id"]]
    assert ids(changed_since="2000-01-01T00:00:00Z") == [early["id"], late["id"], middle["id"]]


def test_a_cursor_that_is_not_one_the_list_gave_is_refused(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    for cursor in ("not-a-cursor", "YzE6LTE", "%%%"):
        response = client.get(_path(hotel), params={"cursor": cursor}, headers=hotel.caller.headers)
        problem(response, 422, "cursor")
    naive = client.get(
        _path(hotel), params={"changed_since": "2026-01-01T00:00:00"}, headers=hotel.caller.headers
    )
    assert naive.status_code == 422


def test_no_show_gives_the_units_back_and_is_listed_by_status(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    due = _book(client, hotel, 0, nights=2)
    later = _book(client, hotel, 5)
    not_yet = client.post(
        f"/api/v1/reservations/{later['id']}/no-show", headers=hotel.caller.headers
    )
    problem(not_yet, 409, "not due")
    marked = ok(
        client.post(f"/api/v1/reservations/{due['id']}/no-show", headers=hotel.caller.headers)
    )
    assert (marked["status"], marked["revision"]) == ("no_show", 2)
    again = ok(
        client.post(f"/api/v1/reservations/{due['id']}/no-show", headers=hotel.caller.headers)
    )
    assert again["revision"] == 2
    assert [item["id"] for item in _page(client, hotel, status="no_show")["items"]] == [due["id"]]
    # The units are free again: the same nights can be booked.
    _book(client, hotel, 0, nights=2)
    cancelled = ok(
        client.post(f"/api/v1/reservations/{due['id']}/cancel", headers=hotel.caller.headers)
    )
    assert cancelled["status"] == "cancelled"
    # Cancelling the no-show gives nothing back a second time: the one unit stays sold.
    refused = client.post(
        _path(hotel),
        json={
            "arrival": day(1),
            "departure": day(2),
            "rooms": [{"room_type_id": hotel.room_type_id, "adults": 2, "amount": "90.00"}],
        },
        headers=hotel.caller.headers,
    )
    problem(refused, 409, "0 unit(s) left")


@pytest.mark.backends("postgresql", "mariadb")
def test_a_change_numbered_later_cannot_commit_before_an_earlier_one(committed: Engine) -> None:
    """The property's number row stays locked until commit, so commits follow the numbers."""
    sessions = sessionmaker(bind=committed, expire_on_commit=False)
    with sessions() as session:
        tenant, _ = create_tenant(session, "Order")
        session.commit()
    property_id = _property(sessions, tenant.id)
    results: list[int] = []
    with sessions() as first:
        number = take_numbers(first, property_id, 1)
        waiter = threading.Thread(target=lambda: results.append(_number_in(sessions, property_id)))
        waiter.start()
        waiter.join(timeout=1.0)
        assert waiter.is_alive(), "a second writer took a number while the first was open"
        first.commit()
    waiter.join(timeout=10)
    assert results == [number + 1]


def _number_in(sessions: sessionmaker[Session], property_id: uuid.UUID) -> int:
    with sessions() as session:
        number = take_numbers(session, property_id, 1)
        session.commit()
        return number


def _property(sessions: sessionmaker[Session], tenant_id: uuid.UUID) -> uuid.UUID:
    with sessions() as session:
        prop = Property(
            tenant_id=tenant_id, name="Order", timezone="UTC", currency="EUR", horizon_days=365
        )
        session.add(prop)
        session.commit()
        return prop.id
