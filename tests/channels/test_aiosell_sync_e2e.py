"""The real sync engine pushing a DB-backed hotel to the Aiosell simulator over real HTTP.

Issue #12's evidence: a 500-day full sync with varied values takes the fewest calls the API
allows (printed with the computed minimum), the simulator then holds exactly what innsync plans
from today on, and one change after it is one call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from innsync.channels.aiosell import AIOSELL_LIMITS
from innsync.channels.aiosell.mapping import RESTRICTION_KEYS
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.sync.models import DeadLetter
from tests.channels.aiosell_live import HORIZON_DAYS, HOTEL, LiveAiosell, live_aiosell
from tests.sync.engine_fixtures import desired_over_horizon

pytestmark = pytest.mark.backends("sqlite", "postgresql")

INVENTORY, RATES = "/api/v2/cm/update/sample-pms", "/api/v2/cm/update-rates/sample-pms"


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveAiosell]:
    with live_aiosell(committed, secret_box) as running:
        seed_varied_ari(running)
        yield running


def seed_varied_ari(live: LiveAiosell) -> None:
    """Seasons, weekend prices, every restriction innsync has for Aiosell, a block and direct
    bookings, so availability, prices and restrictions all vary over the horizon."""
    start, end = live.day(-1), live.day(HORIZON_DAYS - 1)
    entries: list[dict[str, Any]] = []
    for index, plan_id in enumerate(live.rate_plan_ids):
        base = Decimal(3000 + 250 * index)
        plan = str(plan_id)
        entries += [
            {"rate_plan_id": plan, "date_from": start, "date_to": end, "price": str(base)},
            {
                "rate_plan_id": plan,
                "date_from": start,
                "date_to": end,
                "weekdays": ["fr", "sa"],
                "price": str(base + 600),
            },
            {
                "rate_plan_id": plan,
                "date_from": live.day(30),
                "date_to": live.day(120),
                "price": str(base + Decimal("455.50")),
                "min_stay_arrival": 3,
                "max_stay": 14,
            },
            {
                "rate_plan_id": plan,
                "date_from": live.day(200 + index),
                "date_to": live.day(203 + index),
                "stop_sell": True,
            },
            {
                "rate_plan_id": plan,
                "date_from": live.day(300),
                "date_to": live.day(330),
                "closed_to_arrival": True,
                "weekdays": ["su"],
            },
            {
                "rate_plan_id": plan,
                "date_from": live.day(400),
                "date_to": live.day(410),
                "closed_to_departure": True,
                "min_stay_through": 2,
                "min_advance": 1,
                "max_advance": 365,
            },
        ]
    entries.append(
        {
            "room_type_id": str(live.room_type_ids[1]),
            "date_from": live.day(50),
            "date_to": live.day(56),
            "block": {"units": 3, "kind": "maintenance"},
        }
    )
    live.ari(*entries)
    today = live.clock().date()
    with transaction(live.sessions) as session:
        for offset, nights, room in ((3, 2, 0), (10, 4, 1), (90, 7, 0)):
            create_direct(
                session,
                live.tenant_id,
                live.property_id,
                ReservationCreate(
                    arrival=today + timedelta(days=offset),
                    departure=today + timedelta(days=offset + nights),
                    rooms=[RoomIn(room_type_id=live.room_type_ids[room], adults=2, amount=300)],
                ),
            )


def minimum_calls(live: LiveAiosell) -> int:
    """The fewest calls that can carry the plan: Aiosell documents no entry or size cap
    (§1.13), so each kind of body it documents (inventory §1.5, rates §1.7, rate restrictions
    §1.8, each its own body) is one call when the plan has any such value."""
    assert AIOSELL_LIMITS.max_entries_per_request is None
    assert AIOSELL_LIMITS.max_request_bytes is None
    availability, rates = desired(live)
    values = [value for days in rates.values() for value in days.values()]
    has_prices = any(v.price is not None or v.occupancy_prices for v in values)
    has_restrictions = any(
        getattr(v, name) is not None for v in values for name in RESTRICTION_KEYS
    )
    return int(bool(availability)) + int(has_prices) + int(has_restrictions)


def desired(live: LiveAiosell) -> Any:
    return desired_over_horizon(
        live.sessions,
        live.connection_id,
        live.property_id,
        live.room_type_ids,
        live.rate_plan_ids,
        live.clock(),
    )


def assert_aiosell_shows_innsync(live: LiveAiosell) -> None:
    """From today to the horizon the simulator holds innsync's inventory, prices and
    restrictions, and nothing before today was sent."""
    held = live.sim.get("/_sim/ari").json()["data"][HOTEL]
    availability, rates = desired(live)
    today = live.clock().date()
    for room, days in availability.items():
        expected = {day.isoformat(): units for day, units in days.items() if day >= today}
        assert held["inventory"][room] == expected
    for (room, plan), days in rates.items():
        shown_rates = held["rates"][room][plan]
        shown_restrictions = held["rate_restrictions"][room][plan]
        for day, values in days.items():
            if day < today:
                continue
            key = day.isoformat()
            assert Decimal(str(shown_rates[key])) == values.price, (plan, key)
            expected_restrictions = {
                aiosell: getattr(values, name)
                for name, aiosell in RESTRICTION_KEYS.items()
                if getattr(values, name) is not None
            }
            shown = shown_restrictions.get(key, {})
            assert {k: shown.get(k) for k in expected_restrictions} == expected_restrictions
    sent = [
        entry_start
        for _, body in live.update_calls()
        for entry_start in (update["startDate"] for update in body["updates"])
    ]
    assert min(sent) == today.isoformat()


def test_full_sync_of_500_days_takes_the_fewest_calls_the_api_allows(live: LiveAiosell) -> None:
    live.sync()

    calls = live.update_calls()
    minimum = minimum_calls(live)
    # Printed as the issue asks (pytest -s shows it); the assertion below is the evidence.
    print(f"aiosell full sync of {HORIZON_DAYS} days: {len(calls)} calls, minimum {minimum}")  # noqa: T201
    assert len(calls) == minimum == 3
    assert sorted(path for path, _ in calls) == sorted([INVENTORY, RATES, RATES])
    # Varied values: several inventory counts, many prices, every restriction kind.
    bodies = [body for _, body in calls]
    inventory = [r["available"] for b in bodies for u in b["updates"] for r in u.get("rooms", ())]
    prices = [
        r["rate"] for b in bodies for u in b["updates"] for r in u.get("rates", ()) if "rate" in r
    ]
    restriction_keys = {
        key
        for b in bodies
        for u in b["updates"]
        for r in u.get("rates", ())
        for key in r.get("restrictions", {})
    }
    assert len(set(inventory)) >= 3
    assert len(set(prices)) >= 8
    assert restriction_keys >= {
        "stopSell",
        "minimumStay",
        "maximumStay",
        "closeOnArrival",
        "closeOnDeparture",
        "minimumStayArrival",
        "minimumAdvanceReservation",
        "maximumAdvanceReservation",
    }
    assert_aiosell_shows_innsync(live)
    with live.sessions() as session:
        assert list(session.scalars(select(DeadLetter))) == []


def test_one_change_after_the_full_sync_is_one_call(live: LiveAiosell) -> None:
    live.sync()
    done = len(live.update_calls())

    # One price on one date: one rates call with one entry, the price only.
    live.ari(
        {
            "rate_plan_id": str(live.rate_plan_ids[1]),
            "date_from": live.day(40),
            "date_to": live.day(40),
            "price": "3333.00",
        }
    )
    live.sync()
    (one,) = live.update_calls()[done:]
    assert one == (
        RATES,
        {
            "hotelCode": HOTEL,
            "updates": [
                {
                    "startDate": live.day(40),
                    "endDate": live.day(40),
                    "rates": [
                        {"roomCode": "EXECUTIVE", "rateplanCode": "EXECUTIVE-NRF", "rate": 3333.0}
                    ],
                }
            ],
        },
    )

    # One restriction over a range: one restrictions call.
    live.ari(
        {
            "rate_plan_id": str(live.rate_plan_ids[2]),
            "date_from": live.day(230),
            "date_to": live.day(236),
            "stop_sell": True,
        }
    )
    live.sync()
    (two,) = live.update_calls()[done + 1 :]
    assert two[0] == RATES
    (update,) = two[1]["updates"]
    assert (update["startDate"], update["endDate"]) == (live.day(230), live.day(236))
    assert update["rates"] == [
        {"roomCode": "SUITE", "rateplanCode": "SUITE-BAR", "restrictions": {"stopSell": True}}
    ]

    # A booking taken by the PMS: one inventory call.
    today = live.clock().date()
    with transaction(live.sessions) as session:
        create_direct(
            session,
            live.tenant_id,
            live.property_id,
            ReservationCreate(
                arrival=today + timedelta(days=20),
                departure=today + timedelta(days=22),
                rooms=[RoomIn(room_type_id=live.room_type_ids[0], adults=2, amount=300)],
            ),
        )
    live.sync()
    (three,) = live.update_calls()[done + 2 :]
    assert three[0] == INVENTORY
    assert_aiosell_shows_innsync(live)
