"""Direct reservations: the ledger moves with every change, and every change is audited."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import Hotel, day, make_hotel, new_tenant, ok
from tests.conftest import Db


def _sold(client: TestClient, hotel: Hotel, start: int, end: int) -> list[int]:
    found = ok(
        client.get(
            f"/api/v1/properties/{hotel.property_id}/availability",
            params={"date_from": day(start), "date_to": day(end)},
            headers=hotel.caller.headers,
        )
    )
    return [entry["sold"] for entry in found["room_types"][0]["days"]]


def _book(client: TestClient, hotel: Hotel, arrival: int, departure: int, rooms: int = 1) -> Any:
    return client.post(
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
            ]
            * rooms,
            "guest": {"last_name": "Rossi", "phone": "+39 06 1234 5678"},
        },
        headers=hotel.caller.headers,
    )


def test_modify_moves_the_ledger_by_the_difference(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=2)
    booking = ok(_book(client, hotel, 2, 4), 201)
    assert _sold(client, hotel, 1, 5) == [0, 1, 1, 0, 0]

    moved = ok(
        client.patch(
            f"/api/v1/reservations/{booking['id']}",
            json={"arrival": day(3), "departure": day(6)},
            headers=hotel.caller.headers,
        )
    )
    assert (moved["revision"], moved["total_amount"]) == (2, "300.00")
    assert _sold(client, hotel, 1, 6) == [0, 0, 1, 1, 1, 0]

    cancelled = ok(
        client.post(f"/api/v1/reservations/{booking['id']}/cancel", headers=hotel.caller.headers)
    )
    assert cancelled["status"] == "cancelled"
    assert _sold(client, hotel, 1, 6) == [0] * 6
    again = ok(
        client.post(f"/api/v1/reservations/{booking['id']}/cancel", headers=hotel.caller.headers)
    )
    assert again["revision"] == cancelled["revision"]
    assert _sold(client, hotel, 1, 6) == [0] * 6

    changes = ok(
        client.get(f"/api/v1/reservations/{booking['id']}/changes", headers=hotel.caller.headers)
    )
    assert [(c["revision"], c["action"]) for c in changes] == [
        (1, "created"),
        (2, "modified"),
        (3, "cancelled"),
    ]
    assert changes[1]["changes"]["arrival"] == [day(2), day(3)]
    assert all(c["origin"] == "api" and c["actor_key_id"] for c in changes)

    feed = ok(client.get("/api/v1/events", headers=hotel.caller.headers))
    assert [e["kind"] for e in feed["events"]] == [
        "reservation.created",
        "reservation.modified",
        "reservation.cancelled",
    ]


def test_no_unit_left_answers_409_and_changes_nothing(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=2)
    ok(_book(client, hotel, 5, 7, rooms=2), 201)
    refused = _book(client, hotel, 6, 8)
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"room type DBL has 0 unit(s) left on {day(6)}; 1 requested"
    assert _sold(client, hotel, 5, 8) == [2, 2, 0, 0]
    listed = ok(
        client.get(
            f"/api/v1/properties/{hotel.property_id}/reservations", headers=hotel.caller.headers
        )
    )
    assert len(listed["items"]) == 1


def test_modification_that_does_not_fit_keeps_the_old_booking(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=1)
    first = ok(_book(client, hotel, 1, 3), 201)
    ok(_book(client, hotel, 3, 5), 201)
    refused = client.patch(
        f"/api/v1/reservations/{first['id']}",
        json={"departure": day(4)},
        headers=hotel.caller.headers,
    )
    assert refused.status_code == 409
    kept = ok(client.get(f"/api/v1/reservations/{first['id']}", headers=hotel.caller.headers))
    assert (kept["departure"], kept["revision"]) == (day(3), 1)
    assert _sold(client, hotel, 1, 4) == [1, 1, 1, 1]


def test_guests_are_matched_by_email_then_phone(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=5)

    def book(guest: dict[str, str]) -> Any:
        return ok(
            client.post(
                f"/api/v1/properties/{hotel.property_id}/reservations",
                json={
                    "arrival": day(1),
                    "departure": day(2),
                    "guest": guest,
                    "rooms": [{"room_type_id": hotel.room_type_id, "adults": 1, "amount": "90.00"}],
                },
                headers=hotel.caller.headers,
            ),
            201,
        )["guest"]

    first = book(
        {"first_name": "Maria", "email": "Maria.Rossi@Example.COM", "phone": "+390612345678"}
    )
    by_email = book({"last_name": "Rossi", "email": "maria.rossi@example.com"})
    by_phone = book({"first_name": "Mary", "phone": "+39 06 1234 5678"})
    stranger = book({"first_name": "Luca", "email": "luca@example.com"})
    assert first["id"] == by_email["id"] == by_phone["id"] != stranger["id"]
    assert (by_phone["first_name"], by_phone["last_name"]) == ("Mary", "Rossi")


def test_a_direct_booking_keeps_requests_arrival_time_children_s_ages_and_the_guest_s_address(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    guest = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "country": "GB",
        "address": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "language": "en-GB",
    }
    made = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(3),
                "departure": day(5),
                "arrival_time": "19:45",
                "rooms": [
                    {
                        "room_type_id": hotel.room_type_id,
                        "rate_plan_id": hotel.rate_plan_id,
                        "adults": 2,
                        "children": 1,
                        "child_ages": [5],
                    }
                ],
                "guest": guest,
                "special_requests": "Cot, please",
                "notes": "Regular guest",
            },
            headers=hotel.caller.headers,
        ),
        201,
    )
    shown = ok(client.get(f"/api/v1/reservations/{made['id']}", headers=hotel.caller.headers))
    assert {key: shown["guest"][key] for key in guest} == guest
    assert (shown["source"], shown["connection_id"], shown["ota_name"]) == ("direct", None, None)
    assert (shown["arrival_time"], shown["special_requests"], shown["notes"]) == (
        "19:45",
        "Cot, please",
        "Regular guest",
    )
    assert shown["booked_at"] is not None
    assert [(r["children"], r["child_ages"], r["charges"]) for r in shown["rooms"]] == [
        (1, [5], [])
    ]

    # A move keeps the ages; the arrival time can be cleared.
    moved = ok(
        client.patch(
            f"/api/v1/reservations/{made['id']}",
            json={"departure": day(6), "arrival_time": None},
            headers=hotel.caller.headers,
        )
    )
    assert (moved["rooms"][0]["child_ages"], moved["arrival_time"]) == ([5], None)

    too_many = client.post(
        f"/api/v1/properties/{hotel.property_id}/reservations",
        json={
            "arrival": day(3),
            "departure": day(4),
            "rooms": [
                {
                    "room_type_id": hotel.room_type_id,
                    "adults": 2,
                    "child_ages": [5],
                    "amount": "90.00",
                }
            ],
        },
        headers=hotel.caller.headers,
    )
    assert too_many.status_code == 422
    assert "child_ages" in too_many.text
