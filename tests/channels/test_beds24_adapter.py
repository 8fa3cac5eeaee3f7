"""The Beds24 adapter against the Beds24 simulator over HTTP (ASGI), checked against the
vendor's OpenAPI file: every request the adapter sends and every answer it gets is validated
at the end of each test (``beds24_openapi``)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from innsync.channels.beds24 import Beds24Adapter
from innsync.channels.beds24.client import MAX_POST_BYTES
from innsync.channels.credentials import InMemoryCredentialStore
from innsync.channels.errors import (
    BadSignatureError,
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    BookedRoom,
    BookingRevision,
    GuestDetails,
    PushRequest,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange
from tests.channels.beds24_support import ROOMS, START, WEBHOOK_HEADER, WEBHOOK_SECRET, Beds24Pair

TODAY = START.date()
PLANS = [(room, slot) for room in ROOMS for slot in ("price1", "price2")]


@pytest.fixture
def pair() -> Iterator[Beds24Pair]:
    built = Beds24Pair()
    yield built
    asyncio.run(built.close())
    # Zero requests or answers may leave Beds24's OpenAPI file.
    assert built.transport.problems() == []


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def days(first: int, last: int) -> DateRange:
    return DateRange.inclusive(TODAY + timedelta(days=first), TODAY + timedelta(days=last))


def varied_ari(nights: int) -> tuple[list[AvailabilityUpdate], list[RateUpdate]]:
    """Availability and rates that change every few days, as a real hotel's do."""
    availability, rates = [], []
    for room_index, room in enumerate(ROOMS):
        for start in range(1, nights + 1, 7):
            span = days(start, min(start + 6, nights))
            availability.append(AvailabilityUpdate(room, span, (start + room_index) % 6))
    for plan_index, (room, slot) in enumerate(PLANS):
        for start in range(1, nights + 1, 5):
            span = days(start, min(start + 4, nights))
            values = RateValues(
                price=Decimal(100 + plan_index * 10 + start % 40),
                min_stay_arrival=1 + start % 3,
                max_stay=14,
                closed_to_arrival=start % 4 == 0,
                closed_to_departure=False,
                stop_sell=start % 35 == 0,
            )
            rates.append(RateUpdate(room, slot, span, values))
    return availability, rates


def test_a_500_day_full_sync_takes_the_fewest_calls_the_batch_limits_allow(
    pair: Beds24Pair,
) -> None:
    adapter = pair.adapter()
    availability, rates = varied_ari(500)

    async def scenario() -> None:
        assert (
            await adapter.push_availability(PushRequest("availability", tuple(availability)))
        ).is_fully_accepted
        assert (await adapter.push_rates(PushRequest("rates", tuple(rates)))).is_fully_accepted

    run(scenario())
    calendar_posts = [e for e in pair.transport.exchanges if e.request.method == "POST"]
    # Each kind is one body; the minimum is what §2.3's 1 MB and 10,000 items force.
    minimum = sum(
        max(math.ceil(len(e.request.content) / MAX_POST_BYTES), 1) for e in calendar_posts
    )
    print(f"500-day full sync: {len(calendar_posts)} calendar calls, minimum {minimum}")  # noqa: T201
    assert len(calendar_posts) == minimum == 2
    assert pair.endpoints() == [
        "GET /authentication/token",
        "POST /inventory/rooms/calendar",
        "POST /inventory/rooms/calendar",
    ]
    # The channel holds what was sent, read back through the adapter.
    shown = run(adapter.read_rates(PLANS, days(1, 500)))
    for update in rates:
        for day in update.dates:
            held = shown[update.rate_plan][day]
            assert held.price == update.values.price
            assert held.min_stay_arrival == update.values.min_stay_arrival
            expected_cta = update.values.closed_to_arrival and not update.values.stop_sell
            assert held.closed_to_arrival == expected_cta
            assert held.stop_sell == update.values.stop_sell
    held_units = run(adapter.read_availability(list(ROOMS), days(1, 500)))
    for update in availability:
        assert {held_units[update.room_type_code][d] for d in update.dates} == {update.availability}


