"""Channex mapping: neutral updates to exact `values` payloads, and warnings back to entries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from innsync.channels.channex.adapter import CHANNEX_LIMITS
from innsync.channels.channex.answers import RestrictionDay
from innsync.channels.channex.client import MAX_BODY_BYTES
from innsync.channels.channex.mapping import (
    OutgoingValues,
    availability_request,
    availability_values,
    describe_warning,
    entry_results,
    first_open_date,
    money,
    property_zone,
    rate_values_from_channex,
    restriction_fields,
    restriction_value,
    restrictions_request,
    stay_date_fields,
)
from innsync.channels.encoding import update_json_size
from innsync.channels.types import AvailabilityUpdate, EntryResult, RateUpdate, RateValues
from innsync.stay_dates import DateRange

PROPERTY = "5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0001"
ROOM = "5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0002"
PLAN = "5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0003"
OTHER_PLAN = "5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0004"
MONDAY = date(2030, 1, 7)


def days(first: int, last: int) -> DateRange:
    """Stay dates ``first`` to ``last`` days after MONDAY, both included."""
    return DateRange.inclusive(MONDAY + timedelta(days=first), MONDAY + timedelta(days=last))


def iso(offset: int) -> str:
    return (MONDAY + timedelta(days=offset)).isoformat()


def rate(values: RateValues, dates: DateRange, weekdays: set[int] | None = None) -> RateUpdate:
    return RateUpdate(ROOM, PLAN, dates, values, None if weekdays is None else frozenset(weekdays))


def test_money_is_a_two_place_decimal_string_and_never_rounded() -> None:
    assert money(Decimal("200")) == "200.00"
    assert money(Decimal("99.5")) == "99.50"
    assert money(Decimal("1E+2")) == "100.00"
    assert money(Decimal("0")) == "0.00"
    # Finer than cents goes out as it is, for Channex to refuse, instead of a silent rounding.
    assert money(Decimal("10.005")) == "10.005"


def test_one_night_is_a_date_and_a_range_is_inclusive() -> None:
    assert stay_date_fields(MONDAY, MONDAY) == {"date": "2030-01-07"}
    assert stay_date_fields(MONDAY, date(2030, 1, 9)) == {
        "date_from": "2030-01-07",
        "date_to": "2030-01-09",
    }


def test_every_field_under_its_channex_name() -> None:
    values = RateValues(
        price=Decimal("120.5"),
        occupancy_prices=((2, Decimal("132")), (1, Decimal("121"))),
        min_stay_arrival=2,
        min_stay_through=3,
        max_stay=0,
        closed_to_arrival=True,
        closed_to_departure=False,
        stop_sell=False,
        min_advance=0,
        max_advance=0,
    )
    assert restriction_fields(values) == {
        "rate": "120.50",
        "rates": [{"occupancy": 1, "rate": "121.00"}, {"occupancy": 2, "rate": "132.00"}],
        "min_stay_arrival": 2,
        "min_stay_through": 3,
        "max_stay": 0,
        "closed_to_arrival": True,
        "closed_to_departure": False,
        "stop_sell": False,
    }


def test_only_the_fields_present_are_sent() -> None:
    assert restriction_fields(RateValues(stop_sell=True)) == {"stop_sell": True}
    assert restriction_fields(RateValues(max_stay=4)) == {"max_stay": 4}
    assert restriction_fields(RateValues(min_advance=3, max_advance=30)) == {}


def test_a_half_open_range_becomes_date_from_and_date_to_inclusive() -> None:
    update = rate(RateValues(price=Decimal("241")), DateRange(MONDAY, MONDAY + timedelta(days=10)))
    assert restriction_value(update, PROPERTY, MONDAY) == {
        "property_id": PROPERTY,
        "rate_plan_id": PLAN,
        "date_from": "2030-01-07",
        "date_to": "2030-01-16",
        "rate": "241.00",
    }


def test_one_night_is_sent_as_date() -> None:
    update = rate(RateValues(price=Decimal("333")), days(15, 15))
    assert restriction_value(update, PROPERTY, MONDAY) == {
        "property_id": PROPERTY,
        "rate_plan_id": PLAN,
        "date": iso(15),
        "rate": "333.00",
    }


def test_weekdays_become_days_names() -> None:
    update = rate(RateValues(closed_to_arrival=True), days(0, 27), weekdays={4, 5, 6})
    assert restriction_value(update, PROPERTY, MONDAY) == {
        "property_id": PROPERTY,
        "rate_plan_id": PLAN,
        # The range is trimmed to the first and last dates it really covers.
        "date_from": iso(4),
        "date_to": iso(27),
        "days": ["fr", "sa", "su"],
        "closed_to_arrival": True,
    }


def test_a_weekday_entry_covering_one_date_is_that_date() -> None:
    update = rate(RateValues(min_stay_arrival=2), days(0, 6), weekdays={2})
    assert restriction_value(update, PROPERTY, MONDAY) == {
        "property_id": PROPERTY,
        "rate_plan_id": PLAN,
        "date": iso(2),
        "min_stay_arrival": 2,
    }


def test_per_person_prices_go_in_rates() -> None:
    update = rate(
        RateValues(occupancy_prices=((1, Decimal("121")), (2, Decimal("132.40")))), days(1, 3)
    )
    assert restriction_value(update, PROPERTY, MONDAY) == {
        "property_id": PROPERTY,
        "rate_plan_id": PLAN,
        "date_from": iso(1),
        "date_to": iso(3),
        "rates": [{"occupancy": 1, "rate": "121.00"}, {"occupancy": 2, "rate": "132.40"}],
    }


def test_past_dates_are_cut_off_and_a_past_only_entry_is_not_sent() -> None:
    straddling = rate(RateValues(stop_sell=True), days(-2, 2))
    assert restriction_value(straddling, PROPERTY, MONDAY) == {
        "property_id": PROPERTY,
        "rate_plan_id": PLAN,
        "date_from": iso(0),
        "date_to": iso(2),
        "stop_sell": True,
    }
    assert (
        restriction_value(rate(RateValues(stop_sell=True), days(-3, -1)), PROPERTY, MONDAY) is None
    )


def test_an_entry_with_nothing_channex_holds_is_not_sent() -> None:
    update = rate(RateValues(min_advance=2), days(1, 2))
    assert restriction_value(update, PROPERTY, MONDAY) is None


def test_availability_range_and_single_date() -> None:
    assert availability_values(AvailabilityUpdate(ROOM, days(0, 9), 3), PROPERTY, MONDAY) == [
        {
            "property_id": PROPERTY,
            "room_type_id": ROOM,
            "date_from": iso(0),
            "date_to": iso(9),
            "availability": 3,
        }
    ]
    assert availability_values(AvailabilityUpdate(ROOM, days(4, 4), 0), PROPERTY, MONDAY) == [
        {"property_id": PROPERTY, "room_type_id": ROOM, "date": iso(4), "availability": 0}
    ]


def test_weekday_availability_is_spelled_out_as_ranges() -> None:
    # channex.md §1.5 documents `days` for restrictions only.
    update = AvailabilityUpdate(ROOM, days(0, 13), 2, frozenset({4, 5}))
    assert availability_values(update, PROPERTY, MONDAY) == [
        {
            "property_id": PROPERTY,
            "room_type_id": ROOM,
            "date_from": iso(4),
            "date_to": iso(5),
            "availability": 2,
        },
        {
            "property_id": PROPERTY,
            "room_type_id": ROOM,
            "date_from": iso(11),
            "date_to": iso(12),
            "availability": 2,
        },
    ]


def test_past_availability_is_cut_off() -> None:
    assert availability_values(AvailabilityUpdate(ROOM, days(-1, 1), 5), PROPERTY, MONDAY) == [
        {
            "property_id": PROPERTY,
            "room_type_id": ROOM,
            "date_from": iso(0),
            "date_to": iso(1),
            "availability": 5,
        }
    ]
    assert availability_values(AvailabilityUpdate(ROOM, days(-3, -1), 5), PROPERTY, MONDAY) == []


def test_restrictions_request_keeps_order_origins_and_notes() -> None:
    updates = [
        rate(RateValues(price=Decimal("100")), days(-4, -1)),
        rate(RateValues(price=Decimal("110"), min_advance=2), days(0, 1)),
        RateUpdate(ROOM, OTHER_PLAN, days(3, 3), RateValues(stop_sell=True)),
        rate(RateValues(max_advance=0), days(5, 6)),
    ]
    outgoing = restrictions_request(updates, PROPERTY, MONDAY)
    assert outgoing == OutgoingValues(
        values=(
            {
                "property_id": PROPERTY,
                "rate_plan_id": PLAN,
                "date_from": iso(0),
                "date_to": iso(1),
                "rate": "110.00",
            },
            {
                "property_id": PROPERTY,
                "rate_plan_id": OTHER_PLAN,
                "date": iso(3),
                "stop_sell": True,
            },
        ),
        origins=(1, 2),
        notes=(
            "entries 0: past dates only; Channex takes none",
            "entries 1: min/max advance not sent; Channex API v1 has no such restriction",
        ),
    )


def test_availability_request_maps_each_value_to_its_update() -> None:
    updates = [
        AvailabilityUpdate(ROOM, days(0, 13), 2, frozenset({0})),
        AvailabilityUpdate("other-room", days(-2, -1), 1),
        AvailabilityUpdate("other-room", days(2, 2), 4),
    ]
    outgoing = availability_request(updates, PROPERTY, MONDAY)
    assert [value.get("date") for value in outgoing.values] == [iso(0), iso(7), iso(2)]
    assert outgoing.origins == (0, 0, 2)
    assert outgoing.notes == ("entries 1: past dates only; Channex takes none",)


def test_long_notes_are_shortened() -> None:
    updates = [rate(RateValues(min_advance=1), days(n, n)) for n in range(12)]
    outgoing = restrictions_request(updates, PROPERTY, MONDAY)
    assert outgoing.values == ()
    assert outgoing.notes == (
        "entries 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more: min/max advance not sent; "
        "Channex API v1 has no such restriction",
    )


def test_describe_warning() -> None:
    assert (
        describe_warning(
            {"rate": 0, "warning": {"rate": ["must be greater than 0"], "stop_sell": "is invalid"}}
        )
        == "rate: must be greater than 0; stop_sell: is invalid"
    )
    assert describe_warning({"warning": "closed"}) == "closed"
    assert describe_warning({"warning": {}}) == "refused by Channex"
    assert describe_warning({}) == "refused by Channex"


def echo(value: dict[str, object], **warning: list[str]) -> dict[str, object]:
    """A warning as channex.md §1.5 shows it: the change with nulls for absent fields."""
    nulls = dict.fromkeys(
        ("date", "date_from", "date_to", "days", "rate", "rates", "min_stay_arrival", "stop_sell")
    )
    return {**nulls, **value, "warning": warning}


def outgoing_of(*updates: RateUpdate) -> OutgoingValues:
    return restrictions_request(list(updates), PROPERTY, MONDAY)


def test_warnings_are_mapped_back_to_the_entries_they_echo() -> None:
    outgoing = outgoing_of(
        rate(RateValues(price=Decimal("100")), days(0, 4)),
        rate(RateValues(price=Decimal("0")), days(5, 5)),
        RateUpdate(ROOM, "unknown-plan", days(5, 9), RateValues(stop_sell=True)),
    )
    warnings = [
        echo(outgoing.values[1], rate=["must be greater than 0"]),
        echo(outgoing.values[2], rate_plan_id=["not found"]),
    ]
    assert entry_results(3, outgoing, warnings) == (
        EntryResult(0, accepted=True),
        EntryResult(1, accepted=False, reason="rate: must be greater than 0"),
        EntryResult(2, accepted=False, reason="rate_plan_id: not found"),
    )


def test_identical_echoes_match_successive_values() -> None:
    outgoing = OutgoingValues(
        values=({"rate_plan_id": PLAN, "date": iso(1)}, {"rate_plan_id": PLAN, "date": iso(1)}),
        origins=(0, 1),
    )
    warnings = [echo(dict(value), rate=["is invalid"]) for value in outgoing.values]
    results = entry_results(2, outgoing, warnings)
    assert [result.accepted for result in results] == [False, False]


def test_a_refused_weekday_piece_refuses_its_whole_update() -> None:
    outgoing = availability_request(
        [
            AvailabilityUpdate(ROOM, days(0, 13), 2, frozenset({0})),
            AvailabilityUpdate(ROOM, days(20, 20), 1),
        ],
        PROPERTY,
        MONDAY,
    )
    warnings = [{**outgoing.values[1], "warning": {"date": ["must be today or later"]}}]
    assert entry_results(2, outgoing, warnings) == (
        EntryResult(0, accepted=False, reason="date: must be today or later"),
        EntryResult(1, accepted=True),
    )


def test_a_warning_that_matches_nothing_refuses_every_sent_entry() -> None:
    outgoing = outgoing_of(
        rate(RateValues(price=Decimal("100")), days(-3, -1)),
        rate(RateValues(price=Decimal("100")), days(0, 4)),
        rate(RateValues(price=Decimal("0")), days(5, 5)),
    )
    warnings = [
        echo(outgoing.values[1], rate=["must be greater than 0"]),
        {"rate_plan_id": "someone-else", "date": iso(9), "warning": {"rate": ["is invalid"]}},
    ]
    assert entry_results(3, outgoing, warnings) == (
        EntryResult(0, accepted=True, sent=False),  # never sent: past dates only
        EntryResult(1, accepted=False, reason="rate: is invalid"),
        EntryResult(2, accepted=False, reason="rate: must be greater than 0"),
    )


def test_empty_data_means_nothing_was_accepted() -> None:
    outgoing = outgoing_of(
        rate(RateValues(price=Decimal("100")), days(0, 4)),
        rate(RateValues(price=Decimal("0")), days(5, 5)),
    )
    warnings = [echo(outgoing.values[1], rate=["must be greater than 0"])]
    assert entry_results(2, outgoing, warnings, is_nothing_accepted=True) == (
        EntryResult(0, accepted=False, reason="Channex accepted no entry of the call"),
        EntryResult(1, accepted=False, reason="rate: must be greater than 0"),
    )


def test_read_back_values() -> None:
    shown = RestrictionDay.model_validate(
        {
            "rate": "120.00",
            "min_stay_arrival": 2,
            "min_stay_through": 1,
            "max_stay": 0,
            "closed_to_arrival": False,
            "closed_to_departure": True,
            "stop_sell": False,
        }
    )
    assert rate_values_from_channex(shown, is_per_person=False) == RateValues(
        price=Decimal("120.00"),
        min_stay_arrival=2,
        min_stay_through=1,
        max_stay=0,
        closed_to_arrival=False,
        closed_to_departure=True,
        stop_sell=False,
        min_advance=0,
        max_advance=0,
    )
    # GET /restrictions shows only the primary occupancy's rate: not a per-person price list.
    assert rate_values_from_channex(shown, is_per_person=True).price is None


def test_property_zone_and_first_open_date() -> None:
    assert property_zone(None) is UTC
    assert property_zone("") is UTC
    assert property_zone("Nowhere/Atlantis") is UTC
    assert property_zone("../etc") is UTC
    lisbon = property_zone("Europe/Lisbon")
    assert lisbon == ZoneInfo("Europe/Lisbon")
    late = datetime(2030, 1, 7, 10, 30, tzinfo=UTC)
    assert first_open_date(late, ZoneInfo("Pacific/Pago_Pago")) == date(2030, 1, 6)
    assert first_open_date(late, lisbon) == date(2030, 1, 7)
    # In the last two minutes of a day, that day is no longer sent.
    assert first_open_date(datetime(2030, 1, 7, 23, 58, 30, tzinfo=UTC), UTC) == date(2030, 1, 8)
    assert first_open_date(datetime(2030, 1, 7, 23, 57, 59, tzinfo=UTC), UTC) == date(2030, 1, 7)


def channex_size(update: RateUpdate) -> int:
    value = restriction_value(update, PROPERTY, MONDAY)
    return len(json.dumps(value, separators=(",", ":"))) + 1


def test_declared_size_limit_keeps_real_calls_under_ten_megabytes() -> None:
    """The planner counts neutral bytes; the worst Channex spelling must still fit 10 MB."""
    all_occupancies = RateValues(occupancy_prices=tuple((n, Decimal("1")) for n in range(1, 19)))
    samples = [
        rate(all_occupancies, days(0, 30), weekdays={5, 6}),
        rate(all_occupancies, days(0, 0)),
        rate(RateValues(price=Decimal("1")), days(0, 30)),
        rate(
            RateValues(
                price=Decimal("12345.67"),
                min_stay_arrival=1,
                min_stay_through=1,
                max_stay=0,
                closed_to_arrival=False,
                closed_to_departure=False,
                stop_sell=False,
                min_advance=0,
                max_advance=0,
            ),
            days(0, 30),
            weekdays={4},
        ),
    ]
    worst = max(channex_size(update) / (update_json_size(update) + 1) for update in samples)
    assert 2.0 < worst < 2.4
    assert CHANNEX_LIMITS.max_request_bytes is not None
    assert CHANNEX_LIMITS.max_request_bytes * worst < MAX_BODY_BYTES


@pytest.mark.parametrize("amount", ["0.1", "7", "19.99"])
def test_money_round_trips_through_the_read_format(amount: str) -> None:
    assert Decimal(money(Decimal(amount))) == Decimal(amount)
