"""Prices in each currency's own minor units: none for JPY and KRW, three for BHD and KWD."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import day, make_hotel, new_tenant, ok
from tests.conftest import Db


@pytest.mark.parametrize(
    ("currency", "parent", "derived"),
    [
        ("EUR", "120.00", "108.00"),
        ("JPY", "1234", "1111"),  # 1110.6: no sen
        ("KRW", "55555", "50000"),  # 49999.5, half up
        ("BHD", "12.345", "11.111"),  # 11.1105: fils, three decimals
        ("KWD", "20.005", "18.005"),  # 18.0045
    ],
)
def test_derived_prices_and_bookings_round_to_the_currency_s_minor_units(
    client: TestClient, db: Db, currency: str, parent: str, derived: str
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), price=parent, currency=currency)
    headers = hotel.caller.headers
    derived_plan = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/rate-plans",
            json={
                "room_type_id": hotel.room_type_id,
                "code": "NRF",
                "name": "Non refundable",
                "derived_from": {
                    "parent_id": hotel.rate_plan_id,
                    "rules": [{"kind": "percent", "value": "-10"}],
                },
            },
            headers=headers,
        ),
        201,
    )
    calendars = {
        plan_id: ok(
            client.get(
                f"/api/v1/rate-plans/{plan_id}/calendar",
                params={"date_from": day(2), "date_to": day(3)},
                headers=headers,
            )
        )
        for plan_id in (hotel.rate_plan_id, derived_plan["id"])
    }
    assert [d["price"] for d in calendars[hotel.rate_plan_id]["days"]] == [parent, parent]
    assert [d["price"] for d in calendars[derived_plan["id"]]["days"]] == [derived, derived]

    booked = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(2),
                "departure": day(4),
                "rooms": [
                    {"room_type_id": hotel.room_type_id, "rate_plan_id": derived_plan["id"]}
                    | {"adults": 2}
                ],
            },
            headers=headers,
        ),
        201,
    )
    assert booked["currency"] == currency
    assert list(booked["rooms"][0]["nightly_prices"].values()) == [derived, derived]
    assert Decimal(booked["total_amount"]) == 2 * Decimal(derived)


@pytest.mark.parametrize(
    ("currency", "price", "detail"),
    [
        ("JPY", "1000.5", "JPY has no minor units: whole amounts only"),
        ("EUR", "99.995", "EUR amounts have 2 decimal places"),
    ],
)
def test_a_price_finer_than_the_currency_is_refused(
    client: TestClient, db: Db, currency: str, price: str, detail: str
) -> None:
    whole = "1000" if currency == "JPY" else "100.00"
    hotel = make_hotel(client, new_tenant(db.sessions), price=whole, currency=currency)
    refused = client.post(
        f"/api/v1/properties/{hotel.property_id}/ari",
        json={
            "entries": [
                {
                    "rate_plan_id": hotel.rate_plan_id,
                    "date_from": day(1),
                    "date_to": day(1),
                    "price": price,
                }
            ]
        },
        headers=hotel.caller.headers,
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert {"pointer": "/entries/0/price", "detail": detail} in problem["errors"]
    calendar = ok(
        client.get(
            f"/api/v1/rate-plans/{hotel.rate_plan_id}/calendar",
            params={"date_from": day(1), "date_to": day(1)},
            headers=hotel.caller.headers,
        )
    )
    assert calendar["days"][0]["price"] == whole
