"""Bulk ARI writes and the effective calendar, including derived and per-person plans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from innsync.channels import fake as fake_channel
from innsync.channels import registry
from innsync.channels.fake import FakeChannelConfig
from innsync.channels.registry import ChannelKind
from innsync.channels.types import ValueConstraints
from tests.api.helpers import Hotel, day, make_hotel, new_tenant, ok, pointers, problem, today
from tests.conftest import Db


def _calendar(
    client: TestClient, hotel: Hotel, plan_id: str, start: int, end: int
) -> dict[str, Any]:
    found = ok(
        client.get(
            f"/api/v1/rate-plans/{plan_id}/calendar",
            params={"date_from": day(start), "date_to": day(end)},
            headers=hotel.caller.headers,
        )
    )
    return {entry["stay_date"]: entry for entry in found["days"]}


def _ari(client: TestClient, hotel: Hotel, entries: list[dict[str, Any]]) -> Any:
    return client.post(
        f"/api/v1/properties/{hotel.property_id}/ari",
        json={"entries": entries},
        headers=hotel.caller.headers,
    )


def test_weekday_entry_changes_only_those_days_and_only_given_fields(
    client: TestClient, db: Db
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    result = ok(
        _ari(
            client,
            hotel,
            [
                {
                    "rate_plan_id": hotel.rate_plan_id,
                    "date_from": day(0),
                    "date_to": day(13),
                    "weekdays": ["fr", "sa"],
                    "price": "150.00",
                    "min_stay_arrival": 2,
                },
            ],
        )
    )
    fortnight = [today() + timedelta(days=offset) for offset in range(14)]
    expected_changed = sum(1 for stay_date in fortnight if stay_date.weekday() in (4, 5))
    assert result["results"] == [
        {"index": 0, "status": "applied", "dates_changed": expected_changed, "block_ids": []}
    ]
    calendar = _calendar(client, hotel, hotel.rate_plan_id, 0, 13)
    for stay_date, values in calendar.items():
        is_weekend = date.fromisoformat(stay_date).weekday() in (4, 5)
        assert values["price"] == ("150.00" if is_weekend else "100.00")
        assert values["min_stay_arrival"] == (2 if is_weekend else None)
        assert values["stop_sell"] is None


def test_null_clears_a_field_and_absent_fields_stay(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    ok(
        _ari(
            client,
            hotel,
            [
                {
                    "rate_plan_id": hotel.rate_plan_id,
                    "date_from": day(1),
                    "date_to": day(2),
                    "stop_sell": True,
                    "max_stay": 7,
                }
            ],
        )
    )
    ok(
        _ari(
            client,
            hotel,
            [
                {
                    "rate_plan_id": hotel.rate_plan_id,
                    "date_from": day(1),
                    "date_to": day(1),
                    "stop_sell": None,
                }
            ],
        )
    )
    calendar = _calendar(client, hotel, hotel.rate_plan_id, 1, 2)
    assert (calendar[day(1)]["stop_sell"], calendar[day(1)]["max_stay"]) == (None, 7)
    assert (calendar[day(2)]["stop_sell"], calendar[day(2)]["max_stay"]) == (True, 7)
    assert calendar[day(1)]["price"] == "100.00"


def test_rewriting_the_same_values_reports_no_change(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    entry = {
        "rate_plan_id": hotel.rate_plan_id,
        "date_from": day(0),
        "date_to": day(9),
        "price": "100.00",
    }
    assert ok(_ari(client, hotel, [entry]))["results"][0]["dates_changed"] == 0


def test_derived_plan_resolves_rules_and_inherited_restrictions(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    derived = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/rate-plans",
            json={
                "room_type_id": hotel.room_type_id,
                "code": "NRF",
                "name": "Non refundable",
                "derived_from": {
                    "parent_id": hotel.rate_plan_id,
                    "rules": [
                        {"kind": "percent", "value": "-10"},
                        {"kind": "amount", "value": "5"},
                    ],
                    "inherit": ["stop_sell"],
                },
            },
            headers=hotel.caller.headers,
        ),
        201,
    )
    ok(
        _ari(
            client,
            hotel,
            [
                {
                    "rate_plan_id": hotel.rate_plan_id,
                    "date_from": day(3),
                    "date_to": day(3),
                    "price": "133.33",
                    "stop_sell": True,
                    "min_stay_arrival": 3,
                },
                {
                    "rate_plan_id": derived["id"],
                    "date_from": day(3),
                    "date_to": day(4),
                    "max_stay": 5,
                },
            ],
        )
    )
    calendar = _calendar(client, hotel, derived["id"], 2, 4)
    assert calendar[day(2)]["price"] == "95.00"  # 100 - 10 % + 5
    assert calendar[day(3)]["price"] == "125.00"  # 133.33 * 0.9 = 119.997 + 5 = 124.997
    assert calendar[day(3)]["stop_sell"] is True  # inherited
    assert calendar[day(3)]["min_stay_arrival"] is None  # not inherited: its own (unset)
    assert calendar[day(3)]["max_stay"] == 5

    refused = _ari(
        client,
        hotel,
        [
            {
                "rate_plan_id": derived["id"],
                "date_from": day(3),
                "date_to": day(3),
                "price": "1.00",
                "stop_sell": False,
            }
        ],
    )
    assert refused.status_code == 422
    pointers = {error["pointer"]: error["detail"] for error in refused.json()["errors"]}
    assert pointers == {
        "/entries/0/price": "prices of a derived plan come from its parent",
        "/entries/0/stop_sell": "this restriction is inherited from the parent plan",
    }


def test_derivation_cycles_are_refused(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    child = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/rate-plans",
            json={
                "room_type_id": hotel.room_type_id,
                "code": "CHILD",
                "name": "Child",
                "derived_from": {"parent_id": hotel.rate_plan_id},
            },
            headers=hotel.caller.headers,
        ),
        201,
    )
    cycle = client.patch(
        f"/api/v1/rate-plans/{hotel.rate_plan_id}",
        json={"derived_from": {"parent_id": child["id"]}},
        headers=hotel.caller.headers,
    )
    assert cycle.status_code == 422
    assert "cannot derive from itself" in cycle.json()["detail"]
    parent = ok(
        client.get(f"/api/v1/rate-plans/{hotel.rate_plan_id}", headers=hotel.caller.headers)
    )
    assert parent["derived_from"] is None


def test_per_person_plan_prices_each_occupancy(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    plan = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/rate-plans",
            json={
                "room_type_id": hotel.room_type_id,
                "code": "PP",
                "name": "Per person",
                "pricing": "per_person",
                "occupancies": [1, 2, 3],
            },
            headers=hotel.caller.headers,
        ),
        201,
    )
    ok(
        _ari(
            client,
            hotel,
            [
                {
                    "rate_plan_id": plan["id"],
                    "date_from": day(5),
                    "date_to": day(6),
                    "occupancy_prices": {"1": "80.00", "2": "110.00", "3": "140.00"},
                }
            ],
        )
    )
    ok(
        _ari(
            client,
            hotel,
            [
                {
                    "rate_plan_id": plan["id"],
                    "date_from": day(6),
                    "date_to": day(6),
                    "occupancy_prices": {"2": "115.00"},
                }
            ],
        )
    )
    calendar = _calendar(client, hotel, plan["id"], 5, 6)
    assert calendar[day(5)]["occupancy_prices"] == {"1": "80.00", "2": "110.00", "3": "140.00"}
    assert calendar[day(6)]["occupancy_prices"] == {"1": "80.00", "2": "115.00", "3": "140.00"}

    booked = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(5),
                "departure": day(7),
                "rooms": [
                    {"room_type_id": hotel.room_type_id, "rate_plan_id": plan["id"], "adults": 2}
                ],
            },
            headers=hotel.caller.headers,
        ),
        201,
    )
    assert booked["total_amount"] == "225.00"
    assert booked["rooms"][0]["nightly_prices"] == {day(5): "110.00", day(6): "115.00"}

    wrong = _ari(
        client,
        hotel,
        [
            {
                "rate_plan_id": plan["id"],
                "date_from": day(5),
                "date_to": day(5),
                "occupancy_prices": {"4": "10.00"},
            }
        ],
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["pointer"] == "/entries/0/occupancy_prices/4"


def test_blocks_reduce_availability_and_can_be_removed(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=4)
    result = ok(
        _ari(
            client,
            hotel,
            [
                {
                    "room_type_id": hotel.room_type_id,
                    "date_from": day(1),
                    "date_to": day(2),
                    "block": {"units": 3, "kind": "maintenance", "reason": "painting"},
                }
            ],
        )
    )
    block_id = result["results"][0]["block_ids"][0]
    availability = ok(
        client.get(
            f"/api/v1/properties/{hotel.property_id}/availability",
            params={"date_from": day(0), "date_to": day(2)},
            headers=hotel.caller.headers,
        )
    )
    assert [(d["blocked"], d["available"]) for d in availability["room_types"][0]["days"]] == [
        (0, 4),
        (3, 1),
        (3, 1),
    ]
    blocks = ok(
        client.get(f"/api/v1/room-types/{hotel.room_type_id}/blocks", headers=hotel.caller.headers)
    )
    assert [(b["date_from"], b["date_to"], b["reason"]) for b in blocks] == [
        (day(1), day(2), "painting")
    ]
    ok(client.delete(f"/api/v1/blocks/{block_id}", headers=hotel.caller.headers), 204)
    assert (
        ok(
            client.get(
                f"/api/v1/room-types/{hotel.room_type_id}/blocks", headers=hotel.caller.headers
            )
        )
        == []
    )


def test_dates_outside_the_horizon_are_refused(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    response = _ari(
        client,
        hotel,
        [
            {
                "rate_plan_id": hotel.rate_plan_id,
                "date_from": day(10),
                "date_to": day(900),
                "price": "1.00",
            }
        ],
    )
    assert response.status_code == 422
    assert "horizon" in response.json()["errors"][0]["detail"]
    assert _calendar(client, hotel, hotel.rate_plan_id, 10, 10)[day(10)]["price"] == "100.00"


def test_a_zero_price_is_refused_with_a_way_to_close_instead(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    entry = {"rate_plan_id": hotel.rate_plan_id, "date_from": day(1), "date_to": day(3)}
    body = problem(_ari(client, hotel, [{**entry, "price": "0.00"}]), 422, "nothing was written")
    assert pointers(body) == {
        "/entries/0/price": "a price of 0 cannot be sold on any channel; "
        "use stop_sell to close the date"
    }
    # Nothing was written: the price stays, and closing the dates the way it says works.
    assert {
        values["price"] for values in _calendar(client, hotel, hotel.rate_plan_id, 1, 3).values()
    } == {"100.00"}
    ok(_ari(client, hotel, [{**entry, "stop_sell": True}]))


PICKY = "picky-test"


@pytest.fixture
def picky_channel() -> Iterator[str]:
    """A channel kind that declares narrower value rules than innsync's own."""
    registry.register(
        ChannelKind(
            name=PICKY,
            config_model=FakeChannelConfig,
            build=fake_channel.CHANNEL_KIND.build,
            title="Picky OTA",
            value_constraints=ValueConstraints(max_price=Decimal("500"), max_min_stay=14),
        )
    )
    yield PICKY
    registry._default_registry._kinds.pop(PICKY, None)