def test_one_price_change_is_one_call_with_one_entry(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    change = RateUpdate("201", "price2", days(3, 3), RateValues(price=Decimal("88.50")))
    result = run(adapter.push_rates(PushRequest("rates", (change,))))
    assert result.is_fully_accepted
    (post,) = [e for e in pair.transport.exchanges if e.request.method == "POST"]
    body = json.loads(post.request.content)
    day = (TODAY + timedelta(days=3)).isoformat()
    assert body == [{"roomId": 201, "calendar": [{"from": day, "to": day, "price2": 88.5}]}]
    held = run(pair.sim("GET", "/calendar"))["data"]["201"][day]
    assert held == {"price2": 88.5}


def test_an_unknown_room_is_refused_alone_and_the_others_apply(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    request = PushRequest(
        "availability",
        (
            AvailabilityUpdate("201", days(1, 2), 3),
            AvailabilityUpdate("999999", days(1, 2), 9),
            AvailabilityUpdate("not-a-room", days(1, 2), 9),
            AvailabilityUpdate("202", days(1, 2), 1),
        ),
    )
    result = run(adapter.push_availability(request))
    assert [entry.accepted for entry in result.entries] == [True, False, False, True]
    assert "Room not found" in result.rejected[1]
    assert "roomId" in result.rejected[2]
    held = run(pair.sim("GET", "/calendar"))["data"]
    assert set(held) == {"201", "202"}


def test_restrictions_of_a_room_come_from_its_restriction_plan_only(pair: Beds24Pair) -> None:
    adapter = pair.adapter(restriction_plans={"201": "price1"})
    request = PushRequest(
        "rates",
        (
            RateUpdate(
                "201", "price1", days(1, 1), RateValues(price=Decimal(90), min_stay_arrival=2)
            ),
            RateUpdate(
                "201", "price2", days(1, 1), RateValues(price=Decimal(80), min_stay_arrival=5)
            ),
        ),
    )
    result = run(adapter.push_rates(request))
    assert [(e.accepted, e.sent) for e in result.entries] == [(True, True), (True, False)]
    day = (TODAY + timedelta(days=1)).isoformat()
    assert run(pair.sim("GET", "/calendar"))["data"]["201"][day] == {
        "price1": 90,
        "minStay": 2,
        "price2": 80,
    }


def test_the_token_is_reused_and_refreshed_once_when_it_expires_mid_run(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    push = PushRequest("availability", (AvailabilityUpdate("201", days(1, 1), 2),))

    async def scenario() -> None:
        for _ in range(3):
            assert (await adapter.push_availability(push)).is_fully_accepted
        # Beds24 drops the token before its expiresIn: one 401, one refresh, the work done.
        await pair.sim("POST", "/tokens/expire")
        assert (await adapter.push_availability(push)).is_fully_accepted
        # Past expiresIn (less the two-minute margin) the token is renewed before the call.
        pair.clock.advance(86_400 - 60)
        assert (await adapter.push_availability(push)).is_fully_accepted

    run(scenario())
    assert pair.endpoints().count("GET /authentication/token") == 3
    statuses = [e.response.status_code for e in pair.transport.exchanges]
    assert statuses.count(401) == 1
    assert "token" not in json.dumps([row["headers"] for row in run(pair.api_requests())]).replace(
        '"token": "***"', ""
    ).replace('"refreshtoken": "***"', "")


def test_set_up_from_an_invite_code_keeps_the_refresh_token_and_never_reuses_the_code(
    pair: Beds24Pair,
) -> None:
    store = InMemoryCredentialStore()
    config_changes = {"refresh_token": None, "invite_code": SecretStr("sim-invite-code-1")}
    first = pair.adapter(store, **config_changes)
    run(first.test_connection())
    stored = run(store.load("access"))
    assert stored is not None
    assert stored.refresh_token
    # The token is dropped; the next adapter on the same store refreshes, it does not set up.
    run(pair.sim("POST", "/tokens/expire"))
    second = pair.adapter(store, **config_changes)
    run(second.test_connection())
    assert pair.endpoints().count("GET /authentication/setup") == 1
    assert pair.endpoints().count("GET /authentication/token") == 1


def test_a_refused_refresh_token_is_an_auth_error_that_says_what_to_do(pair: Beds24Pair) -> None:
    adapter = pair.adapter(refresh_token=SecretStr("revoked"))
    with pytest.raises(ChannelAuthError, match="new invite code") as raised:
        run(adapter.test_connection())
    assert "revoked" not in str(raised.value)


def test_a_spent_budget_waits_for_the_window_and_two_properties_share_it(
    pair: Beds24Pair,
) -> None:
    small = Beds24Pair(sim_options={"credits_per_window": 5})
    try:
        first = small.adapter(account_id="owner-1")
        second = small.adapter(account_id="owner-1", property_id=102)
        push = PushRequest("availability", (AvailabilityUpdate("201", days(1, 1), 2),))
        annex = PushRequest("availability", (AvailabilityUpdate("203", days(1, 1), 1),))

        async def scenario() -> float | None:
            for _ in range(2):  # a token and two calls: 3 of 5 credits
                await first.push_availability(push)
            await second.push_availability(annex)  # its own token and one call: 5 of 5
            with pytest.raises(ChannelUnavailableError) as waited:
                await second.push_availability(annex)
            return waited.value.retry_after

        retry_after = run(scenario())
        assert retry_after is not None
        assert 0 < retry_after <= 300
        credits = run(small.sim("GET", "/credits"))
        # The refusal came from the shared meter: nothing was sent past the budget.
        assert credits["spent_in_window"] == 5
        assert credits["refused"] == 0
        small.clock.advance(retry_after)
        assert run(second.push_availability(annex)).is_fully_accepted
        assert small.transport.problems() == []
    finally:
        run(small.close())


def test_a_429_waits_for_the_reset_the_headers_give(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    push = PushRequest("availability", (AvailabilityUpdate("201", days(1, 1), 2),))
    run(adapter.push_availability(push))
    pair.clock.advance(100)
    run(pair.sim("POST", "/faults", {"too_many_requests_rate": 1.0}))
    with pytest.raises(ChannelUnavailableError) as raised:
        run(adapter.push_availability(push))
    assert raised.value.retry_after == 200


def _book(pair: Beds24Pair, room: int, first: int, last: int) -> dict[str, Any]:
    body = {
        "roomId": room,
        "arrival": (TODAY + timedelta(days=first)).isoformat(),
        "departure": (TODAY + timedelta(days=last)).isoformat(),
    }
    booking: dict[str, Any] = run(pair.sim("POST", "/bookings", body))["data"][0]
    return booking


def test_pulled_bookings_carry_every_field_and_cancellations_come_too(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    made = _book(pair, 201, 10, 13)
    other = _book(pair, 202, 5, 6)
    pair.clock.advance(30)
    run(pair.sim("POST", f"/bookings/{other['id']}/cancel", {}))
    page = run(adapter.pull_revisions(None))
    by_id = {revision.channel_booking_id: revision for revision in page.revisions}
    revision = by_id[str(made["id"])]
    assert revision.status == "new"
    assert (revision.arrival, revision.departure) == (
        TODAY + timedelta(days=10),
        TODAY + timedelta(days=13),
    )
    assert revision.ota_name == made["apiSource"]
    assert revision.ota_reservation_code == made["apiReference"]
    assert revision.guest.name == f"{made['firstName']} {made['lastName']}"
    assert revision.guest.country == "GB"
    assert revision.guest.address == "1 Example Street"
    assert revision.special_requests == "Late check-in, please"
    assert revision.arrival_time == "15:00"
    assert revision.commission == Decimal(str(made["commission"])).quantize(Decimal("0.01"))
    (room,) = revision.rooms
    assert sum(price for _, price in room.nightly_prices) == revision.total_amount
    assert len(room.nightly_prices) == 3
    assert by_id[str(other["id"])].status == "cancelled"
    # The next pull starts from the cursor: nothing new, nothing lost.
    again = run(adapter.pull_revisions(page.next_cursor))
    assert {r.revision_id for r in again.revisions} <= {r.revision_id for r in page.revisions}
    pair.clock.advance(3600)
    run(
        pair.sim(
            "POST",
            f"/bookings/{made['id']}/modify",
            {"departure": (TODAY + timedelta(days=14)).isoformat()},
        )
    )
    later = run(adapter.pull_revisions(again.next_cursor))
    # The pull overlaps the last one (pull_overlap_seconds): repeats keep their revision ids.
    fresh = [
        r for r in later.revisions if r.revision_id not in {p.revision_id for p in page.revisions}
    ]
    assert [(r.channel_booking_id, r.status) for r in fresh] == [(str(made["id"]), "modified")]


def test_a_pull_pages_through_more_than_a_page(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    run(pair.sim("POST", "/bookings/generate", {"count": 150}))
    seen: list[BookingRevision] = []
    cursor = None
    for _ in range(5):
        page = run(adapter.pull_revisions(cursor))
        seen.extend(page.revisions)
        cursor = page.next_cursor
        if not page.has_more:
            break
    ours = [r for r in seen if r.channel_booking_id]
    assert len({r.channel_booking_id for r in ours}) >= 100


def test_a_webhook_is_verified_by_its_custom_header_then_parsed_like_the_pull(
    pair: Beds24Pair,
) -> None:
    adapter = pair.adapter()
    made = _book(pair, 201, 3, 5)
    (delivered,) = pair.deliveries.received
    headers, body = dict(delivered.headers), delivered.content
    adapter.verify_webhook(headers, body)
    unsigned = {k: v for k, v in headers.items() if k.lower() != WEBHOOK_HEADER}
    for wrong in (unsigned, {**unsigned, WEBHOOK_HEADER: "nope"}):
        with pytest.raises(BadSignatureError):
            adapter.verify_webhook(wrong, body)
    parsed = run(adapter.parse_webhook(headers, body))
    pulled = run(adapter.pull_revisions(None)).revisions
    assert list(parsed) == [r for r in pulled if r.channel_booking_id == str(made["id"])]
    for bad in (b"not json", b"[]", b'{"booking": {"id": 1}}'):
        with pytest.raises(ChannelRejectedError):
            run(adapter.parse_webhook(headers, bad))
    assert WEBHOOK_SECRET not in json.dumps(run(pair.api_requests()))


class _TimeoutAfterStore(httpx.AsyncBaseTransport):
    """The first POST /bookings reaches Beds24 and is stored, but its answer never arrives."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path == "/v2/bookings" and not self.dropped:
            self.dropped += 1
            raise httpx.ReadTimeout("timed out", request=request)
        return response


def _direct(status: str = "new", departure_day: int = 22) -> BookingRevision:
    arrival, departure = TODAY + timedelta(days=20), TODAY + timedelta(days=departure_day)
    stay = DateRange(arrival, departure)
    return BookingRevision(
        channel_booking_id="R-1001",
        revision_id=f"R-1001-{status}",
        status=status,  # type: ignore[arg-type]
        arrival=arrival,
        departure=departure,
        rooms=(BookedRoom("202", None, 2, tuple((night, Decimal(120)) for night in stay)),),
        guest=GuestDetails(name="Grace Hopper", email="grace@example.com", country="US"),
        total_amount=Decimal(120) * stay.nights,
        currency="EUR",
        received_at=START,
    )


def test_a_direct_booking_is_created_once_even_when_the_first_answer_times_out(
    pair: Beds24Pair,
) -> None:
    flaky = _TimeoutAfterStore(pair.transport)
    adapter = Beds24Adapter(
        pair.config,
        httpx.AsyncClient(transport=flaky),
        now=pair.clock,
        meters=pair.meters,
    )
    with pytest.raises(ChannelUnavailableError):
        run(adapter.push_reservation(_direct()))
    booking_id = run(adapter.push_reservation(_direct()))  # the engine's retry
    held = run(pair.sim("GET", "/bookings"))["data"]
    assert [b["id"] for b in held] == [int(booking_id)]
    assert held[0]["apiReference"] == "innsync-R-1001"
    assert run(adapter.push_reservation(_direct("modified", 23))) == booking_id
    assert run(adapter.push_reservation(_direct("cancelled"))) == booking_id
    (final,) = run(pair.sim("GET", "/bookings"))["data"]
    assert (final["status"], final["departure"]) == (
        "cancelled",
        (TODAY + timedelta(days=23)).isoformat(),
    )
    # innsync's own booking never comes back in as a channel booking.
    assert run(adapter.pull_revisions(None)).revisions == ()


def test_a_refused_direct_booking_raises_with_beds24s_reason(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    run(
        adapter.push_availability(
            PushRequest("availability", (AvailabilityUpdate("202", days(20, 21), 0),))
        )
    )
    with pytest.raises(ChannelRejectedError, match="No availability"):
        run(adapter.push_reservation(_direct()))
    with pytest.raises(ChannelRejectedError, match="to cancel"):
        run(adapter.push_reservation(_direct("cancelled")))


def test_bad_credentials_never_reach_the_calendar(pair: Beds24Pair) -> None:
    adapter = pair.adapter(refresh_token=SecretStr("wrong"))
    with pytest.raises(ChannelAuthError):
        run(
            adapter.push_availability(
                PushRequest("availability", (AvailabilityUpdate("201", days(1, 1), 2),))
            )
        )
    assert run(pair.sim("GET", "/calendar"))["data"] == {}


def test_connection_test_refuses_a_property_the_token_does_not_see(pair: Beds24Pair) -> None:
    run(pair.adapter().test_connection())
    with pytest.raises(ChannelRejectedError, match="not visible"):
        run(pair.adapter(property_id=999).test_connection())


def test_past_dates_are_not_the_adapters_business(pair: Beds24Pair) -> None:
    # Beds24 documents no refusal of past dates (§2.6); the engine plans none before today.
    adapter = pair.adapter()
    past = DateRange(date(2029, 12, 1), date(2029, 12, 2))
    assert run(
        adapter.push_availability(
            PushRequest("availability", (AvailabilityUpdate("201", past, 1),))
        )
    ).is_fully_accepted


def test_webhooks_are_registered_on_the_property_once(pair: Beds24Pair) -> None:
    adapter = pair.adapter(property_id=102)
    url = "https://innsync.example/hooks/abc"
    assert run(adapter.register_webhooks(url)) == 1
    assert run(adapter.register_webhooks(url)) == 0
    (posted,) = [e for e in pair.transport.exchanges if e.request.method == "POST"]
    assert json.loads(posted.request.content) == [
        {
            "id": 102,
            "webhooks": {
                "version": "twoWithPersonalData",
                "url": url,
                "customHeader": f"{WEBHOOK_HEADER}: {WEBHOOK_SECRET}",
            },
        }
    ]
    # A booking of that property is now delivered there, with the header innsync verifies.
    run(
        pair.sim(
            "POST", "/bookings", {"roomId": 203, "arrival": "2030-02-01", "departure": "2030-02-02"}
        )
    )
    delivered = pair.deliveries.received[-1]
    assert str(delivered.url) == url
    adapter.verify_webhook(dict(delivered.headers), delivered.content)
    without = pair.adapter(webhook_secret=None)
    with pytest.raises(ChannelRejectedError, match="webhook_secret"):
        run(without.register_webhooks(url))


def test_inquiries_are_not_taken_in(pair: Beds24Pair) -> None:
    adapter = pair.adapter()
    made = _book(pair, 201, 3, 5)
    run(pair.sim("POST", f"/bookings/{made['id']}/modify", {"status": "inquiry"}))
    assert run(adapter.pull_revisions(None)).revisions == ()
    delivered = pair.deliveries.received[-1]
    assert run(adapter.parse_webhook(dict(delivered.headers), delivered.content)) == ()
