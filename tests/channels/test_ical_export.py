"""The .ics export over the API, on every database: current on the next poll, cheap when not."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from innsync.channels.ical.ics import parse_calendar
from innsync.ical_export import service
from innsync.ical_export.models import IcalExport
from tests.api.helpers import day, make_hotel, new_tenant, ok
from tests.conftest import Db

# The evidence is 10,000 polls (INNSYNC_TEST_ICAL_POLLS=10000: 57 s on SQLite, 79 s on
# PostgreSQL through TestClient on a shared 2-core box); the suite runs 1,000 to stay quick.
POLLS = int(os.environ.get("INNSYNC_TEST_ICAL_POLLS", "1000"))


def ical_connection(client: TestClient, hotel: Any, **config: object) -> str:
    headers = hotel.caller.headers
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={
                "channel": "ical",
                "name": "Airbnb listing",
                "config": config,
                "push_enabled": False,
            },
            headers=headers,
        ),
        201,
    )
    ok(
        client.put(
            f"/api/v1/connections/{connection['id']}/mappings",
            json={
                "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "listing"}],
                "rate_plans": [],
            },
            headers=headers,
        )
    )
    return str(connection["id"])


def book(client: TestClient, hotel: Any, arrival: int, departure: int) -> dict[str, Any]:
    return ok(  # type: ignore[no-any-return]
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(arrival),
                "departure": day(departure),
                "rooms": [
                    {
                        "room_type_id": hotel.room_type_id,
                        "rate_plan_id": hotel.rate_plan_id,
                        "adults": 2,
                    }
                ],
                "guest": {"last_name": "Rossi"},
            },
            headers=hotel.caller.headers,
        ),
        201,
    )


@contextmanager
def counted_statements(db: Db) -> Iterator[list[str]]:
    """Every data statement the engine runs (savepoints and transaction control left out)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2]).lstrip().split(None, 1)[0].upper()
        if statement in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_booking_shows_on_the_next_poll_and_unchanged_polls_cost_one_lookup(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    connection_id = ical_connection(client, hotel)
    export = ok(
        client.put(
            f"/api/v1/connections/{connection_id}/ical-export",
            json={"horizon_days": 90},
            headers=hotel.caller.headers,
        )
    )
    path = export["url"].removeprefix("http://testserver")
    assert path.startswith("/ical/")
    assert path.endswith(".ics")

    first = client.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/calendar")
    assert parse_calendar(first.content, max_events=10) == []
    etag = first.headers["etag"]

    book(client, hotel, 5, 8)
    second = client.get(path, headers={"if-none-match": etag})
    assert second.status_code == 200
    new_etag = second.headers["etag"]
    assert new_etag != etag
    [busy] = parse_calendar(second.content, max_events=10)
    assert (busy.start.isoformat(), busy.end.isoformat()) == (day(5), day(8))
    assert b"Rossi" not in second.content  # no guest data
    assert b"\r\n" in second.content

    with counted_statements(db) as statements:
        answers = {
            client.get(path, headers={"if-none-match": new_etag}).status_code for _ in range(POLLS)
        }
    assert answers == {304}
    assert len(statements) == POLLS  # the lookup by token, nothing else
    assert all("ical_exports" in statement for statement in statements)

    since = client.get(path, headers={"if-modified-since": second.headers["last-modified"]})
    assert since.status_code == 304


def test_rotation_and_revocation_close_the_old_url(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    connection_id = ical_connection(client, hotel)
    url = f"/api/v1/connections/{connection_id}/ical-export"
    old = ok(client.put(url, json={}, headers=hotel.caller.headers))["url"]
    new = ok(client.put(url, json={}, headers=hotel.caller.headers))["url"]
    assert old != new
    assert client.get(old.removeprefix("http://testserver")).status_code == 404
    assert client.get(new.removeprefix("http://testserver")).status_code == 200
    ok(client.delete(url, headers=hotel.caller.headers), 204)
    assert client.get(new.removeprefix("http://testserver")).status_code == 404
    assert client.get("/ical/not-a-token.ics").status_code == 404


def test_blocks_and_full_nights_are_busy_but_own_bookings_are_not_exported_back(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    connection_id = ical_connection(client, hotel)
    path = ok(
        client.put(
            f"/api/v1/connections/{connection_id}/ical-export",
            json={},
            headers=hotel.caller.headers,
        )
    )["url"].removeprefix("http://testserver")
    ok(
        client.post(
            f"/api/v1/room-types/{hotel.room_type_id}/blocks",
            json={"date_from": day(10), "date_to": day(11), "units": 1, "kind": "maintenance"},
            headers=hotel.caller.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/ari",
            json={
                "entries": [
                    {
                        "rate_plan_id": hotel.rate_plan_id,
                        "date_from": day(20),
                        "date_to": day(20),
                        "stop_sell": True,
                    }
                ]
            },
            headers=hotel.caller.headers,
        )
    )
    events = parse_calendar(client.get(path).content, max_events=10)
    assert [(e.start.isoformat(), e.end.isoformat()) for e in events] == [
        (day(10), day(12)),
        (day(20), day(21)),
    ]
    assert len({e.uid for e in events}) == 2


def test_a_feed_never_read_needs_attention_and_export_only_does_not(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    export_only = ical_connection(client, hotel)
    headers = hotel.caller.headers
    health = ok(client.get(f"/api/v1/connections/{export_only}/ical-health", headers=headers))
    assert health["needs_attention"] is False
    importing = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections?test=false",
            json={
                "channel": "ical",
                "name": "Vrbo",
                "config": {"feed_url": "https://www.vrbo.test/icalendar/abc.ics"},
            },
            headers=headers,
        ),
        201,
    )["id"]
    health = ok(client.get(f"/api/v1/connections/{importing}/ical-health", headers=headers))
    assert health["needs_attention"] is True
    assert health["last_success"] is None


def test_a_new_day_or_a_change_rebuilds_once_and_a_mark_during_a_rebuild_is_kept(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    connection_id = ical_connection(client, hotel)
    token = (
        ok(
            client.put(
                f"/api/v1/connections/{connection_id}/ical-export",
                json={},
                headers=hotel.caller.headers,
            )
        )["url"]
        .rsplit("/", 1)[1]
        .removesuffix(".ics")
    )
    now = datetime.now(UTC)
    with db.sessions() as session:
        assert isinstance(service.cached(session, token, now), service.Rebuild)
        served = service.serve(session, token, now)
        assert served is not None
        assert isinstance(service.cached(session, token, now), service.Served)
        export = session.scalar(select(IcalExport).where(IcalExport.token == token))
        assert export is not None
        assert export.rebuild_after is not None
        # The horizon moves at the property's midnight.
        assert isinstance(service.cached(session, token, export.rebuild_after), service.Rebuild)
        # A mark that lands while a body is built (after its version was read) is not lost.
        seen = export.dirty_version
        export.dirty_version += 1  # as outbox.marks does from another transaction
        service.rebuild(session, export, now)
        assert export.built_version == seen + 1
        export.dirty_version += 1
        assert isinstance(service.cached(session, token, now), service.Rebuild)
        session.rollback()


def nights(client: TestClient, path: str) -> list[tuple[str, str]]:
    events = parse_calendar(client.get(path).content, max_events=50)
    return [(e.start.isoformat(), e.end.isoformat()) for e in events]


def test_a_unit_export_shows_its_assigned_stays_and_nights_the_room_type_is_full(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=2)
    headers = hotel.caller.headers
    unit_ids = [
        ok(
            client.post(
                f"/api/v1/room-types/{hotel.room_type_id}/units",
                json={"name": name},
                headers=headers,
            ),
            201,
        )["id"]
        for name in ("Loft A", "Loft B")
    ]
    # Stays are placed by hand here, so which unit holds what is the test's choice.
    ok(
        client.patch(
            f"/api/v1/properties/{hotel.property_id}",
            json={"room_assignment": "off"},
            headers=headers,
        )
    )
    connection_id = ical_connection(client, hotel)
    url = f"/api/v1/connections/{connection_id}/ical-export"
    per_unit = ok(client.put(url, json={"unit_id": unit_ids[0]}, headers=headers))
    assert per_unit["unit_id"] == unit_ids[0]
    path = per_unit["url"].removeprefix("http://testserver")

    first = book(client, hotel, 5, 8)  # not assigned: another unit takes it first
    assert nights(client, path) == []
    book(client, hotel, 6, 7)  # the room type is full on the 6th: every unit is busy
    assert nights(client, path) == [(day(6), day(7))]

    # A stay placed in the other unit changes nothing; in this unit, its nights are busy.
    for unit_id, expected in (
        (unit_ids[1], [(day(6), day(7))]),
        (unit_ids[0], [(day(5), day(8))]),
    ):
        ok(
            client.put(
                f"/api/v1/reservations/{first['id']}/unit",
                json={"position": 0, "unit_id": unit_id},
                headers=headers,
            )
        )
        assert nights(client, path) == expected

    # The room type's export of the same connection (no unit) shows only the full night.
    whole = ok(client.put(url, json={}, headers=headers))
    assert whole["unit_id"] is None
    assert nights(client, whole["url"].removeprefix("http://testserver")) == [(day(6), day(7))]


def test_a_unit_export_refuses_a_unit_not_mapped_on_the_connection(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    other = make_hotel(client, new_tenant(db.sessions), units=1)
    foreign = ok(
        client.post(
            f"/api/v1/room-types/{other.room_type_id}/units",
            json={"name": "1"},
            headers=other.caller.headers,
        ),
        201,
    )["id"]
    connection_id = ical_connection(client, hotel)
    url = f"/api/v1/connections/{connection_id}/ical-export"
    for unit_id in (foreign, str(uuid.uuid4())):
        answer = client.put(url, json={"unit_id": unit_id}, headers=hotel.caller.headers)
        assert answer.status_code == 422
        assert "not a unit of a room type mapped" in answer.text
    assert client.get(url, headers=hotel.caller.headers).status_code == 404  # nothing created
