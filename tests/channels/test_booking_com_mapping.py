"""Booking.com's pure mapping: ARI messages, RS verdicts, reservation messages and acks."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innsync.channels.booking_com.mapping import (
    MessageStamp,
    avail_notif,
    entry_results,
    minor_units,
    month_runs,
    open_runs,
    plan_availability,
    plan_rate_amounts,
    rate_amount_notif,
    read_acknowledgement,
)
from innsync.channels.booking_com.reservations import (
    RevisionKey,
    acknowledgement,
    pulled_reservations,
    revision_id,
)
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.types import AvailabilityUpdate, RateUpdate, RateValues
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import attribute, local_name, parse_xml, path
from innsync.xmlkit.validation import opentravel_2015a

TODAY = date(2030, 1, 7)
NOW = datetime(2030, 1, 7, 9, tzinfo=UTC)
STAMP = MessageStamp("echo-1", NOW, "Test")


@given(st.sets(st.integers(min_value=-5, max_value=60)))
def test_runs_cover_exactly_the_open_dates(offsets: set[int]) -> None:
    dates = {TODAY + timedelta(days=n) for n in offsets}
    runs = list(open_runs(dates, TODAY))
    covered = [
        start + timedelta(days=n) for start, end in runs for n in range((end - start).days + 1)
    ]
    assert covered == sorted(day for day in dates if day >= TODAY)
    # Runs are maximal: two runs never touch.
    assert all(b[0] - a[1] > timedelta(days=1) for a, b in itertools.pairwise(runs))


def test_availability_is_one_message_per_range_past_dates_left_out() -> None:
    updates = (
        AvailabilityUpdate(
            "R1", DateRange(TODAY - timedelta(days=3), TODAY + timedelta(days=5)), 4
        ),
        AvailabilityUpdate(
            "R2", DateRange(TODAY + timedelta(days=1), TODAY + timedelta(days=2)), 0
        ),
    )
    planned = plan_availability(updates, TODAY)
    outgoing = avail_notif("77", planned, STAMP)
    assert outgoing is not None
    root = parse_xml(outgoing.body)
    assert opentravel_2015a().errors(root) == []
    controls = [
        (attribute(c, "InvTypeCode"), attribute(c, "Start"), attribute(c, "End"))
        for c in path(root, "AvailStatusMessages", "AvailStatusMessage", "StatusApplicationControl")
    ]
    assert controls == [("R1", "2030-01-07", "2030-01-11"), ("R2", "2030-01-08", "2030-01-08")]
    assert outgoing.origins == (0, 1)
    assert planned.partly_unsent == {0}  # its past dates were kept back


def test_rate_restrictions_go_to_avail_notif_and_prices_to_rate_amount_notif() -> None:
    values = RateValues(
        price=Decimal("120.50"),
        occupancy_prices=((1, Decimal("95")),),
        min_stay_arrival=2,
        max_stay=0,
        closed_to_arrival=True,
        closed_to_departure=False,
        stop_sell=False,
        min_stay_through=1,
        min_advance=0,
    )
    update = RateUpdate("R1", "P1", DateRange(TODAY, TODAY + timedelta(days=2)), values)
    restrictions = plan_availability((update,), TODAY)
    prices = plan_rate_amounts((update,), TODAY, "EUR", 2)
    assert restrictions.partly_unsent == set()  # the off values need no message
    avail = avail_notif("77", restrictions, STAMP)
    rates = rate_amount_notif("77", prices, STAMP)
    assert avail is not None
    assert rates is not None
    for body in (avail.body, rates.body):
        assert opentravel_2015a().errors(parse_xml(body)) == []
    statuses = [
        (attribute(s, "Restriction"), attribute(s, "Status"))
        for s in path(
            parse_xml(avail.body), "AvailStatusMessages", "AvailStatusMessage", "RestrictionStatus"
        )
    ]
    assert statuses == [("Arrival", "Close"), ("Departure", "Open"), ("Master", "Open")]
    amounts = [
        (
            attribute(a, "AmountAfterTax"),
            attribute(a, "DecimalPlaces"),
            attribute(a, "NumberOfGuests"),
        )
        for a in parse_xml(rates.body).iter("{http://www.opentravel.org/OTA/2003/05}BaseByGuestAmt")
    ]
    assert amounts == [("12050", "2", None), ("9500", "2", "1")]


def test_a_restriction_booking_com_cannot_hold_is_refused_with_the_reason() -> None:
    from innsync.channels.booking_com import BOOKING_COM_LIMITS
    from innsync.channels.booking_com.mapping import CANNOT_CARRY, SENT_RATE_FIELDS
    from innsync.channels.types import RATE_FIELDS

    stay = DateRange(TODAY, TODAY + timedelta(days=1))
    only = RateUpdate("R1", "P1", stay, RateValues(min_advance=3))
    planned = plan_availability((only,), TODAY)
    assert avail_notif("77", planned, STAMP) is None
    (result,) = entry_results(1, [], [planned])
    assert (result.accepted, result.sent) == (False, False)
    assert result.reason is not None
    assert result.reason.startswith("min_advance 3 not sent: Booking.com has no such restriction")

    # With values Booking.com holds: those are sent, the entry is still refused, not dropped.
    mixed = RateUpdate("R1", "P1", stay, RateValues(min_stay_arrival=2, min_stay_through=3))
    planned = plan_availability((mixed,), TODAY)
    assert avail_notif("77", planned, STAMP) is not None
    assert planned.refused[0].startswith("min_stay_through 3 not sent")
    # Off values need no message and are no refusal (innsync states every restriction).
    off = RateUpdate("R1", "P1", stay, RateValues(min_stay_through=1, min_advance=0, max_stay=9))
    assert plan_availability((off,), TODAY).refused == {}

    # The ARI write is told at once, through the declared value constraints.
    assert BOOKING_COM_LIMITS.values.problems(RateValues(max_advance=30)) == [
        "max_advance 30 cannot be sent: the channel has no such restriction"
    ]
    # Every field innsync has is either carried or declared as not carried: none is dropped.
    assert set(RATE_FIELDS) == SENT_RATE_FIELDS | {name for name, _ in CANNOT_CARRY}


def test_a_price_finer_than_the_decimal_places_is_refused_unsent() -> None:
    assert minor_units(Decimal("10.005"), 2) is None
    assert minor_units(Decimal("10.5"), 2) == 1050
    update = RateUpdate(
        "R1", "P1", DateRange(TODAY, TODAY + timedelta(days=1)), RateValues(price=Decimal("10.005"))
    )
    planned = plan_rate_amounts((update,), TODAY, "EUR", 2)
    assert planned.refused == {0: "a price has more than 2 decimal places"}
    (entry,) = entry_results(1, [], [planned])
    assert (entry.accepted, entry.sent) == (False, False)


def _rs(inner: str) -> bytes:
    return (
        '<OTA_HotelAvailNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">'
        f"{inner}</OTA_HotelAvailNotifRS>"
    ).encode()


def test_warnings_with_an_rph_refuse_their_message_and_errors_refuse_all() -> None:
    updates = tuple(
        AvailabilityUpdate(code, DateRange(TODAY, TODAY + timedelta(days=1)), 1)
        for code in ("A", "B", "C")
    )
    planned = plan_availability(updates, TODAY)
    outgoing = avail_notif("77", planned, STAMP)
    assert outgoing is not None
    warned = read_acknowledgement(
        parse_xml(
            _rs(
                '<Success/><Warnings><Warning Type="3" RPH="2">unknown room B</Warning>'
                '<Warning Type="3">general</Warning></Warnings>'
            )
        )
    )
    assert warned.warnings == ("general",)
    entries = entry_results(3, [(outgoing, warned)], [planned])
    assert [(e.accepted, e.reason) for e in entries] == [
        (True, None),
        (False, "unknown room B"),
        (True, None),
    ]
    failed = read_acknowledgement(
        parse_xml(
            _rs(
                '<Errors><Error Type="3" Code="15" ShortText="NOT_A_VALID_DATE">'
                "too old</Error></Errors>"
            )
        )
    )
    assert not failed.is_success
    entries = entry_results(3, [(outgoing, failed)], [planned])
    assert {e.reason for e in entries} == {"NOT_A_VALID_DATE: too old"}
    assert not any(e.accepted for e in entries)


RESERVATION = b"""<?xml version="1.0" encoding="UTF-8"?>
<OTA_HotelResModifyNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">
 <HotelResModifies>
  <HotelResModify ResStatus="Cancel" CreateDateTime="2030-01-05T10:00:00+00:00"
      LastModifyDateTime="2030-01-07T08:30:00+00:00">
   <UniqueID Type="14" ID="4000000123"/>
   <RoomStays><RoomStay>
     <RoomRates><RoomRate RoomTypeCode="R1" RatePlanCode="P1"><Rates>
       <Rate EffectiveDate="2030-02-01"><Base AmountAfterTax="100.00" CurrencyCode="EUR"/></Rate>
       <Rate EffectiveDate="2030-02-02"><Base AmountAfterTax="110.00" CurrencyCode="EUR"/></Rate>
     </Rates></RoomRate></RoomRates>
     <GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/>
       <GuestCount AgeQualifyingCode="8" Count="1" Age="7"/></GuestCounts>
     <TimeSpan Start="2030-02-01" End="2030-02-03"/>
     <Total AmountAfterTax="215.00" CurrencyCode="EUR"><Taxes>
       <Tax Type="Exclusive" Code="3" Amount="5.00" CurrencyCode="EUR">
         <TaxDescription><Text>City tax</Text></TaxDescription></Tax>
     </Taxes></Total>
     <SpecialRequests><SpecialRequest><Text>Late arrival</Text></SpecialRequest></SpecialRequests>
   </RoomStay></RoomStays>
   <ResGuests><ResGuest ArrivalTime="21:30:00"><Profiles><ProfileInfo><Profile><Customer>
     <PersonName><GivenName>Ada</GivenName><Surname>Lovelace</Surname></PersonName>
     <Telephone PhoneNumber="+44 20 0000"/><Email>ada@example.com</Email>
     <Address><AddressLine>1 Main St</AddressLine><CityName>London</CityName>
       <PostalCode>N1</PostalCode><CountryName Code="gb"/></Address>
   </Customer></Profile></ProfileInfo></Profiles></ResGuest></ResGuests>
   <ResGlobalInfo>
    <Guarantee><GuaranteesAccepted><GuaranteeAccepted>
      <PaymentCard CardCode="MC" ExpireDate="0131" Remark="Virtual credit card">
        <CardHolderName>Booking.com</CardHolderName><CardNumber Mask="xxxx1234"/>
      </PaymentCard></GuaranteeAccepted></GuaranteesAccepted></Guarantee>
    <Total AmountAfterTax="215.00" AmountBeforeTax="197.25" CurrencyCode="EUR"/>
    <HotelReservationIDs>
      <HotelReservationID ResID_Type="14" ResID_Value="4000000123"/>
      <HotelReservationID ResID_Type="14" ResID_Value="tok-9" ResID_SourceContext="ResponseToken"/>
    </HotelReservationIDs>
    <TotalCommissions>
      <CommissionPayableAmount Amount="32.25" CurrencyCode="EUR"/></TotalCommissions>
    <BasicPropertyInfo HotelCode="77"/>
   </ResGlobalInfo>
  </HotelResModify>
 </HotelResModifies>
