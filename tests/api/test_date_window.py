"""Dates far from any horizon (0001-01-01, 9999-12-30) are 422 with the window, never stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from innsync.settings import Settings
from tests.api.helpers import Hotel, make_hotel, new_tenant, ok, pointers, problem
from tests.conftest import Db

# Noon in Rome on 2026-03-12: the window is counted from the property's own today.
NOW = datetime(2026, 3, 12, 11, 0, tzinfo=UTC)
WINDOW = "2021-03-12 .. 2031-03-12"  # the default, 5 years either side


@pytest.fixture
def hotel(client: TestClient, db: Db) -> Any:
    with time_machine.travel(NOW, tick=False):
        yield make_hotel(client, new_tenant(db.sessions))


def _stay(hotel: Hotel, arrival: str, departure: str) -> dict[str, Any]:
    room = {"room_type_id": hotel.room_type_id, "adults": 2, "amount": "200.00"}
    return {"arrival": arrival, "departure": departure, "rooms": [room]}


@pytest.mark.parametrize(
    ("arrival", "departure", "pointer"),
    [
        ("0001-01-01", "0001-01-03", "/arrival"),
        ("9999-12-28", "9999-12-30", "/departure"),
        ("2021-03-10", "2021-03-12", "/arrival"),
        ("2031-03-11", "2031-03-13", "/departure"),
    ],
)
def test_a_booking_outside_the_window_is_refused(
    client: TestClient, hotel: Hotel, arrival: str, departure: str, pointer: str
) -> None:
    headers, prop = hotel.caller.headers, hotel.property_id
    with time_machine.travel(NOW, tick=False):
        body = problem(
            client.post(
                f"/api/v1/properties/{prop}/reservations",
                json=_stay(hotel, arrival, departure),
                headers=headers,
            ),
            422,
            WINDOW,
            "5 years either side of the property's today",
        )
        assert pointer in pointers(body)
        listed = ok(client.get(f"/api/v1/properties/{prop}/reservations", headers=headers))
    assert listed["items"] == []


def test_the_window_edges_are_accepted_and_a_move_outside_is_refused(
    client: TestClient, hotel: Hotel
) -> None:
    headers, prop = hotel.caller.headers, hotel.property_id
    with time_machine.travel(NOW, tick=False):
        first = client.post(
            f"/api/v1/properties/{prop}/reservations",
            json=_stay(hotel, "2021-03-12", "2021-03-14"),
            headers=headers,
        )
        last = client.post(
            f"/api/v1/properties/{prop}/reservations",
            json=_stay(hotel, "2031-03-10", "2031-03-12"),
            headers=headers,
        )
        booked = ok(first, 201)
        ok(last, 201)
        moved = problem(
            client.patch(
                f"/api/v1/reservations/{booked['id']}",
                json={"arrival": "9999-12-28", "departure": "9999-12-30"},
                headers=headers,
            ),
            422,
            WINDOW,
        )
        kept = ok(client.get(f"/api/v1/reservations/{booked['id']}", headers=headers))
    assert set(pointers(moved)) == {"/arrival", "/departure"}
    assert (kept["arrival"], kept["departure"]) == ("2021-03-12", "2021-03-14")


def test_search_windows_outside_the_window_are_refused(client: TestClient, hotel: Hotel) -> None:
    headers, prop, plan = hotel.caller.headers, hotel.property_id, hotel.rate_plan_id
    far = {"date_from": "0001-01-01", "date_to": "0001-01-05"}
    reads = [
        (f"/api/v1/properties/{prop}/reservations", {"arrival_from": "0001-01-01"}),
        (
            f"/api/v1/properties/{prop}/reservations",
            {"staying_from": "2026-03-01", "staying_to": "9999-12-30"},
        ),
        (
            f"/api/v1/properties/{prop}/reservations",
            {"changed_since": "0001-01-01T00:00:00+01:00"},
        ),
        (
            f"/api/v1/properties/{prop}/reservations",
            {"changed_since": "9999-12-31T23:59:59-01:00"},
        ),
        (f"/api/v1/properties/{prop}/unassigned-stays", far),
        (f"/api/v1/properties/{prop}/availability", far),
        (f"/api/v1/rate-plans/{plan}/calendar", far),
    ]
    with time_machine.travel(NOW, tick=False):
        for path, params in reads:
            answer = client.get(path, params=params, headers=headers)
            body = problem(answer, 422, "1900-01-01" if "changed_since" in params else WINDOW)
            assert all(pointer.startswith("/query/") for pointer in pointers(body)), body
        near = {"date_from": "2026-03-12", "date_to": "2026-03-20"}
        ok(client.get(f"/api/v1/properties/{prop}/availability", params=near, headers=headers))


def test_ari_and_blocks_keep_to_the_horizon(client: TestClient, hotel: Hotel) -> None:
    headers = hotel.caller.headers
    with time_machine.travel(NOW, tick=False):
        ari = client.post(
            f"/api/v1/properties/{hotel.property_id}/ari",
            json={
                "entries": [
                    {
                        "rate_plan_id": hotel.rate_plan_id,
                        "date_from": "9999-12-28",
                        "date_to": "9999-12-30",
                        "price": "5",
                    }
                ]
            },
            headers=headers,
        )
        block = client.post(
            f"/api/v1/room-types/{hotel.room_type_id}/blocks",
            json={"date_from": "0001-01-01", "date_to": "0001-01-02", "units": 1},
            headers=headers,
        )
    assert "horizon" in pointers(problem(ari, 422, "nothing was written"))["/entries/0"]
    problem(block, 422, "horizon")


class TestTheOperatorsWindow:
    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(database_url="sqlite://", background_loops=False, date_window_years=1)

    def test_a_narrower_window_refuses_what_the_default_takes(
        self, client: TestClient, hotel: Hotel
    ) -> None:
        with time_machine.travel(NOW, tick=False):
            answer = client.post(
                f"/api/v1/properties/{hotel.property_id}/reservations",
                json=_stay(hotel, "2027-06-01", "2027-06-03"),
                headers=hotel.caller.headers,
            )
        problem(answer, 422, "2025-03-12 .. 2027-03-12", "1 year either side")
