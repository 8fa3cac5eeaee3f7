"""Agoda's pure functions: SetARI documents, answers, booking details, windows and hints."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from innsync.channels.agoda.mapping import (
    WEEKDAY_NAMES,
    SendWindow,
    agoda_today,
    entry_results,
    plan_set_ari,
    read_answer,
    set_ari_documents,
)
from innsync.channels.agoda.readback import pieces, read_allotments, read_rate_values
from innsync.channels.agoda.reservations import (
    chunks,
    detail_request,
    revision_from_detail,
    window,
)
from innsync.channels.agoda.webhooks import check_hint_secret, hinted_booking_ids
from innsync.channels.errors import BadSignatureError
from innsync.channels.types import AvailabilityUpdate, RateUpdate, RateValues
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import attribute, child, parse_xml, path, text_of

TODAY = date(2030, 1, 7)  # a Monday
WINDOW = SendWindow(TODAY, 730)


def _range(element: object) -> list[date]:
    """The stay dates a <date_range> names, weekday flags applied (as Agoda reads it)."""
    start = date.fromisoformat(str(attribute(element, "from")))
    end = date.fromisoformat(str(attribute(element, "to")))
    flags = {name: attribute(element, name) != "false" for name in WEEKDAY_NAMES}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return [day for day in days if flags[WEEKDAY_NAMES[day.weekday()]]]


@given(
    start=st.integers(-20, 760),
    nights=st.integers(1, 60),
    weekdays=st.none() | st.frozensets(st.integers(0, 6), min_size=1),
)
def test_a_date_range_with_its_weekday_flags_sets_exactly_the_sendable_covered_dates(
    start: int, nights: int, weekdays: frozenset[int] | None
) -> None:
    first = TODAY + timedelta(days=start)
    update = AvailabilityUpdate("R1", DateRange(first, first + timedelta(days=nights)), 3, weekdays)
    planned = plan_set_ari([update], WINDOW, "USD")
    expected = [day for day in update.covered_dates() if TODAY <= day < WINDOW.end]
    sent = [day for _, element in planned.inventory for day in _range(child(element, "date_range"))]
    assert sent == expected
    whole = first >= TODAY and first + timedelta(days=nights) <= WINDOW.end
    assert (0 in planned.partly_unsent) is not whole


def test_rate_updates_carry_prices_and_restrictions_and_refuse_what_agoda_cannot_hold() -> None:
    dates = DateRange(TODAY, TODAY + timedelta(days=3))
    updates = [
        RateUpdate(
            "R1",
            "P1",
            dates,
            RateValues(
                price=Decimal("90"),
                occupancy_prices=((2, Decimal("110.50")),),
                stop_sell=False,
                min_stay_arrival=2,
            ),
        ),
        RateUpdate("R1", "P2", dates, RateValues(min_stay_through=3, closed_to_arrival=True)),
        RateUpdate("R1", "P3", dates, RateValues(price=Decimal("10.005"))),
    ]
    planned = plan_set_ari(updates, WINDOW, "USD")
    first, second = (element for _, element in planned.rates)
    prices = child(first, "prices")
    assert attribute(prices, "currency") == "USD"
    assert text_of(child(prices, "price")) == "90.00"
    (occupancy,) = path(prices, "occupancy")
    assert (text_of(child(occupancy, "person")), text_of(child(occupancy, "price"))) == (
        "2",
        "110.50",
    )
    (first_restrictions,) = path(first, "restrictions")
    (second_restrictions,) = path(second, "restrictions")
    assert dict(first_restrictions.attrib) == {"closed": "false", "min_los": "2"}
    assert dict(second_restrictions.attrib) == {"cta": "true"}
    assert "min_stay_through 3 not sent" in planned.refused[1]
    assert planned.refused[2] == "a price has more than 2 decimal places"
    assert planned.partly_unsent == {1}


def test_documents_stay_under_the_byte_limit_and_carry_every_update_once() -> None:
    updates = [
        AvailabilityUpdate(
            "R1", DateRange(TODAY + timedelta(days=n), TODAY + timedelta(days=n + 1)), n % 5
        )
        for n in range(200)
    ]
    planned = plan_set_ari(updates, WINDOW, "USD")
    documents = set_ari_documents(planned, "226110", 10, 1, max_bytes=4_096)
    assert len(documents) > 1
    assert all(len(document.body) <= 4_096 for document in documents)
    assert sorted(i for d in documents for i in d.origins) == list(range(200))
    root = parse_xml(documents[0].body)
    assert (attribute(root, "type"), attribute(child(root, "criteria"), "property_id")) == (
        "10",
        "226110",
    )
    (single,) = set_ari_documents(planned, "226110", 1, 1, max_bytes=1_000_000)
    assert attribute(parse_xml(single.body), "type") == "1"


def test_a_warning_refuses_its_update_and_errors_refuse_the_request() -> None:
    dates = DateRange(TODAY, TODAY + timedelta(days=1))
    updates = [AvailabilityUpdate("R1", dates, 1), AvailabilityUpdate("R9", dates, 1)]
    planned = plan_set_ari(updates, WINDOW, "USD")
    (document,) = set_ari_documents(planned, "1", 10, 1, 1_000_000)
    warned = read_answer(
        parse_xml(
            b'<result><success/><warnings><warning code="3001" description="unknown room" '
            b'room_id="R9"/><warning code="9" description="note"/></warnings></result>'
        )
    )
    results = entry_results(2, [(document, warned)], planned)
    assert [(r.accepted, r.reason) for r in results] == [
        (True, None),
        (False, "3001: unknown room"),
    ]
    assert warned.warnings == ("9: note",)
    refused = read_answer(
        parse_xml(b'<result><errors><error code="2004" description="no"/></errors></result>')
    )
    assert not refused.is_success
    assert [r.accepted for r in entry_results(2, [(document, refused)], planned)] == [False, False]


DETAIL = (
    b'<booking property_id="226110" booking_id="220952733" booking_date="2030-01-02T11:24:00+07:00"'
    b' last_action="2030-01-02T11:24:14+07:00" arrival="2030-01-16" departure="2030-01-18"'
    b' status="{status}" room_id="8179856" rateplan_id="937982" room_count="2" adults="4"'
    b' children="0" channel_name="Retail"><customer first_name="agoda" last_name="test"'
    b' nationality="Thailand"/><requests><request request_name="NonSmoke"/></requests>'
    b'<prices currency="USD" sell_inclusive_amt="400.00"><price date="2030-01-16"'
    b' sell_inclusive_amt="200.00" type="Room"/><price date="2030-01-17" sell_inclusive_amt='
    b'"200.00" type="Room"/></prices><paymentmodel>2</paymentmodel></booking>'
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("ConfirmBooking", "new"), ("AmendBooking", "modified"), ("CancelBooking", "cancelled")],
)
def test_a_detail_is_one_revision_per_booking_and_last_action(status: str, expected: str) -> None:
    revision = revision_from_detail(parse_xml(DETAIL.replace(b"{status}", status.encode())), "EUR")
    assert revision.status == expected
    assert revision.revision_id == "220952733@1893558254"
    assert revision.received_at == datetime(2030, 1, 2, 4, 24, 14, tzinfo=UTC)
    assert [(r.room_type_code, r.rate_plan_code, r.occupancy) for r in revision.rooms] == [
        ("8179856", "937982", 2)
    ] * 2
    assert revision.rooms[0].nightly_prices == (
        (date(2030, 1, 16), Decimal("100.00")),
        (date(2030, 1, 17), Decimal("100.00")),
    )
    assert (revision.total_amount, revision.currency) == (Decimal("400.00"), "USD")
    assert (revision.guest.name, revision.special_requests) == ("agoda test", "NonSmoke")
    assert (revision.ota_name, revision.payment_collect) == ("Agoda", "property")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ((b'room_id="8179856"', b'room_id=""'), "no room_id"),
        ((b'date="2030-01-17"', b'date="2030-01-19"'), "outside the stay"),
        ((b'departure="2030-01-18"', b'departure="2030-01-16"'), "not after its arrival"),
        ((b'+07:00" arrival', b'" arrival'), "no UTC offset"),
        ((b'adults="4"', b'adults="x"'), "not a count"),
    ],
)
def test_an_impossible_detail_is_refused_with_the_reason(
    change: tuple[bytes, bytes], reason: str
) -> None:
    body = DETAIL.replace(b"{status}", b"ConfirmBooking").replace(*change)
    with pytest.raises(ValueError, match=reason):
        revision_from_detail(parse_xml(body), "USD")


def test_the_pull_window_starts_at_the_cursor_less_the_overlap_and_spans_at_most_90_days() -> None:
    now = datetime(2030, 1, 7, 9, tzinfo=UTC)
    day, overlap = timedelta(hours=24), timedelta(minutes=10)
    assert window(None, now, day, overlap, 90) == (now - day, now)
    cursor = (now - timedelta(minutes=1)).isoformat()
    assert window(cursor, now, day, overlap, 90) == (now - timedelta(minutes=11), now)
    old = (now - timedelta(days=200)).isoformat()
    start, end = window(old, now, day, overlap, 90)
    assert end - start == timedelta(days=90)
    ancient = (now - timedelta(days=2000)).isoformat()
    assert window(ancient, now, day, overlap, 90)[0] == now - timedelta(days=740)


def test_detail_calls_name_one_property_and_at_most_50_bookings() -> None:
    ids = [str(n) for n in range(120)] + ["3"]
    assert [len(c) for c in chunks(ids)] == [50, 50, 20]
    with pytest.raises(ValueError, match="1 to 50"):
        detail_request("1", [str(n) for n in range(51)], 1)
    root = parse_xml(detail_request("1", ["7", "8"], 1))
    assert [attribute(b, "id") for b in path(root, "criteria", "property", "booking")] == ["7", "8"]


HINT = (
    b'<request timestamp="1491189437"><property id="226110"><bookings>'
    b'<booking booking_id="6593078" status="ConfirmBooking"/>'
    b'<booking booking_id="6593079" status="CancelBooking"/></bookings></property></request>'
)


def test_a_hint_names_bookings_of_the_property_and_carries_the_secret() -> None:
    assert hinted_booking_ids(HINT, "226110") == ["6593078", "6593079"]
    secret = SecretStr("s3cret")
    check_hint_secret({"X-Agoda-Hint-Secret": "s3cret"}, secret, "x-agoda-hint-secret")
    check_hint_secret({}, None, "x-agoda-hint-secret")
    for headers in ({}, {"x-agoda-hint-secret": "other"}):
        with pytest.raises(BadSignatureError, match="hint secret"):
            check_hint_secret(headers, secret, "x-agoda-hint-secret")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (HINT.replace(b"226110", b"1"), "another property"),
        (HINT.replace(b"6593078", b"12ab"), "no valid Agoda booking id"),
        (b'<request><property id="226110"/></request>', "no valid Agoda booking id"),
        (b"<request", "not readable XML"),
        (b'<result><property id="226110"/></result>', "not a YCS"),
        (
            HINT.replace(b"</request>", b'<property id="9"/></request>'),
            "another property",
        ),
    ],
)
def test_a_hint_that_is_not_agodas_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(BadSignatureError, match=reason):
        hinted_booking_ids(body, "226110")


def test_get_ari_reads_at_most_31_days_a_call() -> None:
    dates = DateRange(TODAY, TODAY + timedelta(days=70))
    cut = list(pieces(dates))
    assert [(last - first).days + 1 for first, last in cut] == [31, 31, 8]
    assert cut[0][0] == TODAY
    assert cut[-1][1] == TODAY + timedelta(days=69)
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(cut))


def test_get_ari_answers_read_as_allotments_and_rate_values() -> None:
    root = parse_xml(
        b'<result><inventory><room id="R1"><date date="2030-01-07" allotment="4"/></room>'
        b'</inventory><rates><rateplan room_id="R1" rateplan_id="P1"><date date="2030-01-07" '
        b'price="90.00" cta="true" min_los="2"><occupancy person="2" price="110.00"/></date>'
        b"</rateplan></rates></result>"
    )
    assert read_allotments(root) == {"R1": {TODAY: 4}}
    assert read_rate_values(root) == {
        ("R1", "P1"): {
            TODAY: RateValues(
                price=Decimal("90.00"),
                occupancy_prices=((2, Decimal("110.00")),),
                min_stay_arrival=2,
                closed_to_arrival=True,
            )
        }
    }


def test_an_update_with_nothing_agoda_can_hold_sends_nothing_and_is_refused() -> None:
    dates = DateRange(TODAY, TODAY + timedelta(days=2))
    only_through = RateUpdate("R1", "P1", dates, RateValues(min_stay_through=3))
    planned = plan_set_ari([only_through], WINDOW, "USD")
    assert (planned.inventory, planned.rates) == ([], [])
    assert set_ari_documents(planned, "1", 10, 1, 1_000_000) == []
    (result,) = entry_results(1, [], planned)
    assert (result.accepted, result.sent) == (False, False)
    assert "min_stay_through 3 not sent" in str(result.reason)


def test_agodas_today_is_the_date_in_ict() -> None:
    bangkok = ZoneInfo("Asia/Bangkok")
    assert agoda_today(datetime(2030, 1, 7, 16, 59, tzinfo=UTC), bangkok) == date(2030, 1, 7)
    assert agoda_today(datetime(2030, 1, 7, 17, 0, tzinfo=UTC), bangkok) == date(2030, 1, 8)


def test_a_restriction_only_update_carries_no_prices() -> None:
    dates = DateRange(TODAY, TODAY + timedelta(days=2))
    planned = plan_set_ari([RateUpdate("R1", "P1", dates, RateValues(stop_sell=True))], WINDOW, "X")
    ((_, element),) = planned.rates
    assert child(element, "prices") is None
    assert dict(next(iter(path(element, "restrictions"))).attrib) == {"closed": "true"}


def test_a_price_only_update_carries_no_restrictions() -> None:
    dates = DateRange(TODAY, TODAY + timedelta(days=2))
    update = RateUpdate("R1", "P1", dates, RateValues(price=Decimal("80")))
    ((_, element),) = plan_set_ari([update], WINDOW, "USD").rates
    assert child(element, "restrictions") is None
    assert text_of(child(child(element, "prices"), "price")) == "80.00"
