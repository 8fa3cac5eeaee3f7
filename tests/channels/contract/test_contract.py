"""The channel contract: one behavioural suite, run over every adapter through its harness.

Each test states a behaviour every adapter must show and skips, with the reason, when the adapter
lacks the capability it needs (``capabilities_of``). The fake channel and Channex (against its
simulator) have every capability used here, so for them nothing skips; an adapter may lack only
what ``KNOWN_GAPS`` lists for it, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

import pytest

from innsync.channels.errors import (
    BadSignatureError,
    ChannelAuthError,
    ChannelUnavailableError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    BookingRevision,
    EntryResult,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange
from tests.channels.contract.harnesses import AdapterHarness, HeldRate


def requires(harness: AdapterHarness, *capabilities: str) -> None:
    missing = sorted(set(capabilities) - harness.capabilities)
    if missing:
        pytest.skip(f"the {harness.name} adapter does not implement {', '.join(missing)}")


def on(harness: AdapterHarness, offset: int) -> date:
    return harness.today + timedelta(days=offset)


def span(harness: AdapterHarness, first: int, last: int) -> DateRange:
    return DateRange.inclusive(on(harness, first), on(harness, last))


def availability(*updates: AvailabilityUpdate) -> PushRequest[AvailabilityUpdate]:
    return PushRequest("availability", updates)


def rates(*updates: RateUpdate) -> PushRequest[RateUpdate]:
    return PushRequest("rates", updates)


def held_on(held: Mapping[str, Mapping[date, int]], code: str, dates: DateRange) -> dict[date, int]:
    """What the channel holds for ``code`` on ``dates`` (dates it holds nothing for left out)."""
    days = held.get(code, {})
    return {day: days[day] for day in dates if day in days}


async def pull_all(harness: AdapterHarness) -> list[BookingRevision]:
    """Every revision the channel's feed offers now, page after page."""
    pulled: list[BookingRevision] = []
    cursor: str | None = None
    for _ in range(20):
        page = await harness.adapter.pull_revisions(cursor)
        pulled.extend(page.revisions)
        if not page.has_more:
            return pulled
        cursor = page.next_cursor
    raise AssertionError("the feed never stopped saying has_more")


def revisions_in(parsed: object) -> list[BookingRevision]:
    assert isinstance(parsed, tuple | list)
    return [item for item in parsed if isinstance(item, BookingRevision)]


CONTRACT_CAPABILITIES = frozenset(
    {
        "pushes_availability",
        "pushes_rates",
        "reads_back_ari",
        "pulls_reservations",
        "receives_webhooks",
        "acknowledges_reservations",
    }
)

# What an adapter may lack, and why; anything else missing is a failure, and a capability that
# appears must be taken off this list (so the tests that skipped for it start to run).
KNOWN_GAPS: dict[str, dict[str, str]] = {
    "aiosell": {
        "reads_back_ari": "not built yet: §1.9 fetch returns no restrictions (CHECKLIST read_back)",
        "acknowledges_reservations": "Aiosell has no acknowledgement call (§1.10)",
    },
    "agoda": {
        "acknowledges_reservations": "Agoda has no acknowledgement call: retrieving a booking's "
        "detail is what marks it acknowledged (§3.3, CHECKLIST booking_ack)",
    },
    "beds24": {
        "acknowledges_reservations": "Beds24 has no feed to acknowledge: the modifiedFrom "
        "high-water mark is the cursor (§2.5)",
    },
    "booking_com": {
        "reads_back_ari": "the OTA API has no ARI read (§3.1); only legacy B.XML "
        "roomrateavailability, not built (CHECKLIST read_back)",
        "receives_webhooks": "Booking.com never pushes reservations; they are pulled (§3.1)",
    },
    "expedia": {
        "receives_webhooks": "EQC never pushes bookings; they are pulled with BR (§3.2)",
    },
    "ical": {
        "pushes_availability": "iCal is pulled: platforms poll innsync's .ics export instead",
        "pushes_rates": "iCal carries dates only, no rates or restrictions (landscape §4.2)",
        "reads_back_ari": "a platform's feed holds its own bookings, not innsync's values",
        "receives_webhooks": "iCal has no push of any kind; innsync polls the feed",
        "acknowledges_reservations": "iCal has no acknowledgement; a feed is read, not consumed",
    },
}


def test_every_contract_capability_is_present(harness: AdapterHarness) -> None:
    # Each test below skips what an adapter lacks; only the gaps listed above may skip.
    missing = CONTRACT_CAPABILITIES - harness.capabilities
    assert missing == set(KNOWN_GAPS.get(harness.name, {}))


