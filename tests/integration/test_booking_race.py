"""Concurrent direct bookings for the last units: the ledger never oversells, on every database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import Engine, func, select

from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.inventory.models import InventoryLedgerDay
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from tests.api.helpers import new_tenant, today
from tests.servers import serving

BOOKERS = 50
LAST_UNITS = 3


def test_fifty_concurrent_bookings_for_the_last_three_units(
    committed: Engine, secret_box: SecretBox
) -> None:
    sessions = session_factory(committed)
    caller = new_tenant(sessions)
    app = create_app(
        Settings(database_url="sqlite://", background_loops=False),
        engine=committed,
        sessions=sessions,
        secret_box=secret_box,
        run_loops=False,
    )
    arrival = today() + timedelta(days=10)
    with (
        serving(app) as base_url,
        httpx.Client(base_url=base_url, headers=caller.headers, timeout=60) as http,
    ):
        prop = http.post(
            "/api/v1/properties",
            json={"name": "Last rooms", "timezone": "Asia/Kolkata", "currency": "INR"},
        ).json()
        room_type = http.post(
            f"/api/v1/properties/{prop['id']}/room-types",
            json={
                "code": "STD",
                "name": "Standard",
                "sellable_units": 10,
                "max_adults": 2,
                "max_occupancy": 2,
                "default_occupancy": 2,
            },
        ).json()
        # Seven of ten units already sold: three are left for fifty guests.
        seeded = http.post(
            f"/api/v1/properties/{prop['id']}/reservations",
            json={
                "arrival": arrival.isoformat(),
                "departure": (arrival + timedelta(days=2)).isoformat(),
                "rooms": [{"room_type_id": room_type["id"], "adults": 1, "amount": "100.00"}] * 7,
            },
        )
        assert seeded.status_code == 201, seeded.text

        def book(guest: int) -> httpx.Response:
            return http.post(
                f"/api/v1/properties/{prop['id']}/reservations",
                json={
                    "arrival": arrival.isoformat(),
                    "departure": (arrival + timedelta(days=2)).isoformat(),
                    "rooms": [{"room_type_id": room_type["id"], "adults": 1, "amount": "180.00"}],
                    "guest": {"last_name": f"Guest {guest}"},
                },
            )

        with ThreadPoolExecutor(max_workers=BOOKERS) as pool:
            responses = list(pool.map(book, range(BOOKERS)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == LAST_UNITS
    assert statuses.count(409) == BOOKERS - LAST_UNITS
    refusal = next(r for r in responses if r.status_code == 409)
    assert refusal.headers["content-type"] == "application/problem+json"
    assert "STD has 0 unit(s) left" in refusal.json()["detail"]

    with sessions() as session:
        rows = session.execute(select(InventoryLedgerDay.stay_date, InventoryLedgerDay.sold))
        sold = {stay_date: count for stay_date, count in rows}
        stored = session.scalar(select(func.count()).select_from(Reservation))
    assert sold == {arrival: 10, arrival + timedelta(days=1): 10}
    assert stored == 1 + LAST_UNITS