</OTA_HotelResModifyNotifRQ>"""


def test_a_pulled_cancellation_carries_every_field_innsync_keeps() -> None:
    root = parse_xml(RESERVATION)
    assert opentravel_2015a().errors(root) == []
    (pulled,) = pulled_reservations(root, "modify", NOW).reservations
    revision = pulled.revision
    assert (pulled.reservation_id, pulled.response_token, pulled.hotel_code) == (
        "4000000123",
        "tok-9",
        "77",
    )
    assert revision.revision_id == "m:4000000123:20300107T083000+0000"
    assert revision.status == "cancelled"
    assert (revision.arrival, revision.departure) == (date(2030, 2, 1), date(2030, 2, 3))
    (room,) = revision.rooms
    assert room.nightly_prices == (
        (date(2030, 2, 1), Decimal("100.00")),
        (date(2030, 2, 2), Decimal("110.00")),
    )
    assert (room.occupancy, room.children, room.child_ages) == (3, 1, (7,))
    assert [(c.kind, c.name, c.amount, c.is_inclusive) for c in room.charges] == [
        ("city_tax", "City tax", Decimal("5.00"), False)
    ]
    assert (revision.total_amount, revision.total_before_tax, revision.commission) == (
        Decimal("215.00"),
        Decimal("197.25"),
        Decimal("32.25"),
    )
    assert revision.guest.name == "Ada Lovelace"
    assert (revision.guest.country, revision.guest.city) == ("GB", "London")
    assert (revision.arrival_time, revision.special_requests) == ("21:30", "Late arrival")
    assert revision.payment_collect == "ota"
    assert revision.guarantee is not None
    assert (revision.guarantee.is_virtual, revision.guarantee.card_last_four) == (True, "1234")
    assert revision.guarantee.expires == "01/2031"
    assert revision.booked_at == datetime(2030, 1, 5, 10, tzinfo=UTC)


def test_revision_ids_name_the_queue_and_round_trip() -> None:
    key = RevisionKey.parse(revision_id("new", "4000000001", NOW))
    assert (key.queue, key.reservation_id) == ("new", "4000000001")
    with pytest.raises(ChannelRejectedError):
        RevisionKey.parse("x:1:2")


@pytest.mark.parametrize("queue", ["new", "modify"])
def test_acknowledgements_are_schema_valid_and_carry_the_token(queue: str) -> None:
    body = acknowledgement(queue, "77", [("4000000001", "tok"), ("4000000002", None)], NOW, "Test")  # type: ignore[arg-type]
    root = parse_xml(body)
    assert opentravel_2015a().errors(root) == []
    values = [
        attribute(held, "ResID_Value")
        for held in root.iter("{http://www.opentravel.org/OTA/2003/05}HotelReservationID")
    ]
    assert values == ["4000000001", "tok", "4000000002"]


@given(st.integers(min_value=0, max_value=800), st.integers(min_value=0, max_value=120))
def test_month_runs_cut_at_month_ends_and_cover_the_same_dates(offset: int, length: int) -> None:
    start = TODAY + timedelta(days=offset)
    end = start + timedelta(days=length)
    pieces = list(month_runs([(start, end)]))
    assert pieces[0][0] == start
    assert pieces[-1][1] == end
    for (first, last), following in zip(pieces, [*pieces[1:], None], strict=True):
        assert (first.year, first.month) == (last.year, last.month)
        if following is not None:
            assert following[0] == last + timedelta(days=1)
            assert following[0].day == 1


def test_month_batches_group_messages_per_calendar_month() -> None:
    update = AvailabilityUpdate("R1", DateRange(date(2030, 1, 20), date(2030, 3, 5)), 2)
    planned = plan_availability((update,), TODAY, month_batches=True)
    batches = planned.by_month()
    spans = [
        [
            (attribute(c, "Start"), attribute(c, "End"))
            for c in batch.elements[0].iter()
            if c.get("Start")
        ]
        for batch in batches
    ]
    assert spans == [
        [("2030-01-20", "2030-01-31")],
        [("2030-02-01", "2030-02-28")],
        [("2030-03-01", "2030-03-04")],
    ]
    assert [batch.origins for batch in batches] == [[0], [0], [0]]


def test_a_rate_update_without_a_price_or_sendable_restriction_makes_no_message() -> None:
    no_price = RateUpdate(
        "R1", "P1", DateRange(TODAY, TODAY + timedelta(days=1)), RateValues(max_stay=3)
    )
    assert plan_rate_amounts((no_price,), TODAY, "EUR", 2).elements == []
    stays_only = plan_availability((no_price,), TODAY)
    (message,) = stays_only.elements
    assert [child.get("MinMaxMessageType") for child in message.iter() if child.get("Time")] == [
        "SetMaxLOS"
    ]
    past = RateUpdate(
        "R1",
        "P1",
        DateRange(TODAY - timedelta(days=2), TODAY + timedelta(days=1)),
        RateValues(price=Decimal(50)),
    )
    planned = plan_rate_amounts((past,), TODAY, "EUR", 0)
    assert planned.partly_unsent == {0}
    (message,) = planned.elements
    amounts = [a.get("AmountAfterTax") for a in message.iter() if a.get("AmountAfterTax")]
    assert amounts == ["50"]


def test_token_answers_are_read_with_their_expiry() -> None:
    import base64
    import json

    from innsync.channels.booking_com.tokens import credential_from_answer
    from innsync.channels.errors import ChannelUnavailableError

    claims = (
        base64.urlsafe_b64encode(json.dumps({"exp": 1893456000}).encode()).rstrip(b"=").decode()
    )
    jwt = f"e30.{claims}.sig"
    assert credential_from_answer({"jwt": jwt}, NOW).expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    given = credential_from_answer({"access_token": "opaque", "expires_in": 600}, NOW)
    assert given.expires_at == NOW + timedelta(seconds=600)
    assert credential_from_answer({"token": "opaque"}, NOW).expires_at == NOW + timedelta(hours=1)
    for broken in ([], {"jwt": ""}, {"nothing": "here"}):
        with pytest.raises(ChannelUnavailableError):
            credential_from_answer(broken, NOW)


def test_booking_coms_today_is_the_date_in_cet() -> None:
    from zoneinfo import ZoneInfo

    from innsync.channels.booking_com.mapping import first_open_date

    late = datetime(2030, 1, 7, 23, 30, tzinfo=UTC)  # already the 8th in Amsterdam
    assert first_open_date(late, ZoneInfo("Europe/Amsterdam")) == date(2030, 1, 8)
    assert first_open_date(late, ZoneInfo("UTC")) == date(2030, 1, 7)


@pytest.mark.parametrize("token", ["e30.!!!.sig", "e30.WzFd.sig", "e30.eyJleHAiOiJ4In0.sig"])
def test_an_unreadable_jwt_lives_the_documented_hour(token: str) -> None:
    from innsync.channels.booking_com.tokens import credential_from_answer

    assert credential_from_answer({"jwt": token}, NOW).expires_at == NOW + timedelta(hours=1)


MINIMAL = b"""<?xml version="1.0" encoding="UTF-8"?>
<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.0">
 <HotelReservations><HotelReservation>
   <RoomStays><RoomStay>
     <RoomTypes><RoomType RoomTypeCode="R2"/></RoomTypes>
     <RoomRates><RoomRate><Rates>
       <Rate EffectiveDate="2030-03-01" ExpireDate="2030-03-03">
         <Base AmountAfterTax="80.00" CurrencyCode="CHF"/></Rate>
     </Rates></RoomRate></RoomRates>
     <TimeSpan Start="2030-03-01" End="2030-03-03"/>
   </RoomStay></RoomStays>
   <ResGlobalInfo>
     <Fees><Fee Code="12" Amount="15.00" Type="Exclusive"/></Fees>
     <HotelReservationIDs><HotelReservationID ResID_Type="14" ResID_Value="4000000999"/>
     </HotelReservationIDs>
     <BasicPropertyInfo/>
   </ResGlobalInfo>
 </HotelReservation></HotelReservations>
