"""Aiosell mapping: pure translations between neutral types and Aiosell payloads."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.channels.aiosell.client import AiosellReply
from innsync.channels.aiosell.mapping import (
    availability_body,
    entry_results,
    inclusive_ranges,
    rates_bodies,
    revision_from_body,
)
from innsync.channels.errors import ChannelRejectedError, MappingMissingError
from innsync.channels.types import AvailabilityUpdate, BookingRevision, RateUpdate, RateValues
from innsync.stay_dates import DateRange

NOW = datetime(2025, 2, 21, 8, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Kolkata")
MARCH = DateRange.inclusive(date(2025, 3, 1), date(2025, 3, 5))
OCCUPANCY = {"EXEC-BAR": {1: "EXECUTIVE-S-101", 2: "EXECUTIVE-D-101"}}

RESERVATION = {
    "action": "book",
    "hotelCode": "SANDBOX-PMS",
    "channel": "Goibibo",
    "bookingId": "GO1234567",
    "cmBookingId": "AIO-98765",
    "bookedOn": "2025-02-20 14:03:11",
    "checkin": "2025-03-01",
    "checkout": "2025-03-03",
    "segment": "OTA",
    "specialRequests": "Late check-in",
    "pah": False,
    "amount": {
        "amountAfterTax": 8400.0,
        "amountBeforeTax": 7500.0,
        "tax": 900.0,
        "commission": 750.0,
        "currency": "INR",
    },
    "guest": {
        "firstName": "Asha",
        "lastName": "Rao",
        "email": "guest@example.com",
        "phone": "+910000000000",
        "address": {
            "line1": "1 Main Rd",
            "city": "Pune",
            "state": "MH",
            "country": "India",
            "zipCode": "411001",
        },
    },
    "rooms": [
        {
            "roomCode": "EXECUTIVE",
            "rateplanCode": "EXECUTIVE-D-101",
            "guestName": "Asha Rao",
            "occupancy": {"adults": 2, "children": 0},
            "prices": [
                {"date": "2025-03-01", "sellRate": 3750.0},
                {"date": "2025-03-02", "sellRate": 3750.0},
            ],
        }
    ],
}

NEW_BOOKING = {
    "hotelCountryCode": "IN",
    "hotelId": "SANDBOX-PMS",
    "operation": "new_booking",
    "reservation": {
        "sourceFields": {},
        "bookingId": "MMT-55",
        "CMBookingId": "AIO-55",
        "rooms": [
            {
                "name": "Executive",
                "id": "EXECUTIVE",
                "rateplan": {"name": "Bar", "id": "EXECUTIVE-S-101"},
                "occupancy": {"adults": 1, "children": 0},
                "currency": "INR",
                "guest": {"firstName": "Ravi", "lastName": "K", "email": "r@example.com"},
                "prices": [
                    {"date": "2025-04-10", "sellRate": 3000.0, "tax": 360.0},
                    {"date": "2025-04-11", "sellRate": 3000.0, "tax": 360.0},
                ],
            }
        ],
        "amount": {
            "amountBeforeTax": 6000.0,
            "netOfCommissionAfterTax": 6000.0,
            "amountToBePaidByCustomer": 6720.0,
        },
    },
}


def _parse(payload: object) -> BookingRevision:
    return revision_from_body(
        json.dumps(payload).encode(), received_at=NOW, currency="INR", zone=ZONE
    )


def test_inclusive_ranges_end_on_the_last_stay_date() -> None:
    assert inclusive_ranges(MARCH, None) == (("2025-03-01", "2025-03-05"),)
    weekends = inclusive_ranges(MARCH, frozenset({5, 6}))  # 1-2 March 2025 is Sat-Sun
    assert weekends == (("2025-03-01", "2025-03-02"),)


def test_availability_body_groups_rooms_by_range() -> None:
    body = availability_body(
        "SANDBOX-PMS",
        [
            AvailabilityUpdate("EXECUTIVE", MARCH, 4),
            AvailabilityUpdate("SUITE", MARCH, 1),
            AvailabilityUpdate("SUITE", DateRange.single(date(2025, 3, 9)), 0),
        ],
    )
    assert body == {
        "hotelCode": "SANDBOX-PMS",
        "updates": [
            {
                "startDate": "2025-03-01",
                "endDate": "2025-03-05",
                "rooms": [
                    {"roomCode": "EXECUTIVE", "available": 4},
                    {"roomCode": "SUITE", "available": 1},
                ],
            },
            {
                "startDate": "2025-03-09",
                "endDate": "2025-03-09",
                "rooms": [{"roomCode": "SUITE", "available": 0}],
            },
        ],
    }


def test_rates_use_occupancy_codes_and_restrictions_go_apart() -> None:
    values = RateValues(
        price=Decimal("3500"),
        occupancy_prices=((1, Decimal("3500")), (2, Decimal("4200.50"))),
        min_stay_through=2,
        stop_sell=False,
        closed_to_arrival=True,
        min_advance=1,
        max_advance=90,
        min_stay_arrival=3,
        max_stay=14,
        closed_to_departure=False,
    )
    rates, restrictions, (in_rates, in_restrictions) = rates_bodies(
        "SANDBOX-PMS",
        [RateUpdate("EXECUTIVE", "EXEC-BAR", MARCH, values)],
        OCCUPANCY,
        ("booking.com",),
    )
    assert rates is not None
    assert restrictions is not None
    assert "toChannels" not in rates
    assert rates["updates"][0]["rates"] == [
        {"roomCode": "EXECUTIVE", "rateplanCode": "EXEC-BAR", "rate": 3500.0},
        {"roomCode": "EXECUTIVE", "rateplanCode": "EXECUTIVE-S-101", "rate": 3500.0},
        {"roomCode": "EXECUTIVE", "rateplanCode": "EXECUTIVE-D-101", "rate": 4200.5},
    ]
    assert restrictions["toChannels"] == ["booking.com"]
    sent = restrictions["updates"][0]
    assert (sent["startDate"], sent["endDate"]) == ("2025-03-01", "2025-03-05")
    assert [entry["rateplanCode"] for entry in sent["rates"]] == [
        "EXECUTIVE-S-101",
        "EXECUTIVE-D-101",
    ]
    assert sent["rates"][0]["restrictions"] == {
        "stopSell": False,
        "minimumStay": 2,
        "maximumStay": 14,
        "closeOnArrival": True,
        "closeOnDeparture": False,
        "minimumStayArrival": 3,
        "minimumAdvanceReservation": 1,
        "maximumAdvanceReservation": 90,
    }
    assert in_rates == in_restrictions == {0}


def test_rates_without_restrictions_send_no_restrictions_body() -> None:
    rates, restrictions, (in_rates, in_restrictions) = rates_bodies(
        "H", [RateUpdate("R", "P", MARCH, RateValues(price=Decimal("10")))], {}
    )
    assert rates is not None
    assert restrictions is None
    assert (in_rates, in_restrictions) == ({0}, set())
    _, only, _ = rates_bodies("H", [RateUpdate("R", "P", MARCH, RateValues(stop_sell=True))], {})
    assert only is not None
    assert "toChannels" not in only


def test_an_occupancy_without_a_code_is_a_missing_mapping() -> None:
    values = RateValues(occupancy_prices=((3, Decimal("5000")),))
    with pytest.raises(MappingMissingError):
        rates_bodies("H", [RateUpdate("EXECUTIVE", "EXEC-BAR", MARCH, values)], OCCUPANCY)


def test_replies_become_entries() -> None:
    ok = AiosellReply(success=True, message="Rates Updated Successfully")
    refused = AiosellReply(success=False, message="Invalid room code")
    results = entry_results(3, [({0, 1}, ok), ({1}, refused)])
    assert results[0].accepted
    assert results[0].sent
    assert not results[1].accepted
    assert results[1].reason == "Invalid room code"
    assert not results[2].accepted
    assert not results[2].sent


def test_reservation_payload_carries_every_field() -> None:
    revision = _parse(RESERVATION)
    assert revision.status == "new"
    r = revision
    assert r.channel_booking_id == "GO1234567"
    assert r.channel_reference == "AIO-98765"
    assert r.ota_name == "Goibibo"
    assert r.booked_at == datetime(2025, 2, 20, 14, 3, 11, tzinfo=ZONE)
    assert (r.arrival, r.departure) == (date(2025, 3, 1), date(2025, 3, 3))
    assert r.total_amount == Decimal("8400.0")
    assert r.total_before_tax == Decimal("7500.0")
    assert r.commission == Decimal("750.0")
    assert r.currency == "INR"
    assert r.payment_collect == "ota"
    assert r.special_requests == "Late check-in\nsegment: OTA"
    guest = r.guest
    assert guest.name == "Asha Rao"
    assert guest.email == "guest@example.com"
    assert guest.address == "1 Main Rd, MH, India"
    assert guest.city == "Pune"
    assert guest.postal_code == "411001"
    assert guest.country is None
    (room,) = r.rooms
    assert (room.room_type_code, room.rate_plan_code, room.occupancy) == (
        "EXECUTIVE",
        "EXECUTIVE-D-101",
        2,
    )
    assert room.nightly_prices == (
        (date(2025, 3, 1), Decimal("3750.0")),
        (date(2025, 3, 2), Decimal("3750.0")),
    )
    assert room.charges[0].amount == Decimal("900.0")
    assert room.charges[0].is_inclusive


def test_same_body_same_revision_and_actions_map() -> None:
    assert _parse(RESERVATION).revision_id == _parse(RESERVATION).revision_id
    modified = _parse({**RESERVATION, "action": "modify"})
    cancelled = _parse({**RESERVATION, "action": "cancel"})
    assert modified.status == "modified"
    assert cancelled.status == "cancelled"
    assert modified.revision_id != cancelled.revision_id
    nulls = _parse(
        {**RESERVATION, "amount": {"amountAfterTax": 1.0, "currency": None}, "guest": None}
    )
    assert nulls.currency == "INR"
    assert nulls.guest.name == "Asha Rao"


def test_new_booking_variant() -> None:
    r = _parse(NEW_BOOKING)
    assert r.status == "new"
    assert r.channel_booking_id == "MMT-55"
    assert r.channel_reference == "AIO-55"
    assert (r.arrival, r.departure) == (date(2025, 4, 10), date(2025, 4, 12))
    assert r.total_amount == Decimal("6720.0")
    assert r.commission == Decimal("720.0")
    (room,) = r.rooms
    assert (room.room_type_code, room.rate_plan_code) == ("EXECUTIVE", "EXECUTIVE-S-101")
    assert room.charges[0].amount == Decimal("720.0")
    assert not room.charges[0].is_inclusive
    assert r.guest.name == "Ravi K"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b"null",
        b"[" * 5000,
        json.dumps({**RESERVATION, "action": "explode"}).encode(),
        json.dumps({**RESERVATION, "checkout": "2025-02-01"}).encode(),
        json.dumps({k: v for k, v in RESERVATION.items() if k != "bookingId"}).encode(),
        # Only a cancel may leave its dates out (a short cancel, §1.10 3P).
        json.dumps({"action": "modify", "hotelCode": "H", "bookingId": "X1"}).encode(),
        json.dumps(
            {"action": "cancel", "bookingId": "X1", "amount": {"currency": "rupees"}}
        ).encode(),
        json.dumps({**RESERVATION, "bookedOn": "yesterday"}).encode(),
        json.dumps(
            {**RESERVATION, "rooms": [{"roomCode": "R", "occupancy": {"adults": 0}}]}
        ).encode(),
        json.dumps({**RESERVATION, "amount": {"amountAfterTax": -5}}).encode(),
        json.dumps({**RESERVATION, "amount": {"currency": "rupees"}}).encode(),
        json.dumps({**NEW_BOOKING, "operation": "other"}).encode(),
        json.dumps({**NEW_BOOKING, "reservation": {"bookingId": "B", "rooms": []}}).encode(),
        json.dumps({"operation": "new_booking", "reservation": 5}).encode(),
    ],
)
def test_bad_bodies_raise_the_channels_error(body: bytes) -> None:
    with pytest.raises(ChannelRejectedError):
        revision_from_body(body, received_at=NOW, currency="INR", zone=ZONE)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "book", "cancel", "2025-03-01", "2025-03-03", "IN", "x" * 50]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)
_KEYS = sorted({*RESERVATION, "operation", "reservation"})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=len(_KEYS)), st.booleans())
def test_fuzzed_reservations_parse_or_raise_the_channels_error(
    changes: dict[str, object], on_valid: bool
) -> None:
    payload = {**RESERVATION, **changes} if on_valid else changes
    with contextlib.suppress(ChannelRejectedError):
        revision_from_body(json.dumps(payload).encode(), received_at=NOW, currency="INR", zone=ZONE)