# The connection test.


def test_connection_succeeds_with_good_credentials(harness: AdapterHarness) -> None:
    harness.run(harness.adapter.test_connection)


def test_bad_credentials_raise_auth_error_and_change_nothing(harness: AdapterHarness) -> None:
    requires(harness, "pushes_availability")
    dates = span(harness, 1, 2)

    async def scenario() -> None:
        with pytest.raises(ChannelAuthError):
            await (await harness.adapter_with_bad_credentials()).test_connection()
        refused = await harness.adapter_with_bad_credentials()
        with pytest.raises(ChannelAuthError):
            await refused.push_availability(
                availability(AvailabilityUpdate(harness.room_types[0], dates, 3))
            )
        await harness.adapter.test_connection()  # the good credentials still work

    harness.run(scenario)
    assert held_on(harness.run(harness.held_availability), harness.room_types[0], dates) == {}


# Outbound ARI.


def test_pushed_availability_is_held_by_the_channel_and_read_back(
    harness: AdapterHarness,
) -> None:
    requires(harness, "pushes_availability", "reads_back_ari")
    twin, double = harness.room_types
    dates = span(harness, 1, 5)
    request = availability(
        AvailabilityUpdate(twin, dates, 4),
        AvailabilityUpdate(double, span(harness, 1, 2), 2),
        AvailabilityUpdate(double, span(harness, 3, 5), 0),
    )

    async def scenario() -> dict[str, dict[date, int]]:
        result = await harness.adapter.push_availability(request)
        assert result.is_fully_accepted
        assert result.accepted_indexes == (0, 1, 2)
        assert result.rejected == {}
        return await harness.adapter.read_availability([twin, double], dates)

    shown = harness.run(scenario)
    expected = {
        twin: dict.fromkeys(dates, 4),
        double: {on(harness, n): 2 if n <= 2 else 0 for n in range(1, 6)},
    }
    assert shown == expected
    held = harness.run(harness.held_availability)
    assert {code: held_on(held, code, dates) for code in (twin, double)} == expected
    # Nothing outside the pushed range was set to the pushed values.
    assert held_on(held, twin, span(harness, 6, 6)) in ({}, {on(harness, 6): 0})


def test_partial_rate_update_leaves_the_price_untouched(harness: AdapterHarness) -> None:
    requires(harness, "pushes_rates", "reads_back_ari")
    if not harness.adapter.limits.accepts_partial_rates:
        pytest.skip(f"the {harness.name} adapter does not accept partial rate updates")
    plan = harness.rate_plans[0]
    dates = span(harness, 1, 3)

    async def scenario() -> dict[RatePlanKey, dict[date, RateValues]]:
        priced = await harness.adapter.push_rates(
            rates(RateUpdate(*plan, dates, RateValues(price=Decimal("120.00"), min_stay_arrival=1)))
        )
        restricted = await harness.adapter.push_rates(
            rates(RateUpdate(*plan, dates, RateValues(min_stay_arrival=3)))
        )
        assert priced.is_fully_accepted
        assert restricted.is_fully_accepted
        assert len(restricted.entries) == 1
        return await harness.adapter.read_rates([plan], dates)

    shown = harness.run(scenario)
    assert set(shown) == {plan}
    assert {
        day: (values.price, values.min_stay_arrival) for day, values in shown[plan].items()
    } == dict.fromkeys(dates, (Decimal("120.00"), 3))

    async def held() -> list[HeldRate | None]:
        return [await harness.held_rate(plan, day) for day in dates]

    assert harness.run(held) == [HeldRate(Decimal("120.00"), 3)] * dates.nights


def test_a_refused_entry_is_a_per_entry_rejection_and_the_others_apply(
    harness: AdapterHarness,
) -> None:
    requires(harness, "pushes_availability")
    if harness.entry_verdicts_reason is not None:
        pytest.skip(harness.entry_verdicts_reason)
    twin, double = harness.room_types
    dates = span(harness, 2, 4)

    async def scenario() -> PushResult:
        unknown = await harness.refused_room_type()
        return await harness.adapter.push_availability(
            availability(
                AvailabilityUpdate(twin, dates, 6),
                AvailabilityUpdate(unknown, dates, 9),
                AvailabilityUpdate(double, dates, 1),
            )
        )

    result = harness.run(scenario)
    assert [(entry.index, entry.accepted) for entry in result.entries] == [
        (0, True),
        (1, False),
        (2, True),
    ]
    assert set(result.rejected) == {1}
    assert result.rejected[1]  # the channel's reason, for the operator
    held = harness.run(harness.held_availability)
    assert held_on(held, twin, dates) == dict.fromkeys(dates, 6)
    assert held_on(held, double, dates) == dict.fromkeys(dates, 1)
    assert 9 not in {units for days in held.values() for units in days.values()}


