"""What a booking revision carries beyond stay, rooms and total: read from Channex's documented
revision (channex.md §1.6), kept through the neutral JSON, and never a card number."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from innsync.channels.channex.bookings import revision_from_channex
from innsync.channels.revision_json import (
    revision_from_bytes,
    revision_from_json,
    revision_to_bytes,
    revision_to_json,
)
from innsync.channels.types import BookedRoom, BookingRevision, Charge, Guarantee, GuestDetails

FULL_CARD = "4111111111111111"


def channex_revision(**changes: Any) -> dict[str, Any]:
    """The documented example (§1.6), with the fields newer examples add."""
    attributes: dict[str, Any] = {
        "id": "REV-1",
        "booking_id": "BKG-1",
        "property_id": "PROP-1",
        "unique_id": "BDC-9996013801",
        "system_id": "12331233123",
        "ota_reservation_code": "9996013801",
        "ota_name": "Booking.com",
        "status": "new",
        "arrival_date": "2026-04-26",
        "departure_date": "2026-04-28",
        "arrival_hour": "10:00",
        "amount": "220.00",
        "currency": "gbp",
        "ota_commission": "33.00",
        "payment_collect": "property",
        "payment_type": "credit_card",
        "notes": "Quiet room",
        "occupancy": {"adults": 2, "children": 1, "infants": 1, "ages": [9, 1]},
        "customer": {
            "name": "User",
            "surname": "Channex",
            "mail": "user@channex.io",
            "phone": "1234567890",
            "country": "nl",
            "city": "Amsterdam",
            "address": "Dam 1",
            "zip": "1012 JS",
            "language": "nl",
        },
        # With PCI access Channex sends the whole number and the cvv: neither may be kept.
        "guarantee": {
            "card_number": FULL_CARD,
            "card_type": "VI",
            "cvv": "123",
            "expiration_date": "10/2030",
            "cardholder_name": "Channex User",
            "is_virtual": True,
        },
        "rooms": [
            {
                "room_type_id": "RT-1",
                "rate_plan_id": "RP-1",
                "amount": "220.00",
                "days": {"2026-04-26": "110.00", "2026-04-27": "110.00"},
                "occupancy": {"adults": 2, "children": 1, "infants": 1, "ages": [9, 1]},
                "taxes": [
                    {"type": "tax", "name": "VAT", "total_price": "20.00", "is_inclusive": True},
                    {"type": "city_tax", "name": "City", "total_price": "5.00"},
                ],
            }
        ],
        "inserted_at": "2026-04-23T10:03:29.335485",
    }
    attributes.update(changes)
    return {"type": "booking_revision", "id": "REV-1", "attributes": attributes}


def test_a_channex_revision_keeps_what_a_hotel_works_with_and_never_the_card() -> None:
    revision = revision_from_channex(channex_revision())
    assert (revision.ota_name, revision.ota_reservation_code, revision.channel_reference) == (
        "Booking.com",
        "9996013801",
        "BDC-9996013801",
    )
    assert revision.booked_at == datetime(2026, 4, 23, 10, 3, 29, 335485, tzinfo=UTC)
    assert (revision.arrival_time, revision.special_requests) == ("10:00", "Quiet room")
    assert (revision.total_amount, revision.total_before_tax, revision.commission) == (
        Decimal("220.00"),
        Decimal("200.00"),
        Decimal("33.00"),
    )
    assert (revision.payment_collect, revision.payment_type) == ("property", "credit_card")
    assert revision.guarantee == Guarantee(
        card_type="VI",
        card_last_four="1111",
        cardholder_name="Channex User",
        expires="10/2030",
        is_virtual=True,
    )
    assert revision.guest == GuestDetails(
        name="User Channex",
        email="user@channex.io",
        phone="1234567890",
        address="Dam 1",
        city="Amsterdam",
        postal_code="1012 JS",
        country="NL",
        language="nl",
    )
    (room,) = revision.rooms
    assert (room.occupancy, room.children, room.child_ages) == (3, 1, (9,))
    assert room.charges == (
        Charge(kind="tax", name="VAT", amount=Decimal("20.00"), is_inclusive=True),
        Charge(kind="city_tax", name="City", amount=Decimal("5.00"), is_inclusive=False),
    )
    stored = revision_to_bytes(revision)
    assert FULL_CARD.encode() not in stored
    assert b"cvv" not in stored
    assert revision_from_bytes(stored) == revision


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "modified"}, {"booked_at": None}),
        ({"arrival_hour": "9:30:00"}, {"arrival_time": "09:30"}),
        ({"arrival_hour": "late"}, {"arrival_time": None}),
        ({"guarantee": None, "payment_type": None}, {"guarantee": None, "payment_type": None}),
        ({"payment_collect": "somebody"}, {"payment_collect": None}),
        ({"rooms": []}, {"total_before_tax": None}),
        ({"ota_name": "", "unique_id": None}, {"ota_name": None, "channel_reference": None}),
    ],
)
def test_missing_or_odd_details_are_left_out_not_refused(
    changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    if changes.get("rooms") == []:
        changes["status"] = "cancelled"
    revision = revision_from_channex(channex_revision(**changes))
    assert {name: getattr(revision, name) for name in expected} == expected


def test_the_neutral_json_keeps_every_detail_and_reads_older_documents() -> None:
    revision = BookingRevision(
        channel_booking_id="FK-1",
        revision_id="FK-1-1",
        status="new",
        arrival=date(2026, 6, 1),
        departure=date(2026, 6, 2),
        rooms=(
            BookedRoom(
                "DBL",
                "BAR",
                3,
                ((date(2026, 6, 1), Decimal("120.00")),),
                children=1,
                child_ages=(4,),
                charges=(Charge("fee", "Cleaning", Decimal("15.00"), is_inclusive=False),),
            ),
        ),
        guest=GuestDetails(name="Ada Lovelace", country="GB", language="en-GB"),
        total_amount=Decimal("135.00"),
        currency="EUR",
        received_at=datetime(2026, 5, 1, 10, tzinfo=UTC),
        ota_name="Airbnb",
        ota_reservation_code="HM123",
        booked_at=datetime(2026, 5, 1, 9, tzinfo=UTC),
        arrival_time="16:00",
        special_requests="Crib",
        total_before_tax=Decimal("120.00"),
        commission=Decimal("4.05"),
        payment_collect="ota",
        payment_type="bank_transfer",
        guarantee=Guarantee(card_type="MC", card_last_four="4444", is_virtual=True),
    )
    assert revision_from_json(revision_to_json(revision)) == revision
    older = revision_to_json(revision)
    for key in ("ota_name", "booked_at", "guarantee", "commission", "payment_collect"):
        del older[key]
    for room in older["rooms"]:
        del room["child_ages"], room["charges"]
    read = revision_from_json(older)
    assert (read.ota_name, read.booked_at, read.guarantee, read.rooms[0].charges) == (
        None,
        None,
        None,
        (),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"card_last_four": "41111111"}, "four digits"),
        ({"card_last_four": "41a1"}, "four digits"),
    ],
)
def test_a_guarantee_cannot_hold_more_than_the_last_four_digits(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Guarantee(**kwargs)
