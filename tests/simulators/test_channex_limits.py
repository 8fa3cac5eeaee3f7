"""Channex simulator: the per-property ARI rate limit and the body size cap (§1.3)."""

from __future__ import annotations

import json
from typing import Any

from tests.simulators.conftest import Hotel, Sim, SimFactory, create_hotel, day

TOO_MANY = {"errors": {"code": "http_too_many_requests", "title": "Too Many Requests"}}


def rate_entry(hotel: Hotel, rate: int) -> dict[str, Any]:
    return {
        "property_id": hotel.property_id,
        "rate_plan_id": hotel.twin_bar_id,
        "date": day(1),
        "rate": rate,
    }


def availability_entry(hotel: Hotel, count: int) -> dict[str, Any]:
    return {
        "property_id": hotel.property_id,
        "room_type_id": hotel.twin_id,
        "date": day(1),
        "availability": count,
    }


def current_rate(sim: Sim, hotel: Hotel) -> str:
    response = sim.client.get(
        "/api/v1/restrictions",
        {
            "filter[property_id]": hotel.property_id,
            "filter[date]": day(1),
            "filter[restrictions]": "rate",
        },
    )
    rate: str = response.json()["data"][hotel.twin_bar_id][day(1)]["rate"]
    return rate


def test_eleventh_restrictions_call_in_a_minute_is_429_until_the_window_passes(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    other = create_hotel(sim.client)

    statuses = []
    for call in range(10):
        sim.clock.advance(seconds=5)
        statuses.append(
            sim.client.post(
                "/api/v1/restrictions", {"values": [rate_entry(hotel, 10000 + call)]}
            ).status_code
        )
    refused = sim.client.post("/api/v1/restrictions", {"values": [rate_entry(hotel, 55500)]})

    assert statuses == [200] * 10
    assert refused.status_code == 429
    assert refused.json() == TOO_MANY
    # Nothing of a refused call is processed (§1.3).
    assert current_rate(sim, hotel) == "100.09"
    # The other bucket of the same property and the same bucket of another property are free.
    assert (
        sim.client.post(
            "/api/v1/availability", {"values": [availability_entry(hotel, 4)]}
        ).status_code
        == 200
    )
    assert (
        sim.client.post("/api/v1/restrictions", {"values": [rate_entry(other, 20000)]}).status_code
        == 200
    )

    # The window rolls: the first call (at +5 s) leaves it 60 s later, at +65 s.
    sim.clock.advance(seconds=14)
    assert (
        sim.client.post("/api/v1/restrictions", {"values": [rate_entry(hotel, 55500)]}).status_code
        == 429
    )
    sim.clock.advance(seconds=1)
    recovered = sim.client.post("/api/v1/restrictions", {"values": [rate_entry(hotel, 55500)]})
    assert recovered.status_code == 200
    assert current_rate(sim, hotel) == "555.00"
    assert (
        sim.client.post("/api/v1/restrictions", {"values": [rate_entry(hotel, 1)]}).status_code
        == 429
    )


def test_availability_has_its_own_ten_per_minute(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    statuses = [
        sim.client.post(
            "/api/v1/availability", {"values": [availability_entry(hotel, n)]}
        ).status_code
        for n in range(11)
    ]

    assert statuses == [200] * 10 + [429]
    counters = sim.client.get("/_sim/counters").json()["data"]
    availability = [c for c in counters if c["endpoint_class"] == "availability"]
    assert availability == [
        {
            "minute": "2030-01-07T09:00:00+00:00",
            "property_id": hotel.property_id,
            "endpoint_class": "availability",
            "calls": 11,
            "rate_limited": 1,
        }
    ]
    read_back = sim.client.get(
        "/api/v1/availability", {"filter[property_id]": hotel.property_id, "filter[date]": day(1)}
    ).json()
    assert read_back["data"][hotel.twin_id] == {day(1): 9}


def test_fixed_window_resets_at_the_minute_boundary(make_sim: SimFactory) -> None:
    sim = make_sim(rate_limit_window="fixed")
    hotel = create_hotel(sim.client)
    sim.clock.advance(seconds=50)  # 09:00:50

    first = [
        sim.client.post("/api/v1/restrictions", {"values": [rate_entry(hotel, 100)]}).status_code
        for _ in range(11)
    ]
    sim.clock.advance(seconds=10)  # 09:01:00, a new minute
    second = sim.client.post(
        "/api/v1/restrictions", {"values": [rate_entry(hotel, 100)]}
    ).status_code

    assert first == [200] * 10 + [429]
    assert second == 200


def test_one_call_counts_against_every_property_it_names(sim: Sim) -> None:
    first, second = create_hotel(sim.client), create_hotel(sim.client)
    for _ in range(10):
        sim.client.post(
            "/api/v1/restrictions", {"values": [rate_entry(first, 100), rate_entry(second, 100)]}
        )

    assert (
        sim.client.post("/api/v1/restrictions", {"values": [rate_entry(second, 100)]}).status_code
        == 429
    )


def padded_body(hotel: Hotel, size: int) -> bytes:
    """A valid restrictions body of exactly ``size`` bytes; unknown keys are ignored."""
    body = {"values": [rate_entry(hotel, 42000)], "padding": ""}
    overhead = len(json.dumps(body).encode())
    body["padding"] = "x" * (size - overhead)
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


def test_bodies_over_ten_megabytes_are_refused_before_processing(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    headers = {"content-type": "application/json"}

    too_big = sim.client.request(
        "POST", "/api/v1/restrictions", content=padded_body(hotel, 10_000_001), headers=headers
    )
    assert too_big.status_code == 413
    assert too_big.json() == {"errors": {"code": "payload_too_large", "title": "Payload Too Large"}}
    assert current_rate(sim, hotel) == "100.00"

    at_limit = sim.client.request(
        "POST", "/api/v1/restrictions", content=padded_body(hotel, 10_000_000), headers=headers
    )
    assert at_limit.status_code == 200
    assert current_rate(sim, hotel) == "420.00"
    logged = [
        (r["body_bytes"], r["status"])
        for r in sim.client.get("/_sim/requests").json()["data"]
        if r["path"] == "/api/v1/restrictions" and r["method"] == "POST"
    ]
    assert logged == [(10_000_001, 413), (10_000_000, 200)]
