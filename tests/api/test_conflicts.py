"""The conflicts API: list, read and resolve, each resolution audited; tenants kept apart."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import Caller, Hotel, day, make_hotel, new_tenant, ok, pointers, problem
from tests.conftest import Db
from tests.reservations.builders import conflict_through_api


def _hotel_with_channel(client: TestClient, db: Db, name: str = "Group") -> tuple[Hotel, str]:
    hotel = make_hotel(client, new_tenant(db.sessions, name), units=2)
    headers = hotel.caller.headers
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "OTA"},
            headers=headers,
        ),
        201,
    )
    mappings = {
        "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "DBL"}],
        "rate_plans": [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "DBL-BAR"}],
    }
    ok(
        client.put(
            f"/api/v1/connections/{connection['id']}/mappings", json=mappings, headers=headers
        )
    )
    return hotel, connection["id"]


def _held(client: TestClient, db: Db, hotel: Hotel, connection_id: str) -> tuple[str, str]:
    return conflict_through_api(
        client, db.sessions, hotel.caller.headers, connection_id, hotel.room_type_id
    )


def _sold(client: TestClient, caller: Caller, property_id: str) -> list[int]:
    found = ok(
        client.get(
            f"/api/v1/properties/{property_id}/availability",
            params={"date_from": day(39), "date_to": day(43)},
            headers=caller.headers,
        )
    )
    return [entry["sold"] for entry in found["room_types"][0]["days"]]


def test_a_conflict_is_listed_read_and_resolved_once(client: TestClient, db: Db) -> None:
    hotel, connection_id = _hotel_with_channel(client, db)
    headers = hotel.caller.headers
    reservation_id, conflict_id = _held(client, db, hotel, connection_id)

    listed = ok(client.get("/api/v1/conflicts", params={"status": "open"}, headers=headers))
    assert [c["id"] for c in listed] == [conflict_id]
    assert ok(client.get("/api/v1/conflicts", params={"status": "resolved"}, headers=headers)) == []
    by_property = {"property_id": hotel.property_id}
    assert len(ok(client.get("/api/v1/conflicts", params=by_property, headers=headers))) == 1
    conflict = ok(client.get(f"/api/v1/conflicts/{conflict_id}", headers=headers))
    assert (conflict["status"], conflict["fields"], conflict["reservation_id"]) == (
        "open",
        ["amount"],
        reservation_id,
    )
    assert (conflict["channel"]["total"], conflict["pms"]["total_amount"]) == ("200.00", "500.00")
    assert _sold(client, hotel.caller, hotel.property_id) == [0, 1, 1, 0, 0]

    resolved = ok(
        client.post(
            f"/api/v1/conflicts/{conflict_id}/resolve", json={"accept": "channel"}, headers=headers
        )
    )
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "channel")
    assert resolved["resolved_by_key_id"]
    reservation = ok(client.get(f"/api/v1/reservations/{reservation_id}", headers=headers))
    assert (reservation["total_amount"], reservation["revision"]) == ("200.00", 3)
    assert _sold(client, hotel.caller, hotel.property_id) == [0, 1, 1, 0, 0]
    changes = ok(client.get(f"/api/v1/reservations/{reservation_id}/changes", headers=headers))
    assert [(c["action"], c["origin"]) for c in changes] == [
        ("created", "inbox:1"),
        ("modified", "api"),
        ("modified", f"conflict:{conflict_id}"),
    ]
    assert (
        changes[1]["actor_key_id"] == changes[2]["actor_key_id"] == resolved["resolved_by_key_id"]
    )
    feed = ok(client.get("/api/v1/events", params={"limit": 500}, headers=headers))
    kinds = [event["kind"] for event in feed["events"]]
    assert kinds[-3:] == [
        "reservation.conflict",
        "reservation.modified",
        "reservation.conflict_resolved",
    ]

    again = client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve", json={"accept": "pms"}, headers=headers
    )
    problem(again, 409, "already resolved")
    assert (
        ok(client.get(f"/api/v1/reservations/{reservation_id}", headers=headers))["revision"] == 3
    )


def test_resolution_bodies_are_validated(client: TestClient, db: Db) -> None:
    hotel, connection_id = _hotel_with_channel(client, db)
    headers = hotel.caller.headers
    _, conflict_id = _held(client, db, hotel, connection_id)
    url = f"/api/v1/conflicts/{conflict_id}/resolve"

    for body, fragment in [
        ({"accept": "merge"}, "a merge needs the fields"),
        ({"accept": "merge", "fields": []}, ""),
        ({"accept": "channel", "fields": ["dates"]}, "fields are only for a merge"),
        ({"accept": "merge", "fields": ["dates", "dates"]}, "name each field once"),
        ({"accept": "merge", "fields": ["notes"]}, ""),
        ({"accept": "both"}, ""),
        ({}, ""),
    ]:
        found = problem(client.post(url, json=body, headers=headers), 422)
        assert fragment in str(pointers(found)), (body, found)
    assert ok(client.get(f"/api/v1/conflicts/{conflict_id}", headers=headers))["status"] == "open"
    problem(client.get("/api/v1/conflicts", params={"status": "closed"}, headers=headers), 422)

    merged = ok(
        client.post(url, json={"accept": "merge", "fields": ["amount", "guest"]}, headers=headers)
    )
    assert (merged["resolution"], merged["resolved_fields"]) == ("merge", ["amount", "guest"])


def test_another_tenants_conflicts_are_not_found(client: TestClient, db: Db) -> None:
    a, a_connection = _hotel_with_channel(client, db, "hotel-a")
    b, _ = _hotel_with_channel(client, db, "hotel-b")
    _, conflict_id = _held(client, db, a, a_connection)

    assert ok(client.get("/api/v1/conflicts", headers=b.caller.headers)) == []
    problem(
        client.get(
            "/api/v1/conflicts", params={"property_id": a.property_id}, headers=b.caller.headers
        ),
        404,
        a.property_id,
    )
    problem(client.get(f"/api/v1/conflicts/{conflict_id}", headers=b.caller.headers), 404)
    response = client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve",
        json={"accept": "pms"},
        headers=b.caller.headers,
    )
    problem(response, 404, conflict_id, "not found")
    conflict = ok(client.get(f"/api/v1/conflicts/{conflict_id}", headers=a.caller.headers))
    assert (conflict["status"], conflict["resolution"]) == ("open", None)