def test_values_a_connected_channel_refuses_are_reported_on_the_write(
    client: TestClient, db: Db, picky_channel: str
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    connections = {}
    for channel, name in ((picky_channel, "Picky"), ("fake", "Lenient")):
        connection = ok(
            client.post(
                f"/api/v1/properties/{hotel.property_id}/connections",
                json={"channel": channel, "name": name},
                headers=hotel.caller.headers,
            ),
            201,
        )
        ok(
            client.put(
                f"/api/v1/connections/{connection['id']}/mappings",
                json={
                    "rate_plans": [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "BAR"}],
                    "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "DBL"}],
                },
                headers=hotel.caller.headers,
            )
        )
        connections[name] = connection["id"]
    entry = {"rate_plan_id": hotel.rate_plan_id, "date_from": day(1), "date_to": day(3)}

    result = ok(
        _ari(
            client,
            hotel,
            [{**entry, "price": "120.00"}, {**entry, "price": "650.00", "min_stay_arrival": 21}],
        )
    )

    # Written (innsync's value), with one warning per refused value naming the connection; the
    # first entry and the channel that takes both values are not mentioned.
    assert [r["dates_changed"] for r in result["results"]] == [3, 3]
    assert result["warnings"] == [
        {
            "index": 1,
            "connection_id": connections["Picky"],
            "connection_name": "Picky",
            "channel": PICKY,
            "message": "Picky (picky-test) will refuse it: "
            "price 650.00 is above the channel's maximum 500",
        },
        {
            "index": 1,
            "connection_id": connections["Picky"],
            "connection_name": "Picky",
            "channel": PICKY,
            "message": "Picky (picky-test) will refuse it: "
            "min_stay_arrival 21 is above the channel's maximum 14",
        },
    ]
