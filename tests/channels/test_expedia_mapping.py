"""Pure EQC translations: AR packing to the update cap, values, BR parsing, BC ids."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.channels.expedia.mapping import (
    MAX_DAYS_AHEAD,
    Piece,
    ar_request,
    minimum_messages,
    pack,
    plan_ar,
    rate_atoms,
)
from innsync.channels.expedia.reservations import (
    TransactionKey,
    bc_request,
    br_request,
    retrieved,
    revision_id,
)
from innsync.channels.types import AvailabilityUpdate, RateUpdate, RateValues
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import attribute, child, children, parse_xml

REFERENCE = Path(__file__).parent / "reference" / "expedia"
TODAY = date(2030, 1, 7)  # a Monday
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def unit_counts(messages: tuple[tuple[Piece, ...], ...]) -> Counter[tuple[object, ...]]:
    """Every (origin, room, rate, day, value name) the messages carry, with how often."""
    found: Counter[tuple[object, ...]] = Counter()
    for message in messages:
        for piece in message:
            for day in piece.days():
                for name, _ in piece.values:
                    found[(piece.origin, piece.room_id, piece.rate_id, day, name)] += 1
    return found


pieces_strategy = st.lists(
    st.builds(
        lambda origin, start, span, weekdays, count: Piece(
            origin,  # renumbered below: one piece per update
            f"R{origin % 3}",
            None if count == 1 else f"P{origin}",
            TODAY + timedelta(days=start),
            TODAY + timedelta(days=start + span),
            weekdays,
            tuple((f"v{n}", n) for n in range(count)),
        ),
        st.integers(0, 50),
        st.integers(0, 300),
        st.integers(0, 90),
        st.one_of(st.none(), st.frozensets(st.integers(0, 6), min_size=1)),
        st.integers(1, 7),
    ),
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(generated=pieces_strategy, capacity=st.integers(1, 300))
def test_packing_fills_messages_to_the_cap_and_carries_every_update_once(
    generated: list[Piece], capacity: int
) -> None:
    pieces = [dataclasses.replace(piece, origin=n) for n, piece in enumerate(generated)]
    messages = pack(pieces, capacity)
    total = sum(piece.updates for piece in pieces)
    assert len(messages) == minimum_messages(total, capacity)
    assert all(sum(p.updates for p in message) <= capacity for message in messages)
    assert all(sum(p.updates for p in message) == capacity for message in messages[:-1])
    expected = unit_counts((tuple(pieces),))
    assert unit_counts(messages) == expected
    assert set(expected.values()) <= {1}


def test_updates_become_pieces_clipped_to_eqcs_window() -> None:
    past = AvailabilityUpdate(
        "R1", DateRange(TODAY - timedelta(days=3), TODAY + timedelta(days=2)), 4
    )
    far = AvailabilityUpdate(
        "R1", DateRange(TODAY + timedelta(days=700), TODAY + timedelta(days=900)), 2
    )
    gone = AvailabilityUpdate("R1", DateRange(TODAY - timedelta(days=3), TODAY), 1)
    plan = plan_ar([past, far, gone], TODAY, "per_day")
    (message,) = plan.messages
    assert [(p.first, p.last) for p in message] == [
        (TODAY, TODAY + timedelta(days=1)),
        (TODAY + timedelta(days=700), TODAY + timedelta(days=MAX_DAYS_AHEAD - 1)),
    ]
    assert plan.partly_unsent == {0, 1, 2}
    assert plan.updates == 2 + (MAX_DAYS_AHEAD - 700)


def test_rate_values_map_to_eqc_names() -> None:
    values = RateValues(
        price=Decimal("99.5"),
        min_stay_arrival=2,
        max_stay=0,
        closed_to_arrival=True,
        closed_to_departure=False,
        stop_sell=False,
    )
    atoms, reason = rate_atoms(values, "per_day")
    assert reason is None
    assert dict(atoms) == {
        "closed": False,
        "rate": Decimal("99.5"),
        "closedToArrival": True,
        "closedToDeparture": False,
        "minLOS": 2,
        "maxLOS": 28,  # neutral 0, no maximum: EQC's longest
    }
    occupancy = RateValues(occupancy_prices=((2, Decimal("100")), (1, Decimal("80"))))
    atoms, reason = rate_atoms(occupancy, "per_occupancy")
    assert (dict(atoms), reason) == (
        {"occupancy:1": Decimal("80"), "occupancy:2": Decimal("100")},
        None,
    )


@pytest.mark.parametrize(
    ("values", "pricing", "reason"),
    [
        (RateValues(occupancy_prices=((1, Decimal("80")),)), "per_day", "priced per day"),
        (RateValues(price=Decimal("80")), "per_occupancy", "priced per occupancy"),
        (RateValues(min_stay_arrival=29), "per_day", "minLOS 29"),
        (RateValues(max_stay=30), "per_day", "maxLOS 30"),
        (RateValues(min_stay_through=2), "per_day", "min_stay_through 2"),
        (RateValues(min_advance=3), "per_day", "min_advance 3"),
    ],
)
def test_values_eqc_cannot_hold_are_refused_before_sending(
    values: RateValues, pricing: str, reason: str
) -> None:
    update = RateUpdate("R1", "P1", DateRange(TODAY, TODAY + timedelta(days=5)), values)
    plan = plan_ar([update], TODAY, pricing)
    assert plan.messages == ()
    assert reason in plan.refused[0]


def test_an_ar_request_has_the_documented_shape() -> None:
    update = RateUpdate(
        "R1",
        "P1",
        DateRange(TODAY, TODAY + timedelta(days=14)),
        RateValues(price=Decimal("120"), closed_to_departure=True),
        frozenset({5, 6}),
    )
    (message,) = plan_ar([update], TODAY, "per_day").messages
    root = parse_xml(ar_request("211", "user", "ECLPASS", message, "USD"))
    (item,) = children(root, "AvailRateUpdate")
    date_range = child(item, "DateRange")
    assert dict(date_range.attrib) == {
        "from": "2030-01-07",
        "to": "2030-01-20",
        "mon": "false",
        "tue": "false",
        "wed": "false",
        "thu": "false",
        "fri": "false",
        "sat": "true",
        "sun": "true",
    }
    plan = child(child(item, "RoomType"), "RatePlan")
    assert attribute(child(child(plan, "Rate"), "PerDay"), "rate") == "120"
    assert dict(child(plan, "Restrictions").attrib) == {"closedToDeparture": "true"}


def test_reference_responses_become_revisions() -> None:
    root = parse_xml((REFERENCE / "br-response-new-bookings.xml").read_bytes())
    found = retrieved(root, NOW, "USD")
    assert found.count == 2
    assert found.unreadable == ()
    first = found.revisions[0]
    assert first.revision_id == "2543453245546/Book/2009-10-25T09:30:47Z"
    assert (first.status, first.arrival, first.departure) == (
        "new",
        date(2009, 12, 24),
        date(2009, 12, 31),
    )
    (room,) = first.rooms
    assert (room.room_type_code, room.rate_plan_code, room.occupancy, room.children) == (
        "965645",
        "956589",
        4,
        2,
    )
    assert room.child_ages == (1, 17)
    assert room.nightly_prices[0] == (date(2009, 12, 24), Decimal("190.00"))  # base + fees
    assert (first.total_amount, first.total_before_tax, first.currency) == (
        Decimal("1529.50"),
        Decimal("1330.00"),
        "EUR",
    )
    assert first.guest.name == "John Smith"
    assert first.guest.phone == "+1 514 5558975"
    assert first.received_at == datetime(2009, 10, 25, 9, 30, 47, tzinfo=UTC)
    assert first.special_requests is not None
    assert "Non-smoking" in first.special_requests
    assert (first.ota_name, first.payment_collect) == ("Expedia", "ota")


def test_modify_cancel_and_virtual_card_responses() -> None:
    modified = retrieved(
        parse_xml((REFERENCE / "br-response-modified-booking.xml").read_bytes()), NOW, "USD"
    ).revisions[0]
    assert (modified.status, modified.total_amount) == ("modified", Decimal("500.00"))
    cancelled = retrieved(
        parse_xml((REFERENCE / "br-response-cancelled-bookings.xml").read_bytes()), NOW, "USD"
    )
    assert [r.status for r in cancelled.revisions] == ["cancelled", "cancelled"]
    assert all(r.rooms == () for r in cancelled.revisions)  # room type 0: no room
    assert cancelled.revisions[0].currency == "USD"  # the Total names none
    card = retrieved(
        parse_xml((REFERENCE / "br-response-virtual-card.xml").read_bytes()), NOW, "USD"
    ).revisions[0]
    assert card.guarantee is not None
    assert (card.guarantee.card_type, card.guarantee.card_last_four) == ("VI", "3456")
    assert (card.guarantee.expires, card.guarantee.is_virtual) == ("12/2006", True)
    assert card.payment_type == "credit_card"


def test_an_unreadable_booking_is_kept_apart() -> None:
    body = (
        b'<BookingRetrievalRS xmlns="http://www.expediaconnect.com/EQC/BR/2014/01"><Bookings>'
        b'<Booking id="77" type="Book" createDateTime="2030-01-07T09:00:00Z" source="Expedia">'
        b'<Hotel id="211"/><RoomStay roomTypeID="1" ratePlanID="2">'
        b'<StayDate arrival="2030-02-05" departure="2030-02-01"/><GuestCount adult="2"/>'
        b"</RoomStay></Booking></Bookings></BookingRetrievalRS>"
    )
    found = retrieved(parse_xml(body), NOW, "USD")
    assert found.revisions == ()
    (unreadable,) = found.unreadable
    assert unreadable.key == "expedia-booking-77-Book"
    with pytest.raises(ValueError, match="not an Expedia revision id"):
        TransactionKey.parse("77/Rebook/x")


def test_br_and_bc_requests_name_what_they_ask_for() -> None:
    root = parse_xml(br_request("user", "ECLPASS", "211", ["pending", "retrieved"]))
    assert [attribute(s, "value") for s in children(child(root, "ParamSet"), "Status")] == [
        "pending",
        "retrieved",
    ]
    key = TransactionKey.parse(revision_id("123", "Modify", "2030-01-07T09:00:00Z"))
    confirm = parse_xml(bc_request("user", "ECLPASS", "211", key, "INN123", NOW))
    number = child(child(confirm, "BookingConfirmNumbers"), "BookingConfirmNumber")
    assert dict(number.attrib) == {
        "bookingID": "123",
        "bookingType": "Modify",
        "confirmNumber": "INN123",
        "confirmTime": "2030-01-07T09:00:00Z",
    }


def test_per_occupancy_rates_restrictions_only_and_empty_updates() -> None:
    saturday = TODAY + timedelta(days=5)
    updates = [
        RateUpdate(
            "R1",
            "P1",
            DateRange(TODAY, TODAY + timedelta(days=7)),
            RateValues(occupancy_prices=((1, Decimal("80")), (2, Decimal("1E+2")))),
        ),
        # Restrictions only, no price, on a per-occupancy property.
        RateUpdate("R1", "P2", DateRange(TODAY, TODAY + timedelta(days=2)), RateValues(max_stay=5)),
        # Nothing to send: no day of its weekdays in the range.
        AvailabilityUpdate(
            "R1", DateRange(saturday, saturday + timedelta(days=1)), 2, frozenset({0})
        ),
    ]
    plan = plan_ar(updates, TODAY, "per_occupancy")
    (message,) = plan.messages
    assert [piece.origin for piece in message] == [0, 1]
    root = parse_xml(ar_request("411", "user", "ECLPASS", message, "USD"))
    first, second = children(root, "AvailRateUpdate")
    rate = first.find(".//{*}Rate")
    assert [
        (attribute(r, "occupancy"), attribute(r, "rate")) for r in children(rate, "PerOccupancy")
    ] == [
        ("1", "80"),
        ("2", "100"),
    ]
    assert first.find(".//{*}Restrictions") is None
    assert second.find(".//{*}Rate") is None
    assert attribute(second.find(".//{*}Restrictions"), "maxLOS") == "5"


def test_a_message_full_mid_day_cuts_between_values() -> None:
    # 3 values a day, a cap of 4: day 1 whole and 1 value of day 2, then the rest.
    piece = Piece(
        0, "R1", "P1", TODAY, TODAY + timedelta(days=1), None, (("a", 1), ("b", 2), ("c", 3))
    )
    messages = pack([piece], 4)
    assert [[(p.first, p.last, [n for n, _ in p.values]) for p in m] for m in messages] == [
        [
            (TODAY, TODAY, ["a", "b", "c"]),
            (TODAY + timedelta(days=1), TODAY + timedelta(days=1), ["a"]),
        ],
        [(TODAY + timedelta(days=1), TODAY + timedelta(days=1), ["b", "c"])],
    ]
    # A cut on the last day leaves no rest; a piece that fits a message exactly closes it.
    single = Piece(1, "R1", "P1", TODAY, TODAY, None, (("a", 1), ("b", 2)))
    assert [[p.values for p in m] for m in pack([single, single], 3)] == [
        [(("a", 1), ("b", 2)), (("a", 1),)],
        [(("b", 2),)],
    ]
