"""Pure Beds24 translations (beds24.md §2.5, §2.6): ranges, slots, overrides, bookings."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from innsync.channels.beds24.config import Beds24Config
from innsync.channels.beds24.credits import CreditMeter, read_headers
from innsync.channels.beds24.mapping import (
    BookingShapeError,
    availability_batch,
    availability_from_calendar,
    booking_body,
    entry_results,
    money,
    override_of,
    rates_batch,
    rates_from_calendar,
    revision_from_booking,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    BookedRoom,
    BookingRevision,
    GuestDetails,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange

DAY = date(2030, 3, 1)
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def config(**changes: Any) -> Beds24Config:
    return Beds24Config(refresh_token=SecretStr("r"), property_id=1, **changes)


@given(st.integers(0, 400), st.integers(1, 60))
def test_a_half_open_range_is_sent_inclusive_and_read_back_whole(offset: int, nights: int) -> None:
    dates = DateRange(DAY + timedelta(days=offset), DAY + timedelta(days=offset + nights))
    batch = availability_batch([AvailabilityUpdate("201", dates, 3)])
    (entry,) = batch.items[0]["calendar"]
    assert date.fromisoformat(entry["from"]) == dates.start
    assert date.fromisoformat(entry["to"]) == dates.end - timedelta(days=1)
    shown = availability_from_calendar([{"roomId": 201, "calendar": [entry]}], dates)
    assert shown == {"201": dict.fromkeys(dates, 3)}


def test_weekday_updates_become_runs_of_consecutive_dates() -> None:
    monday = date(2030, 3, 4)
    update = AvailabilityUpdate(
        "201", DateRange(monday, monday + timedelta(days=14)), 2, weekdays=frozenset({4, 5})
    )
    entries = availability_batch([update]).items[0]["calendar"]
    assert [(e["from"], e["to"]) for e in entries] == [
        ("2030-03-08", "2030-03-09"),
        ("2030-03-15", "2030-03-16"),
    ]


@pytest.mark.parametrize(
    ("cta", "ctd", "stop", "expected"),
    [
        (None, None, None, None),
        (False, False, False, "none"),
        (True, False, False, "noCheckIn"),
        (False, True, None, "noCheckOut"),
        (True, True, False, "noCheckInOrCheckOut"),
        (True, True, True, "blackout"),
        (None, None, True, "blackout"),
    ],
)
def test_closures_are_one_override(
    cta: bool | None, ctd: bool | None, stop: bool | None, expected: str | None
) -> None:
    values = RateValues(closed_to_arrival=cta, closed_to_departure=ctd, stop_sell=stop)
    assert override_of(values) == expected


def test_rate_entries_use_the_plans_slot_and_refuse_what_cannot_be_sent() -> None:
    dates = DateRange(DAY, DAY + timedelta(days=2))
    updates = [
        RateUpdate("201", "BAR", dates, RateValues(price=Decimal("99.90"), max_stay=0)),
        RateUpdate("201", "price16", dates, RateValues(price=Decimal(50))),
        RateUpdate("201", "UNKNOWN", dates, RateValues(price=Decimal(50))),
        RateUpdate("x1", "BAR", dates, RateValues(price=Decimal(50))),
        RateUpdate("202", "BAR", dates, RateValues(min_advance=3)),
    ]
    batch = rates_batch(updates, config(rate_plan_slots={"BAR": 3}))
    assert batch.items == [
        {
            "roomId": 201,
            "calendar": [
                {"from": "2030-03-01", "to": "2030-03-02", "price3": 99.9, "maxStay": None},
                {"from": "2030-03-01", "to": "2030-03-02", "price16": 50},
            ],
        }
    ]
    assert set(batch.refused) == {2, 3}
    assert batch.partial == {4}
    results = entry_results(5, batch, [(True, "")])
    assert [(r.accepted, r.sent) for r in results] == [
        (True, True),
        (True, True),
        (False, False),
        (False, False),
        (True, False),
    ]


def test_an_entry_that_opens_dates_carries_the_held_units_in_runs() -> None:
    """§2.6: override to none without numAvail would set the maximum; the held units go along."""
    dates = DateRange(DAY, DAY + timedelta(days=4))
    opened = RateValues(price=Decimal(80), stop_sell=False, closed_to_arrival=False)
    closed = dataclasses.replace(opened, stop_sell=True)
    held = {"201": {DAY: 4, DAY + timedelta(days=1): 4, DAY + timedelta(days=2): 2}}
    updates = [
        RateUpdate("201", "BAR", dates, opened),
        RateUpdate("201", "BAR", DateRange.single(DAY), closed),
        RateUpdate("202", "BAR", dates, opened),
    ]
    batch = rates_batch(updates, config(rate_plan_slots={"BAR": 1}), held)
    common = {"price1": 80, "override": "none"}
    assert batch.items[0]["calendar"] == [
        {"from": "2030-03-01", "to": "2030-03-02", **common, "numAvail": 4},
        {"from": "2030-03-03", "to": "2030-03-03", **common, "numAvail": 2},
        {"from": "2030-03-04", "to": "2030-03-04", **common},
        {"from": "2030-03-01", "to": "2030-03-01", "price1": 80, "override": "blackout"},
    ]
    assert batch.items[1]["calendar"] == [{"from": "2030-03-01", "to": "2030-03-04", **common}]
    assert [r.accepted and r.sent for r in entry_results(3, batch, [(True, ""), (True, "")])] == [
        True,
        True,
        True,
    ]


def test_a_refused_item_refuses_every_entry_it_carried() -> None:
    dates = DateRange(DAY, DAY + timedelta(days=1))
    batch = availability_batch(
        [AvailabilityUpdate("201", dates, 1), AvailabilityUpdate("202", dates, 1)]
    )
    results = entry_results(2, batch, [(False, "roomId: Room not found"), (True, "")])
    assert [(r.accepted, r.reason) for r in results] == [
        (False, "roomId: Room not found"),
        (True, None),
    ]


def test_read_back_gives_the_restriction_plan_the_rooms_restrictions() -> None:
    rooms = [
        {
            "roomId": 201,
            "calendar": [
                {"from": "2030-03-01", "to": "2030-03-01", "price1": 80, "price2": 70.5,
                 "minStay": 2, "maxStay": 9, "override": "noCheckOut"},
            ],
        }
    ]  # fmt: skip
    plans = [("201", "price1"), ("201", "price2"), ("202", "price1")]
    shown = rates_from_calendar(
        rooms,
        plans,
        DateRange(DAY, DAY + timedelta(days=1)),
        config(restriction_plans={"201": "price1"}),
    )
    assert shown[("201", "price1")][DAY] == RateValues(
        price=Decimal("80.00"),
        min_stay_arrival=2,
        max_stay=9,
        closed_to_arrival=False,
        closed_to_departure=True,
        stop_sell=False,
    )
    assert shown[("201", "price2")][DAY] == RateValues(price=Decimal("70.50"))
    assert shown[("202", "price1")] == {}


def booking(**changes: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "propertyId": 1,
        "roomId": 201,
        "status": "confirmed",
        "arrival": "2030-03-01",
        "departure": "2030-03-04",
        "numAdult": 2,
        "numChild": 1,
        "price": 100,
        "bookingTime": "2030-01-01T10:00:00Z",
        "modifiedTime": "2030-01-01T10:00:00Z",
        **changes,
    }


def test_a_booking_becomes_a_revision_whose_nights_add_up() -> None:
    revision = revision_from_booking(booking(), currency="EUR", fallback_time=NOW)
    assert revision.status == "new"
    assert revision.revision_id == "7@2030-01-01T10:00:00Z#confirmed"
    (room,) = revision.rooms
    assert [price for _, price in room.nightly_prices] == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert (room.occupancy, room.children) == (3, 1)
    assert revision.received_at == datetime(2030, 1, 1, 10, tzinfo=UTC)
    modified = revision_from_booking(
        booking(modifiedTime="2030-01-02T10:00:00"), currency="EUR", fallback_time=NOW
    )
    assert modified.status == "modified"
    cancelled = revision_from_booking(
        booking(status="cancelled"), currency="EUR", fallback_time=NOW
    )
    assert cancelled.status == "cancelled"


@pytest.mark.parametrize(
    "broken",
    [{"id": None}, {"arrival": "soon"}, {"departure": "2030-03-01"}, {"roomId": "x"}],
)
def test_a_booking_without_what_a_revision_needs_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(BookingShapeError):
        revision_from_booking(booking(**broken), currency="EUR", fallback_time=NOW)


def test_a_direct_booking_body_carries_its_idempotency_reference() -> None:
    stay = DateRange(DAY, DAY + timedelta(days=2))
    revision = BookingRevision(
        channel_booking_id="R-9",
        revision_id="R-9-1",
        status="new",
        arrival=stay.start,
        departure=stay.end,
        rooms=(BookedRoom("201", None, 2, tuple((n, Decimal(60)) for n in stay)),),
        guest=GuestDetails(name="Ada King Lovelace", email="ada@example.com"),
        total_amount=Decimal("120.50"),
        currency="EUR",
        received_at=NOW,
    )
    body = booking_body(revision, None)
    assert body["apiReference"] == "innsync-R-9"
    assert (body["firstName"], body["lastName"]) == ("Ada King", "Lovelace")
    assert body["price"] == 120.5
    assert body["actions"] == {"checkAvailability": True}
    changed = booking_body(revision, {"id": 55, "roomId": 201})
    assert changed["id"] == 55
    assert "actions" not in changed
    with pytest.raises(ValueError, match="cancellation"):
        booking_body(dataclasses.replace(revision, status="cancelled"), None)


def test_money_is_major_units_as_json_numbers() -> None:
    assert money(Decimal("120.00")) == 120
    assert money(Decimal("99.95")) == 99.95


def test_credit_headers_are_read_under_either_name_and_gate_the_next_call() -> None:
    meter = CreditMeter()
    meter.record(
        read_headers({"x-five-min-limit-remaining": "0.5", "x-five-min-limit-resets-in": "40"}),
        NOW,
    )
    assert meter.wait_seconds(NOW, 1.0) == 40
    assert meter.wait_seconds(NOW + timedelta(seconds=41), 1.0) is None
    yaml_names = read_headers(
        {
            "x-fivemincreditlimit-remaining": "7",
            "x-fivemincreditlimit-resetsin": "9",
            "x-requestcost": "1.5",
        }
    )
    assert (yaml_names.remaining, yaml_names.resets_in, yaml_names.cost) == (7, 9, 1.5)
    refused = CreditMeter()
    refused.record(read_headers({}), NOW, refused=True)
    assert refused.wait_seconds(NOW, 1.0) == 300


def test_config_needs_credentials_and_valid_slots() -> None:
    with pytest.raises(ValidationError):
        Beds24Config(property_id=1)
    with pytest.raises(ValidationError):
        config(rate_plan_slots={"BAR": 17})
    with pytest.raises(ValidationError):
        config(restriction_plans={"room": "BAR"})
    assert config(base_url="https://beds24.com/api/v2/").base_url == "https://beds24.com/api/v2"
    secret = Beds24Config(refresh_token=SecretStr("s3cret-refresh"), property_id=1)
    assert "s3cret-refresh" not in repr(secret)
    assert secret.public_view()["refresh_token"] == "***"
