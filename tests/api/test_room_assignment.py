"""Room assignment over HTTP: the unit on the reservation, the manual change and the front
desk's list of stays without a unit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import Caller, new_tenant, ok, problem
from tests.conftest import Db

pytestmark = pytest.mark.backends("sqlite", "postgresql")

# Fixed dates far in the future: nothing here depends on today.
NIGHT_1, NIGHT_2, NIGHT_3, NIGHT_4 = "2031-05-01", "2031-05-02", "2031-05-03", "2031-05-04"


def _setup(client: TestClient, caller: Caller, policy: str | None = None) -> dict[str, Any]:
    """A property with a DBL type selling 3 units, two of them named (1 and 2), and a TWN."""
    headers = caller.headers
    body: dict[str, Any] = {"name": "Inn", "timezone": "Europe/Rome", "currency": "EUR"}
    if policy is not None:
        body["room_assignment"] = policy
    prop = ok(client.post("/api/v1/properties", json=body, headers=headers), 201)
    types: dict[str, Any] = {}
    for code in ("DBL", "TWN"):
        types[code] = ok(
            client.post(
                f"/api/v1/properties/{prop['id']}/room-types",
                json={
                    "code": code,
                    "name": code,
                    "sellable_units": 3,
                    "max_adults": 2,
                    "max_occupancy": 2,
                    "default_occupancy": 2,
                },
                headers=headers,
            ),
            201,
        )
    units = {
        name: ok(
            client.post(
                f"/api/v1/room-types/{types[code]['id']}/units",
                json={"name": name},
                headers=headers,
            ),
            201,
        )["id"]
        for code, name in (("DBL", "1"), ("DBL", "2"), ("TWN", "7"))
    }
    return {"property": prop, "types": types, "units": units}


def _book(
    client: TestClient, caller: Caller, hotel: dict[str, Any], arrival: str, departure: str
) -> dict[str, Any]:
    booked: dict[str, Any] = ok(
        client.post(
            f"/api/v1/properties/{hotel['property']['id']}/reservations",
            json={
                "arrival": arrival,
                "departure": departure,
                "rooms": [
                    {"room_type_id": hotel["types"]["DBL"]["id"], "adults": 2, "amount": "90.00"}
                ],
            },
            headers=caller.headers,
        ),
        201,
    )
    return booked


def _unassigned(client: TestClient, caller: Caller, hotel: dict[str, Any]) -> list[Any]:
    listed: list[Any] = ok(
        client.get(
            f"/api/v1/properties/{hotel['property']['id']}/unassigned-stays",
            params={"date_from": NIGHT_1, "date_to": NIGHT_4},
            headers=caller.headers,
        )
    )
    return listed


def test_units_are_assigned_changed_by_hand_and_listed_when_missing(
    client: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    hotel = _setup(client, caller)
    assert hotel["property"]["room_assignment"] == "fill"
    units = hotel["units"]
    first = _book(client, caller, hotel, NIGHT_1, NIGHT_3)
    second = _book(client, caller, hotel, NIGHT_2, NIGHT_4)
    third = _book(client, caller, hotel, NIGHT_2, NIGHT_3)  # sold, but both units are taken
    assert [r["rooms"][0]["unit_id"] for r in (first, second, third)] == [
        units["1"],
        units["2"],
        None,
    ]
    assert [(s["reservation_id"], s["position"]) for s in _unassigned(client, caller, hotel)] == [
        (third["id"], 0)
    ]

    url = f"/api/v1/reservations/{third['id']}/unit"
    clash = client.put(url, json={"position": 0, "unit_id": units["1"]}, headers=caller.headers)
    problem(clash, 409, f"unit 1 is held by another stay on {NIGHT_2}")
    wrong_type = client.put(
        url, json={"position": 0, "unit_id": units["7"]}, headers=caller.headers
    )
    problem(wrong_type, 422, "another room type")
    no_room = client.put(url, json={"position": 1, "unit_id": units["1"]}, headers=caller.headers)
    problem(no_room, 404, "no room at position 1")

    # The front desk moves the first stay out of unit 1 and puts the third there.
    ok(
        client.put(
            f"/api/v1/reservations/{first['id']}/unit",
            json={"position": 0, "unit_id": None},
            headers=caller.headers,
        )
    )
    placed = ok(
        client.put(url, json={"position": 0, "unit_id": units["1"]}, headers=caller.headers)
    )
    assert placed["rooms"][0]["unit_id"] == units["1"]
    fetched = ok(client.get(f"/api/v1/reservations/{third['id']}", headers=caller.headers))
    assert fetched["rooms"][0]["unit_id"] == units["1"]
    assert [s["reservation_id"] for s in _unassigned(client, caller, hotel)] == [first["id"]]
    held = client.delete(f"/api/v1/units/{units['1']}", headers=caller.headers)
    problem(held, 409, "assigned")

    # A cancelled stay holds no unit and cannot be given one.
    ok(client.post(f"/api/v1/reservations/{second['id']}/cancel", headers=caller.headers))
    cancelled = ok(client.get(f"/api/v1/reservations/{second['id']}", headers=caller.headers))
    assert cancelled["rooms"][0]["unit_id"] is None
    refused = client.put(
        f"/api/v1/reservations/{second['id']}/unit",
        json={"position": 0, "unit_id": units["2"]},
        headers=caller.headers,
    )
    problem(refused, 409, "cancelled")


def test_a_waiting_stay_takes_a_freed_or_new_unit(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = _setup(client, caller)
    units = hotel["units"]
    first = _book(client, caller, hotel, NIGHT_1, NIGHT_3)
    _book(client, caller, hotel, NIGHT_1, NIGHT_3)
    waiting = _book(client, caller, hotel, NIGHT_2, NIGHT_3)
    assert [s["reservation_id"] for s in _unassigned(client, caller, hotel)] == [waiting["id"]]

    ok(client.post(f"/api/v1/reservations/{first['id']}/cancel", headers=caller.headers))
    placed = ok(client.get(f"/api/v1/reservations/{waiting['id']}", headers=caller.headers))
    assert placed["rooms"][0]["unit_id"] == units["1"]
    assert _unassigned(client, caller, hotel) == []

    # Three sold on a night, two units named: the third stay waits until a unit is added.
    third = _book(client, caller, hotel, NIGHT_2, NIGHT_3)
    assert [s["reservation_id"] for s in _unassigned(client, caller, hotel)] == [third["id"]]
    added = ok(
        client.post(
            f"/api/v1/room-types/{hotel['types']['DBL']['id']}/units",
            json={"name": "3"},
            headers=caller.headers,
        ),
        201,
    )
    fetched = ok(client.get(f"/api/v1/reservations/{third['id']}", headers=caller.headers))
    assert fetched["rooms"][0]["unit_id"] == added["id"]
    assert _unassigned(client, caller, hotel) == []


def test_switched_off_no_stay_gets_a_unit(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = _setup(client, caller, policy="off")
    booked = _book(client, caller, hotel, NIGHT_1, NIGHT_3)
    assert booked["rooms"][0]["unit_id"] is None
    assert [s["reservation_id"] for s in _unassigned(client, caller, hotel)] == [booked["id"]]
    # Switched on again, the next booking gets a unit; the earlier one waits for the desk.
    ok(
        client.patch(
            f"/api/v1/properties/{hotel['property']['id']}",
            json={"room_assignment": "spread"},
            headers=caller.headers,
        )
    )
    later = _book(client, caller, hotel, NIGHT_1, NIGHT_3)
    assert later["rooms"][0]["unit_id"] == hotel["units"]["1"]


def test_bad_policy_and_dates_are_refused(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = _setup(client, caller)
    bad = client.patch(
        f"/api/v1/properties/{hotel['property']['id']}",
        json={"room_assignment": "random"},
        headers=caller.headers,
    )
    assert bad.status_code == 422
    backwards = client.get(
        f"/api/v1/properties/{hotel['property']['id']}/unassigned-stays",
        params={"date_from": NIGHT_3, "date_to": NIGHT_1},
        headers=caller.headers,
    )
    problem(backwards, 422, "date_to must be later")