def test_channel_unavailable_raises_with_retry_after_and_applies_nothing(
    harness: AdapterHarness,
) -> None:
    requires(harness, "pushes_availability")
    twin = harness.room_types[0]
    dates = span(harness, 1, 2)
    request = availability(AvailabilityUpdate(twin, dates, 5))

    async def scenario() -> None:
        expected_retry_after = await harness.make_unavailable()
        with pytest.raises(ChannelUnavailableError) as raised:
            await harness.adapter.push_availability(request)
        assert raised.value.retry_after == expected_retry_after
        assert held_on(await harness.held_availability(), twin, dates) == {}
        await harness.make_available()
        assert (await harness.adapter.push_availability(request)).is_fully_accepted

    harness.run(scenario)
    assert held_on(harness.run(harness.held_availability), twin, dates) == dict.fromkeys(dates, 5)


def test_limits_are_declared_and_going_over_the_budget_is_refused_not_lost(
    harness: AdapterHarness,
) -> None:
    requires(harness, "pushes_availability", "pushes_rates")
    limits = harness.adapter.limits
    assert limits.requests_per_window > 0
    assert limits.window_seconds > 0
    # None declares that the channel documents no payload cap (Aiosell, §1.13).
    assert limits.max_request_bytes is None or limits.max_request_bytes > 0
    twin = harness.room_types[0]
    night = span(harness, 1, 1)

    def push(units: int) -> PushRequest[AvailabilityUpdate]:
        return availability(AvailabilityUpdate(twin, night, units))

    async def scenario() -> None:
        for units in range(1, limits.requests_per_window + 1):
            assert (await harness.adapter.push_availability(push(units))).is_fully_accepted
        with pytest.raises(ChannelUnavailableError) as raised:
            await harness.adapter.push_availability(push(99))
        assert raised.value.retry_after is not None
        assert 0 < raised.value.retry_after <= limits.window_seconds
        held = await harness.held_availability()
        assert held_on(held, twin, night) == {night.start: limits.requests_per_window}
        if limits.separate_budgets:
            rate = RateUpdate(*harness.rate_plans[0], night, RateValues(min_stay_arrival=2))
            assert (await harness.adapter.push_rates(rates(rate))).is_fully_accepted
        # Once the window has passed, the refused values go through.
        harness.advance(limits.window_seconds)
        assert (await harness.adapter.push_availability(push(99))).is_fully_accepted

    harness.run(scenario)
    assert held_on(harness.run(harness.held_availability), twin, night) == {night.start: 99}


# Booking revisions: the feed, acknowledgements and webhooks.


def test_pulled_revision_is_in_neutral_terms_and_acknowledging_removes_it(
    harness: AdapterHarness,
) -> None:
    requires(harness, "pulls_reservations", "acknowledges_reservations")
    assert harness.adapter.pull_interval_seconds > 0
    arrival, departure = on(harness, 10), on(harness, 12)

    async def scenario() -> None:
        booked = await harness.book(0, arrival, departure)
        other = await harness.book(1, arrival, on(harness, 11))
        pulled = {revision.revision_id: revision for revision in await pull_all(harness)}
        assert set(pulled) == {booked.revision_id, other.revision_id}
        revision = pulled[booked.revision_id]
        assert revision.channel_booking_id == booked.booking_id
        assert revision.status == "new"
        assert (revision.arrival, revision.departure) == (arrival, departure)
        (room,) = revision.rooms
        assert (room.room_type_code, room.rate_plan_code) == harness.rate_plans[0]
        assert room.occupancy >= 1
        assert [night for night, _ in room.nightly_prices] == list(DateRange(arrival, departure))
        assert revision.received_at.utcoffset() is not None
        assert pulled[other.revision_id].rooms[0].room_type_code == harness.room_types[1]

        await harness.adapter.acknowledge_revision(booked.revision_id)
        assert [r.revision_id for r in await pull_all(harness)] == [other.revision_id]
        await harness.adapter.acknowledge_revision(booked.revision_id)  # harmless twice
        assert [r.revision_id for r in await pull_all(harness)] == [other.revision_id]

    harness.run(scenario)


