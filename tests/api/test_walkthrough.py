"""The README's walk-through, step by step, on every database."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import day, make_hotel, new_tenant, ok
from tests.conftest import Db


def test_book_a_room_and_see_the_ledger_and_events(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller, units=2, price="120.00")

    booked = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(3),
                "departure": day(5),
                "rooms": [
                    {
                        "room_type_id": hotel.room_type_id,
                        "rate_plan_id": hotel.rate_plan_id,
                        "adults": 2,
                    }
                ],
                "guest": {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com"},
            },
            headers=caller.headers,
        ),
        201,
    )
    assert booked["status"] == "confirmed"
    assert booked["total_amount"] == "240.00"
    assert booked["guest"]["email"] == "Ada@Example.com"

    availability = ok(
        client.get(
            f"/api/v1/properties/{hotel.property_id}/availability",
            params={"date_from": day(2), "date_to": day(5)},
            headers=caller.headers,
        )
    )
    days = {
        d["stay_date"]: (d["sold"], d["available"]) for d in availability["room_types"][0]["days"]
    }
    assert days == {day(2): (0, 2), day(3): (1, 1), day(4): (1, 1), day(5): (0, 2)}

    feed = ok(client.get("/api/v1/events", headers=caller.headers))
    assert [event["kind"] for event in feed["events"]] == ["reservation.created"]
    assert feed["events"][0]["subject_id"] == booked["id"]