</OTA_HotelResNotifRQ>"""


def test_a_sparse_reservation_is_read_with_what_it_has() -> None:
    root = parse_xml(MINIMAL)
    assert opentravel_2015a().errors(root) == []
    (pulled,) = pulled_reservations(root, "new", NOW).reservations
    revision = pulled.revision
    assert (revision.channel_booking_id, revision.currency) == ("4000000999", "CHF")
    assert revision.received_at == NOW  # no modification time: when it was read
    (room,) = revision.rooms
    assert (room.room_type_code, room.rate_plan_code, room.occupancy) == ("R2", None, 1)
    # A rate spanning two nights prices each of them.
    assert [night for night, _ in room.nightly_prices] == [date(2030, 3, 1), date(2030, 3, 2)]
    assert [(c.kind, c.name, c.is_inclusive) for c in room.charges] == [("fee", "12", False)]
    assert revision.guest.name is None
    assert (revision.guarantee, revision.arrival_time, revision.special_requests) == (
        None,
        None,
        None,
    )
    assert pulled.hotel_code is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            MINIMAL.replace(b'<TimeSpan Start="2030-03-01" End="2030-03-03"/>', b""),
            "without a stay",
        ),
        (MINIMAL.replace(b'ResID_Value="4000000999"', b'ResID_Value=""'), "without an id"),
        (MINIMAL.replace(b'<RoomType RoomTypeCode="R2"/>', b""), "without a room type"),
        (MINIMAL.replace(b'Amount="15.00"', b'Amount="lots"'), "ConversionSyntax"),
        (
            MINIMAL.replace(
                b'Start="2030-03-01" End="2030-03-03"', b'Start="2030-03-03" End="2030-03-01"'
            ),
            "must be after its start",
        ),
    ],
)
def test_a_reservation_innsync_cannot_read_is_handed_back_for_audit(
    body: bytes, reason: str
) -> None:
    from innsync.channels.errors import ChannelUnavailableError

    pulled = pulled_reservations(parse_xml(body), "new", NOW)
    assert pulled.reservations == []
    ((message, hotel),) = pulled.unreadable
    assert reason in message.reason
    assert message.reason.startswith("Booking.com sent ")
    assert local_name(parse_xml(message.body)) == "HotelReservation"  # the message as sent
    assert hotel is None
    # Pulled again (the queue repeats it): the same key, so it is kept and reported once.
    ((again, _),) = pulled_reservations(parse_xml(body), "new", NOW).unreadable
    assert again.key == message.key
    # A document that is not the queue's still fails the whole pull.
    with pytest.raises(ChannelUnavailableError, match="not OTA_HotelResModifyNotifRQ"):
        pulled_reservations(parse_xml(MINIMAL), "modify", NOW)


def test_response_tokens_keep_the_latest_and_drop_the_oldest() -> None:
    from innsync.channels.booking_com.reservations import ResponseTokens

    tokens = ResponseTokens(kept=2)
    tokens.remember("77", "a", "1")
    tokens.remember("77", "b", "2")
    tokens.remember("77", "a", "3")
    tokens.remember("77", "c", "4")
    assert (tokens.get("77", "a"), tokens.get("77", "b"), tokens.get("77", "c")) == ("3", None, "4")
    tokens.forget("77", "a")
    assert tokens.get("77", "a") is None