def test_webhook_verification_accepts_the_secret_and_refuses_a_wrong_or_missing_one(
    harness: AdapterHarness,
) -> None:
    requires(harness, "receives_webhooks")

    async def scenario() -> None:
        booked = await harness.book(0, on(harness, 3), on(harness, 5))
        headers, body = booked.webhook_headers, booked.webhook_body
        harness.adapter.verify_webhook(headers, body)
        name = harness.secret_header
        unsigned = {key: value for key, value in headers.items() if key.lower() != name}
        assert len(unsigned) == len(headers) - 1
        with pytest.raises(BadSignatureError):
            harness.adapter.verify_webhook(unsigned, body)
        with pytest.raises(BadSignatureError):
            harness.adapter.verify_webhook({**unsigned, name: "not-the-secret"}, body)
        with pytest.raises(BadSignatureError):
            harness.adapter.verify_webhook({**unsigned, name: ""}, body)

    harness.run(scenario)


def test_a_genuine_webhook_parses_to_the_same_revision_as_the_pull(
    harness: AdapterHarness,
) -> None:
    requires(harness, "receives_webhooks", "pulls_reservations")

    async def scenario() -> None:
        booked = await harness.book(1, on(harness, 20), on(harness, 23))
        harness.adapter.verify_webhook(booked.webhook_headers, booked.webhook_body)
        parsed = await harness.adapter.parse_webhook(booked.webhook_headers, booked.webhook_body)
        (from_pull,) = await pull_all(harness)
        assert revisions_in(parsed) == [from_pull]
        assert from_pull.revision_id == booked.revision_id

    harness.run(scenario)


def test_new_modified_and_cancelled_share_the_booking_id_in_received_order(
    harness: AdapterHarness,
) -> None:
    requires(harness, "pulls_reservations", "receives_webhooks")
    arrival = on(harness, 30)

    async def scenario() -> None:
        made = [await harness.book(0, arrival, arrival + timedelta(days=2))]
        harness.advance(5)
        made.append(await harness.modify(made[0].booking_id, arrival + timedelta(days=3)))
        harness.advance(5)
        made.append(await harness.cancel(made[0].booking_id))

        pulled = await pull_all(harness)
        if harness.pull_shows_latest_only is not None:
            # The pull shows the booking as it is now; the webhooks carry each change.
            assert [r.revision_id for r in pulled] == [made[-1].revision_id]
            assert pulled[0].status == "cancelled"
            parsed = [
                revisions_in(await harness.adapter.parse_webhook(m.webhook_headers, m.webhook_body))
                for m in made
            ]
            if harness.webhook_fetches_current is not None:
                # Each hint fetches the booking as it is now: the latest state, every time.
                assert all(p == pulled for p in parsed)
                return
            assert [[r.revision_id for r in p] for p in parsed] == [[m.revision_id] for m in made]
            assert [p[0].status for p in parsed] == ["new", "modified", "cancelled"]
            assert parsed[-1] == pulled
            received = [p[0].received_at for p in parsed]
            assert received == sorted(received)
            if harness.dates_changes_when_read is None:
                assert len(set(received)) == 3
            return
        assert [r.revision_id for r in pulled] == [m.revision_id for m in made]
        assert [r.status for r in pulled] == ["new", "modified", "cancelled"]
        assert {r.channel_booking_id for r in pulled} == {made[0].booking_id}
        assert len({r.revision_id for r in pulled}) == 3
        received = [r.received_at for r in pulled]
        assert received == sorted(received)
        assert len(set(received)) == 3
        assert [r.departure - r.arrival for r in pulled[:2]] == [
            timedelta(days=2),
            timedelta(days=3),
        ]
        for produced, revision in zip(made, pulled, strict=True):
            parsed = await harness.adapter.parse_webhook(
                produced.webhook_headers, produced.webhook_body
            )
            assert revisions_in(parsed) == [revision]

    harness.run(scenario)


def test_entry_results_cover_every_entry_once(harness: AdapterHarness) -> None:
    requires(harness, "pushes_rates")
    plans = harness.rate_plans
    dates = span(harness, 1, 2)
    request = rates(
        RateUpdate(*plans[0], dates, RateValues(price=Decimal("99.00"))),
        RateUpdate(*plans[1], dates, RateValues(stop_sell=True)),
    )
    result = harness.run(lambda: harness.adapter.push_rates(request))
    assert result.entries == (EntryResult(0, accepted=True), EntryResult(1, accepted=True))
