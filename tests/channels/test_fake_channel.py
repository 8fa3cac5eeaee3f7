"""The fake channel behaves like a real one: keeps state, enforces its limits, fails on request."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from innsync.channels import registry
from innsync.channels.contract import ChannelAdapter, capabilities_of
from innsync.channels.encoding import request_json_size
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.fake import CHANNEX_LIKE_LIMITS, FakeChannel, FakeChannelConfig
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    EntryResult,
    PushRequest,
    PushResult,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange
from innsync.sync.limiter import SlidingWindowLimiter
from innsync.sync.planner import apply_updates, batch_requests, plan_availability, plan_rates

T = TypeVar("T")

ORIGIN = date(2025, 3, 3)
NIGHT = DateRange.single(ORIGIN)
WEEK = DateRange(ORIGIN, ORIGIN + timedelta(days=7))


@dataclass
class ManualClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def run(call: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(call)


def availability(*updates: AvailabilityUpdate) -> PushRequest[AvailabilityUpdate]:
    return PushRequest("availability", updates)


def rates(*updates: RateUpdate) -> PushRequest[RateUpdate]:
    return PushRequest("rates", updates)


def fake(clock: ManualClock | None = None, **limits: Any) -> FakeChannel:
    config = FakeChannelConfig(limits=dataclasses.replace(CHANNEX_LIKE_LIMITS, **limits))
    return FakeChannel(config, clock=clock or ManualClock())


def test_capabilities_are_derived_from_the_methods() -> None:
    channel = FakeChannel()
    assert isinstance(channel, ChannelAdapter)
    assert capabilities_of(channel) == {
        "pushes_availability",
        "pushes_rates",
        "reads_back_ari",
        "receives_webhooks",
        "pulls_reservations",
        "acknowledges_reservations",
        "pushes_reservations",
        "sources_ari",
        "confirms_bookings",
        "reads_booking",
        "lists_bookings",
    }
    assert capabilities_of(object()) == frozenset()


def test_registry_builds_the_fake_from_stored_config() -> None:
    assert "fake" in registry.kinds()
    clock = ManualClock(5.0)
    stored = {"property_code": "p1", "limits": {"requests_per_window": 2, "window_seconds": 1}}
    http = httpx.AsyncClient()
    adapter = registry.build_adapter("fake", stored, registry.AdapterContext(http, clock))
    run(http.aclose())
    assert isinstance(adapter, FakeChannel)
    assert adapter.limits == ChannelLimits(requests_per_window=2, window_seconds=1.0)
    with pytest.raises(registry.UnknownChannelKindError):
        registry.get("telex")
    registry.register(registry.get("fake"))  # registering the same kind again is harmless
    assert registry.kinds().count("fake") == 1


def test_pushed_ari_is_kept_read_back_and_recorded() -> None:
    channel = fake()
    request = availability(
        AvailabilityUpdate("dbl", WEEK, 4), AvailabilityUpdate("dbl", WEEK, 0, frozenset({5, 6}))
    )
    assert run(channel.push_availability(request)) == PushResult(
        (EntryResult(0, accepted=True), EntryResult(1, accepted=True)), "fake-task-1"
    )
    expected = {day: 0 if day.weekday() >= 5 else 4 for day in WEEK}
    assert run(channel.read_availability(["dbl", "sgl"], WEEK)) == {"dbl": expected, "sgl": {}}
    [recorded] = channel.requests
    assert (recorded.kind, recorded.entry_count, recorded.outcome) == (
        "availability",
        2,
        "accepted",
    )
    assert recorded.size_bytes == request_json_size("availability", request.updates)


def test_rate_fields_left_out_keep_their_value_only_on_partial_channels() -> None:
    first = RateValues(price=Decimal("100.00"), stop_sell=True)
    second = RateValues(price=Decimal("90.00"))
    for partial, expected in [
        (True, RateValues(price=Decimal("90.00"), stop_sell=True)),
        (False, second),
    ]:
        channel = fake(accepts_partial_rates=partial)
        run(channel.push_rates(rates(RateUpdate("dbl", "bar", NIGHT, first))))
        run(channel.push_rates(rates(RateUpdate("dbl", "bar", NIGHT, second))))
        assert run(channel.read_rates([("dbl", "bar")], NIGHT)) == {
            ("dbl", "bar"): {ORIGIN: expected}
        }


def test_over_the_window_budget_the_channel_asks_to_retry_later() -> None:
    clock = ManualClock()
    channel = fake(clock)
    push = availability(AvailabilityUpdate("dbl", NIGHT, 1))
    for second in range(10):
        clock.now = float(second)
        run(channel.push_availability(push))
    with pytest.raises(ChannelUnavailableError) as refused:
        run(channel.push_availability(availability(AvailabilityUpdate("dbl", NIGHT, 7))))
    assert refused.value.retry_after == 51.0
    assert run(channel.read_availability(["dbl"], NIGHT)) == {"dbl": {ORIGIN: 1}}
    assert channel.requests[-1].outcome == "rate_limited"
    # Rates have their own budget, as on Channex.
    run(channel.push_rates(rates(RateUpdate("dbl", "bar", NIGHT, RateValues(stop_sell=True)))))
    clock.now = 60.0
    run(channel.push_availability(push))


def test_a_shared_budget_counts_both_kinds() -> None:
    channel = fake(requests_per_window=1, separate_budgets=False)
    run(channel.push_availability(availability(AvailabilityUpdate("dbl", NIGHT, 1))))
    with pytest.raises(ChannelUnavailableError):
        run(channel.push_rates(rates(RateUpdate("dbl", "bar", NIGHT, RateValues(max_stay=3)))))
    assert channel.rates_state() == {}


@pytest.mark.parametrize("limit", [{"max_request_bytes": 100}, {"max_entries_per_request": 1}])
def test_oversize_requests_are_rejected_whole(limit: dict[str, int]) -> None:
    channel = fake(None, **limit)
    push = availability(AvailabilityUpdate("dbl", NIGHT, 1), AvailabilityUpdate("sgl", NIGHT, 2))
    with pytest.raises(ChannelRejectedError) as rejected:
        run(channel.push_availability(push))
    assert set(rejected.value.entry_reasons) == {0, 1}
    assert channel.availability_state() == {}
    assert channel.requests[-1].outcome == "rejected"


def test_injected_failures_come_in_order_then_stop() -> None:
    channel = FakeChannel()
    channel.fail_next(2, "unavailable", retry_after=30.0)
    channel.fail_next(1, "auth")
    push = availability(AvailabilityUpdate("dbl", NIGHT, 1))
    for _ in range(2):
        with pytest.raises(ChannelUnavailableError) as unavailable:
            run(channel.push_availability(push))
        assert unavailable.value.retry_after == 30.0
    with pytest.raises(ChannelAuthError):
        run(channel.test_connection())
    assert channel.availability_state() == {}
    run(channel.push_availability(push))
    assert [r.outcome for r in channel.requests] == ["unavailable", "unavailable", "accepted"]
    assert channel.availability_state() == {"dbl": {ORIGIN: 1}}
    channel.fail_next(1, "auth")
    with pytest.raises(ChannelAuthError):
        run(channel.push_availability(availability(AvailabilityUpdate("dbl", NIGHT, 5))))
    assert channel.requests[-1].outcome == "auth_failed"
    assert channel.availability_state() == {"dbl": {ORIGIN: 1}}
    with pytest.raises(ValueError, match="count"):
        channel.fail_next(0)


def test_rejected_entries_are_reported_and_not_applied() -> None:
    channel = FakeChannel()
    channel.reject_entries(
        lambda u: "rate must be greater than 0" if u.room_type_code == "sgl" else None
    )
    channel.reject_unknown_codes(
        frozenset({"dbl", "sgl"}), frozenset({("dbl", "bar"), ("sgl", "bar")})
    )
    result = run(
        channel.push_rates(
            rates(
                RateUpdate("dbl", "bar", NIGHT, RateValues(price=Decimal(80))),
                RateUpdate("sgl", "bar", NIGHT, RateValues(price=Decimal(0))),
                RateUpdate("dbl", "promo", NIGHT, RateValues(price=Decimal(70))),
                RateUpdate("twn", "bar", NIGHT, RateValues(price=Decimal(70))),
            )
        )
    )
    assert result.accepted_indexes == (0,)
    assert result.rejected == {
        1: "rate must be greater than 0",
        2: "unknown rate plan 'promo'",
        3: "unknown room type 'twn'",
    }
    assert result.warnings == (
        "entry 1: rate must be greater than 0",
        "entry 2: unknown rate plan 'promo'",
        "entry 3: unknown room type 'twn'",
    )
    assert channel.rates_state() == {("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(80))}}
    assert channel.requests[-1].outcome == "partial"
    channel.clear_faults()
    assert run(
        channel.push_rates(rates(RateUpdate("twn", "bar", NIGHT, RateValues(price=Decimal(70)))))
    ).is_fully_accepted


def test_shapes_the_channel_does_not_understand_are_rejected() -> None:
    channel = fake(understands_ranges=False, understands_weekdays=False, max_days_per_entry=1)
    result = run(
        channel.push_availability(
            availability(
                AvailabilityUpdate("dbl", WEEK, 1, frozenset({5})),
                AvailabilityUpdate("dbl", WEEK, 1),
                AvailabilityUpdate("dbl", NIGHT, 1),
            )
        )
    )
    assert result.rejected == {
        0: "weekday filters are not supported",
        1: "date ranges are not supported",
    }


def test_limited_range_length_is_enforced() -> None:
    channel = fake(max_days_per_entry=3)
    result = run(channel.push_availability(availability(AvailabilityUpdate("dbl", WEEK, 1))))
    assert result.rejected == {0: "range longer than 3 days"}


def test_a_planned_full_sync_and_a_small_change_land_exactly() -> None:
    horizon = DateRange(ORIGIN, ORIGIN + timedelta(days=500))
    desired_availability = {
        code: {
            day: (offset * 5 + offset // 7 + len(code)) % 7 for offset, day in enumerate(horizon)
        }
        for code in ("dbl", "sgl")
    }
    desired_rates = {
        (code, plan): {
            day: RateValues(
                price=Decimal(100 + offset % 31),
                min_stay_arrival=1 + offset % 2,
                closed_to_arrival=day.weekday() == 6,
            )
            for offset, day in enumerate(horizon)
        }
        for code in ("dbl", "sgl")
        for plan in ("bar", "nr")
    }
    channel = FakeChannel()
    limits = channel.limits
    availability_updates = plan_availability(desired_availability, {}, [horizon], limits)
    rate_updates = plan_rates(desired_rates, {}, [horizon], limits)
    for request in batch_requests(availability_updates, limits, "availability"):
        assert run(channel.push_availability(request)).is_fully_accepted
    for rate_request in batch_requests(rate_updates, limits, "rates"):
        assert run(channel.push_rates(rate_request)).is_fully_accepted
    assert [(r.kind, r.entry_count) for r in channel.requests] == [
        ("availability", len(availability_updates)),
        ("rates", len(rate_updates)),
    ]
    assert channel.availability_state() == desired_availability
    assert channel.rates_state() == desired_rates

    acked = apply_updates({}, rate_updates)
    changed_day = ORIGIN + timedelta(days=321)
    desired_rates["dbl", "nr"][changed_day] = dataclasses.replace(
        desired_rates["dbl", "nr"][changed_day], price=Decimal("250.00")
    )
    small = plan_rates(desired_rates, acked, [DateRange.single(changed_day)], limits)
    [small_request] = batch_requests(small, limits, "rates")
    assert small_request.updates == (
        RateUpdate("dbl", "nr", DateRange.single(changed_day), RateValues(price=Decimal("250.00"))),
    )
    run(channel.push_rates(small_request))
    assert channel.rates_state() == desired_rates


def test_a_limiter_governed_sender_is_never_refused_and_batches_fit_the_byte_limit() -> None:
    clock = ManualClock()
    channel = fake(clock, max_request_bytes=1_000)
    limiter = SlidingWindowLimiter.for_limits(channel.limits)
    horizon = DateRange(ORIGIN, ORIGIN + timedelta(days=200))
    desired = {"dbl": {day: offset % 5 for offset, day in enumerate(horizon)}}
    requests = batch_requests(
        plan_availability(desired, {}, [horizon], channel.limits), channel.limits, "availability"
    )
    assert len(requests) > 10
    for request in requests:
        while not limiter.try_acquire(clock.now):
            clock.now += limiter.wait_time(clock.now)
        assert run(channel.push_availability(request)).is_fully_accepted
    assert {r.outcome for r in channel.requests} == {"accepted"}
    assert max(r.size_bytes for r in channel.requests) <= 1_000
    assert channel.availability_state() == desired
