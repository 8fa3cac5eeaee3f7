"""Channex simulator: pushing and reading availability, rates and restrictions (§1.5)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulators.conftest import Hotel, Sim, SimFactory, create_hotel, day

NULLS = {
    "date": None,
    "date_from": None,
    "date_to": None,
    "days": None,
    "rate": None,
    "rates": None,
    "min_stay_arrival": None,
    "min_stay_through": None,
    "min_stay": None,
    "max_stay": None,
    "closed_to_arrival": None,
    "closed_to_departure": None,
    "stop_sell": None,
}


def read(sim: Sim, hotel: Hotel, first: str, last: str, names: str) -> dict[str, Any]:
    response = sim.client.get(
        "/api/v1/restrictions",
        {
            "filter[property_id]": hotel.property_id,
            "filter[date][gte]": first,
            "filter[date][lte]": last,
            "filter[restrictions]": names,
        },
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def push(sim: Sim, values: list[Any], endpoint: str = "restrictions") -> Any:
    return sim.client.post(f"/api/v1/{endpoint}", {"values": values})


def test_range_with_days_writes_only_those_weekdays(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    response = push(
        sim,
        [
            {
                "property_id": hotel.property_id,
                "rate_plan_id": hotel.twin_bar_id,
                "date_from": day(0),
                "date_to": day(13),
                "days": ["fr", "sa"],
                "rate": "150.00",
                "min_stay_arrival": 2,
            }
        ],
    )

    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"message": "Success", "warnings": []}
    assert len(body["data"]) == 1
    assert body["data"][0]["type"] == "task"
    twin = read(sim, hotel, day(0), day(13), "rate,min_stay_arrival")[hotel.twin_bar_id]
    weekend = {day(4), day(5), day(11), day(12)}  # Fridays and Saturdays after Monday day(0)
    assert twin == {
        day(offset): (
            {"rate": "150.00", "min_stay_arrival": 2}
            if day(offset) in weekend
            else {"rate": "100.00", "min_stay_arrival": 1}
        )
        for offset in range(14)
    }


def test_bad_entries_are_warned_and_good_entries_still_applied(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    good = {
        "property_id": hotel.property_id,
        "rate_plan_id": hotel.twin_bar_id,
        "date": day(3),
        "stop_sell": True,
    }
    unknown_plan = {
        "property_id": hotel.property_id,
        "rate_plan_id": "missing",
        "date": day(3),
        "rate": 5000,
    }
    null_field = {**good, "date": day(4), "min_stay_arrival": None}
    bad_values = {**good, "date": day(5), "rate": 0, "max_stay": -1, "closed_to_arrival": "yes"}

    response = push(sim, [unknown_plan, good, null_field, bad_values])

    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == 1
    assert body["meta"]["warnings"] == [
        {**NULLS, **unknown_plan, "warning": {"rate_plan_id": ["not found"]}},
        {
            **NULLS,
            **null_field,
            "warning": {"min_stay_arrival": ["Should be a non null value or not existed field"]},
        },
        {
            **NULLS,
            **bad_values,
            "warning": {
                "rate": ["must be greater than 0"],
                "max_stay": ["must be greater than or equal to 0"],
                "closed_to_arrival": ["is invalid"],
            },
        },
    ]
    stop_sell = read(sim, hotel, day(3), day(5), "stop_sell")[hotel.twin_bar_id]
    assert stop_sell == {
        day(3): {"stop_sell": True},
        day(4): {"stop_sell": False},
        day(5): {"stop_sell": False},
    }


def test_every_entry_rejected_gives_empty_data(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    response = push(
        sim, [{"property_id": hotel.property_id, "rate_plan_id": hotel.twin_bar_id, "date": day(1)}]
    )

    assert response.status_code == 200
    assert response.json()["data"] == []
    assert response.json()["meta"]["warnings"][0]["warning"] == {
        "restrictions": ["at least one should be present"]
    }
    assert sim.client.get("/_sim/ari").json()["tasks"] == []


def test_last_entry_wins_within_one_call(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    target = {"property_id": hotel.property_id, "rate_plan_id": hotel.twin_bar_id}

    push(
        sim,
        [
            {**target, "date_from": day(0), "date_to": day(6), "rate": "120.00"},
            {**target, "date_from": day(0), "date_to": day(6), "days": ["we"], "rate": "99.00"},
            {**target, "date": day(6), "rate": 13050},
        ],
    )

    rates = read(sim, hotel, day(0), day(6), "rate")[hotel.twin_bar_id]
    assert {d: v["rate"] for d, v in rates.items()} == {
        day(0): "120.00",
        day(1): "120.00",
        day(2): "99.00",
        day(3): "120.00",
        day(4): "120.00",
        day(5): "120.00",
        day(6): "130.50",
    }


def test_partial_updates_leave_other_fields_alone(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    target = {"property_id": hotel.property_id, "rate_plan_id": hotel.twin_bar_id, "date": day(2)}

    push(sim, [{**target, "rate": "180.00", "max_stay": 7}])
    push(sim, [{**target, "closed_to_departure": 1}])

    values = read(sim, hotel, day(2), day(2), "rate,max_stay,closed_to_departure")
    assert values[hotel.twin_bar_id] == {
        day(2): {"rate": "180.00", "max_stay": 7, "closed_to_departure": True}
    }


@pytest.mark.parametrize(
    ("rate", "message"),
    [(12.5, "is invalid"), ("12.345", "is invalid"), (True, "is invalid"), ("-1.00", "is invalid")],
)
def test_rates_outside_the_two_documented_formats_are_refused(
    sim: Sim, rate: object, message: str
) -> None:
    hotel = create_hotel(sim.client)
    entry = {
        "property_id": hotel.property_id,
        "rate_plan_id": hotel.twin_bar_id,
        "date": day(1),
        "rate": rate,
    }

    body = push(sim, [entry]).json()

    assert body["meta"]["warnings"][0]["warning"] == {"rate": [message]}
    assert read(sim, hotel, day(1), day(1), "rate")[hotel.twin_bar_id][day(1)] == {"rate": "100.00"}


def test_per_person_rates_by_occupancy(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    target = {"property_id": hotel.property_id, "rate_plan_id": hotel.double_pp_id, "date": day(1)}

    body = push(
        sim,
        [
            {
                **target,
                "rates": [{"occupancy": 1, "rate": 8000}, {"occupancy": 2, "rate": "140.00"}],
            },
            {**target, "rates": [{"occupancy": 3, "rate": 9000}]},
        ],
    ).json()

    assert [w["warning"] for w in body["meta"]["warnings"]] == [
        {"rates": ["occupancy 3 is not an option"]}
    ]
    ari = sim.client.get("/_sim/ari").json()["data"][hotel.property_id]["restrictions"]
    assert ari[hotel.double_pp_id][day(1)]["rates"] == [
        {"occupancy": 2, "rate": "140.00"},
        {"occupancy": 1, "rate": "80.00"},
    ]
    assert read(sim, hotel, day(1), day(1), "rate")[hotel.double_pp_id][day(1)] == {
        "rate": "140.00"
    }


def test_min_stay_is_refused_for_both_and_mapped_otherwise(sim: Sim) -> None:
    both = create_hotel(sim.client)
    arrival = create_hotel(sim.client, settings={"min_stay_type": "arrival"})

    body = push(
        sim,
        [
            {
                "property_id": both.property_id,
                "rate_plan_id": both.twin_bar_id,
                "date": day(1),
                "min_stay": 3,
            },
            {
                "property_id": arrival.property_id,
                "rate_plan_id": arrival.twin_bar_id,
                "date": day(1),
                "min_stay": 3,
            },
        ],
    ).json()

    assert [w["warning"] for w in body["meta"]["warnings"]] == [
        {"min_stay": ["is not allowed when min_stay_type is both"]}
    ]
    values = read(sim, arrival, day(1), day(1), "min_stay_arrival,min_stay_through,min_stay")
    assert values[arrival.twin_bar_id][day(1)] == {
        "min_stay_arrival": 3,
        "min_stay_through": 1,
        "min_stay": 3,
    }


def test_past_dates_are_warned_by_default_and_stored_when_accepted(make_sim: SimFactory) -> None:
    for past_dates, expected_warnings, expected_rate in (
        ("reject", 1, "100.00"),
        ("accept", 0, "111.00"),
    ):
        sim = make_sim(past_dates=past_dates)
        hotel = create_hotel(sim.client)
        entry = {
            "property_id": hotel.property_id,
            "rate_plan_id": hotel.twin_bar_id,
            "date": day(-1),
            "rate": 11100,
        }

        body = push(sim, [entry]).json()

        assert len(body["meta"]["warnings"]) == expected_warnings
        if expected_warnings:
            assert body["meta"]["warnings"][0]["warning"] == {"date": ["must be today or later"]}
        assert read(sim, hotel, day(-1), day(-1), "rate")[hotel.twin_bar_id][day(-1)] == {
            "rate": expected_rate
        }


def test_availability_push_and_read_back(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    response = push(
        sim,
        [
            {
                "property_id": hotel.property_id,
                "room_type_id": hotel.twin_id,
                "date_from": day(0),
                "date_to": day(2),
                "availability": 5,
            },
            {
                "property_id": hotel.property_id,
                "room_type_id": hotel.twin_id,
                "date": day(1),
                "availability": 3,
            },
            {
                "property_id": hotel.property_id,
                "room_type_id": hotel.double_id,
                "date": day(1),
                "days": ["tu"],
                "availability": 4,
            },
            {
                "property_id": hotel.property_id,
                "room_type_id": hotel.double_id,
                "date": day(2),
                "availability": -1,
            },
        ],
        endpoint="availability",
    )

    body = response.json()
    assert response.status_code == 200
    assert len(body["data"]) == 1
    assert [w["warning"] for w in body["meta"]["warnings"]] == [
        {"days": ["is not allowed"]},
        {"availability": ["must be greater than or equal to 0"]},
    ]
    read_back = sim.client.get(
        "/api/v1/availability",
        {
            "filter[property_id]": hotel.property_id,
            "filter[date][gte]": day(0),
            "filter[date][lte]": day(2),
        },
    ).json()
    # §1.4: a new room type's availability is 0 until pushed.
    assert read_back == {
        "data": {
            hotel.twin_id: {day(0): 5, day(1): 3, day(2): 5},
            hotel.double_id: {day(0): 0, day(1): 0, day(2): 0},
        }
    }
    rate_plan_view = read(sim, hotel, day(1), day(1), "availability")
    assert rate_plan_view[hotel.twin_bar_id] == {day(1): {"availability": 3}}


def test_availability_documented_body_when_configured(make_sim: SimFactory) -> None:
    sim = make_sim(availability_response="documented")
    hotel = create_hotel(sim.client)

    response = push(
        sim,
        [
            {
                "property_id": hotel.property_id,
                "room_type_id": hotel.twin_id,
                "date": day(1),
                "availability": 2,
            }
        ],
        endpoint="availability",
    )

    assert response.json() == {"meta": {"message": "Success"}}


def test_reads_require_their_filters(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    no_restrictions = sim.client.get(
        "/api/v1/restrictions", {"filter[property_id]": hotel.property_id, "filter[date]": day(1)}
    )
    no_date = sim.client.get("/api/v1/availability", {"filter[property_id]": hotel.property_id})

    assert no_restrictions.status_code == 400
    assert no_restrictions.json() == {
        "errors": {
            "code": "bad_request",
            "title": "Bad Request",
            "details": ["restrictions is required"],
        }
    }
    assert no_date.status_code == 400
    assert no_date.json()["errors"]["details"] == ["date is required"]


def test_missing_values_is_a_validation_error(sim: Sim) -> None:
    response = sim.client.post("/api/v1/restrictions", {"value": []})

    assert response.status_code == 422
    assert response.json() == {
        "errors": {
            "code": "validation_error",
            "title": "Validation Error",
            "details": {"values": ["can't be blank"]},
        }
    }


def test_derived_plan_follows_its_parent_rate(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    child = sim.client.post(
        "/api/v1/rate_plans",
        {
            "rate_plan": {
                "property_id": hotel.property_id,
                "room_type_id": hotel.twin_id,
                "title": "Twin BAR + breakfast",
                "parent_rate_plan_id": hotel.twin_bar_id,
                "rate_mode": "derived",
                "options": [
                    {
                        "occupancy": 2,
                        "is_primary": True,
                        "derived_option": {
                            "rate": [
                                ["increase_by_percent", "10.00"],
                                ["increase_by_amount", "5.00"],
                            ]
                        },
                    }
                ],
            }
        },
    )
    assert child.status_code == 201
    child_id = child.json()["data"]["id"]
    assert child.json()["data"]["attributes"]["inherit_rate"] is True

    push(
        sim,
        [
            {
                "property_id": hotel.property_id,
                "rate_plan_id": hotel.twin_bar_id,
                "date": day(1),
                "rate": "200.00",
                "stop_sell": True,
            }
        ],
    )

    values = read(sim, hotel, day(1), day(1), "rate,stop_sell")
    assert values[child_id] == {day(1): {"rate": "225.00", "stop_sell": True}}
