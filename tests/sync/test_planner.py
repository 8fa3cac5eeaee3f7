"""The planner sends exactly the difference, in the fewest entries and requests allowed."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.channels.encoding import request_json_size, update_json_size
from innsync.channels.fake import CHANNEX_LIKE_LIMITS
from innsync.channels.types import (
    RATE_FIELDS,
    AvailabilityUpdate,
    ChannelLimits,
    RatePlanKey,
    RateUpdate,
    RateValues,
)
from innsync.properties.derivation import DayValues
from innsync.stay_dates import DateRange, runs_of_equal_values
from innsync.sync.desired import channel_values
from innsync.sync.planner import (
    REQUEST_ENVELOPE_BYTES,
    UpdateTooLargeError,
    apply_updates,
    batch_requests,
    plan_availability,
    plan_rates,
)

T = TypeVar("T")
K = TypeVar("K")

ORIGIN = date(2025, 3, 3)  # a Monday
SPAN_DAYS = 45
HORIZON = [DateRange(ORIGIN, ORIGIN + timedelta(days=2 * SPAN_DAYS))]
ROOM_TYPES = ("dbl", "sgl")
RATE_PLANS: tuple[RatePlanKey, ...] = (("dbl", "bar"), ("dbl", "nr"), ("sgl", "bar"))
PLAIN = ChannelLimits(requests_per_window=10, window_seconds=60.0)
WEEKDAYS = ChannelLimits(requests_per_window=10, window_seconds=60.0, understands_weekdays=True)
FAST = settings(max_examples=150, deadline=None)


def _day(offset: int) -> date:
    return ORIGIN + timedelta(days=offset)


def _range(start_and_nights: tuple[int, int]) -> DateRange:
    start, nights = start_and_nights
    return DateRange(_day(start), _day(start + nights))


# Named functions rather than lambdas: hypothesis reads a lambda's source to describe it.
days = st.integers(min_value=0, max_value=SPAN_DAYS - 1).map(_day)
ranges = st.tuples(
    st.integers(min_value=0, max_value=SPAN_DAYS - 1), st.integers(min_value=1, max_value=SPAN_DAYS)
).map(_range)
dirty_ranges = st.lists(ranges, max_size=3)
units = st.integers(min_value=0, max_value=2)
rate_values = st.builds(
    RateValues,
    price=st.none() | st.sampled_from([Decimal("100"), Decimal("120.50")]),
    occupancy_prices=st.none() | st.just(((1, Decimal("90")), (2, Decimal("110")))),
    min_stay_arrival=st.none() | st.integers(min_value=1, max_value=2),
    closed_to_arrival=st.none() | st.booleans(),
    stop_sell=st.none() | st.booleans(),
)
full_rate_values = st.builds(
    RateValues,
    price=st.sampled_from([Decimal("100"), Decimal("120.50")]),
    min_stay_arrival=st.integers(min_value=1, max_value=2),
    stop_sell=st.booleans(),
)
any_limits = st.builds(
    ChannelLimits,
    requests_per_window=st.just(10),
    window_seconds=st.just(60.0),
    understands_ranges=st.booleans(),
    understands_weekdays=st.booleans(),
    accepts_partial_rates=st.booleans(),
    max_days_per_entry=st.none() | st.integers(min_value=1, max_value=10),
)


def calendars(values: st.SearchStrategy[T]) -> st.SearchStrategy[dict[date, T]]:
    """Calendars drawn from a small palette: random (with gaps) or a weekly pattern with exceptions.

    Drawing palette indexes instead of whole values keeps generation fast.
    """

    @st.composite
    def calendar(draw: st.DrawFn) -> dict[date, T]:
        palette = draw(st.lists(values, min_size=1, max_size=3))
        choice = st.integers(min_value=-1, max_value=len(palette) - 1)  # -1 leaves a gap
        start = ORIGIN + timedelta(days=draw(st.integers(min_value=0, max_value=SPAN_DAYS - 1)))
        if draw(st.booleans()):
            picks = draw(st.lists(choice, max_size=SPAN_DAYS))
        else:
            week = draw(st.lists(choice, min_size=7, max_size=7))
            picks = [week[offset % 7] for offset in range(draw(st.integers(0, SPAN_DAYS)))]
            for offset in draw(st.lists(st.integers(0, SPAN_DAYS - 1), max_size=3)):
                if offset < len(picks):
                    picks[offset] = draw(choice)
        return {
            start + timedelta(days=offset): palette[pick]
            for offset, pick in enumerate(picks)
            if pick >= 0
        }

    return calendar()


def states(
    keys: tuple[K, ...], values: st.SearchStrategy[T]
) -> st.SearchStrategy[dict[K, dict[date, T]]]:
    """A calendar for each of a random subset of ``keys``."""
    return st.dictionaries(st.sampled_from(keys), calendars(values), max_size=len(keys))


def dates_of(dirty: list[DateRange]) -> set[date]:
    return {day for current in dirty for day in current}


def assert_shape(
    updates: list[AvailabilityUpdate] | list[RateUpdate], limits: ChannelLimits
) -> None:
    for update in updates:
        if not limits.understands_ranges:
            assert update.dates.nights == 1
        if not limits.understands_weekdays or not limits.understands_ranges:
            assert update.weekdays is None
        if limits.max_days_per_entry is not None:
            assert update.dates.nights <= limits.max_days_per_entry
        # Trimmed: the first and last dates of every range are set by the update.
        covered = list(update.covered_dates())
        assert (covered[0], covered[-1]) == (update.dates.start, update.dates.last)


@FAST
@given(states(ROOM_TYPES, units), states(ROOM_TYPES, units), dirty_ranges, any_limits)
def test_availability_plan_sets_exactly_the_changed_dirty_dates(
    desired: dict[str, dict[date, int]],
    acked: dict[str, dict[date, int]],
    dirty: list[DateRange],
    limits: ChannelLimits,
) -> None:
    updates = plan_availability(desired, acked, dirty, limits)
    result = apply_updates(acked, updates)
    in_dirty = dates_of(dirty)
    for code in set(desired) | set(acked):
        expected = dict(acked.get(code, {}))
        expected.update({d: v for d, v in desired.get(code, {}).items() if d in in_dirty})
        assert result.get(code, {}) == expected
    touched = [(u.room_type_code, day) for u in updates for day in u.covered_dates()]
    assert len(touched) == len(set(touched))
    for code, day in touched:
        assert day in in_dirty
        assert desired[code][day] != acked.get(code, {}).get(day)
    assert_shape(updates, limits)


@FAST
@given(states(RATE_PLANS, rate_values), states(RATE_PLANS, rate_values), dirty_ranges, any_limits)
def test_rate_plan_sets_exactly_the_changed_fields_of_dirty_dates(
    desired: dict[RatePlanKey, dict[date, RateValues]],
    acked: dict[RatePlanKey, dict[date, RateValues]],
    dirty: list[DateRange],
    limits: ChannelLimits,
) -> None:
    partial = limits.accepts_partial_rates
    updates = plan_rates(desired, acked, dirty, limits)
    result = apply_updates(acked, updates, partial_rates=partial)
    in_dirty = dates_of(dirty)
    for key in set(desired) | set(acked):
        held, wanted, got = acked.get(key, {}), desired.get(key, {}), result.get(key, {})
        for day in set(held) | set(wanted) | set(got):
            want = wanted.get(day)
            if day not in in_dirty or want is None or want.is_empty:
                assert got.get(day) == held.get(day)
            elif partial:
                # Managed fields take the desired value; unmanaged ones keep what the channel had.
                unmanaged = set(RATE_FIELDS) - want.fields()
                assert got[day].only(want.fields()) == want
                assert got[day].only(unmanaged) == held.get(day, RateValues()).only(unmanaged)
            else:
                assert got[day] == want
    touched = [(u.rate_plan, day) for u in updates for day in u.covered_dates()]
    assert len(touched) == len(set(touched))
    for update in updates:
        for day in update.covered_dates():
            assert day in in_dirty
            before = acked.get(update.rate_plan, {}).get(day)
            if partial:
                assert not update.values.fields() - update.values.changed_fields(
                    before or RateValues()
                )
            else:
                assert update.values == desired[update.rate_plan][day] != before
    assert_shape(updates, limits)


@FAST
@given(states(RATE_PLANS, full_rate_values), states(RATE_PLANS, full_rate_values), dirty_ranges)
def test_plan_applied_to_acked_equals_desired_on_dirty_dates(
    desired: dict[RatePlanKey, dict[date, RateValues]],
    acked: dict[RatePlanKey, dict[date, RateValues]],
    dirty: list[DateRange],
) -> None:
    result = apply_updates(acked, plan_rates(desired, acked, dirty, WEEKDAYS))
    in_dirty = dates_of(dirty)
    for key, calendar in desired.items():
        for day, values in calendar.items():
            if day in in_dirty:
                assert result[key][day] == values


@FAST
@given(
    states(ROOM_TYPES, units),
    states(ROOM_TYPES, units),
    dirty_ranges,
    st.none() | st.integers(min_value=1, max_value=10),
)
def test_without_weekdays_each_run_is_one_entry_per_allowed_span(
    desired: dict[str, dict[date, int]],
    acked: dict[str, dict[date, int]],
    dirty: list[DateRange],
    max_days: int | None,
) -> None:
    limits = ChannelLimits(requests_per_window=10, window_seconds=60.0, max_days_per_entry=max_days)
    updates = plan_availability(desired, acked, dirty, limits)
    in_dirty = dates_of(dirty)
    for code, calendar in desired.items():
        changed = [
            (day, units)
            for day, units in calendar.items()
            if day in in_dirty and acked.get(code, {}).get(day) != units
        ]
        runs = runs_of_equal_values(changed)
        minimum = sum(math.ceil(run.dates.nights / (max_days or run.dates.nights)) for run in runs)
        assert sum(1 for u in updates if u.room_type_code == code) == minimum


@FAST
@given(states(RATE_PLANS, rate_values), states(RATE_PLANS, rate_values), dirty_ranges)
def test_weekday_patterns_never_cost_more_entries(
    desired: dict[RatePlanKey, dict[date, RateValues]],
    acked: dict[RatePlanKey, dict[date, RateValues]],
    dirty: list[DateRange],
) -> None:
    patterned = plan_rates(desired, acked, dirty, WEEKDAYS)
    plain = plan_rates(desired, acked, dirty, PLAIN)
    assert len(patterned) <= len(plain)


@FAST
@given(
    st.lists(st.tuples(states(ROOM_TYPES, units), st.lists(st.booleans())), min_size=1, max_size=4),
    any_limits,
)
def test_resending_after_partial_failures_converges(
    rounds: list[tuple[dict[str, dict[date, int]], list[bool]]], limits: ChannelLimits
) -> None:
    desired: dict[str, dict[date, int]] = {}
    acked: dict[str, dict[date, int]] = {}
    for changes, accepted_mask in rounds:
        for code, calendar in changes.items():
            desired.setdefault(code, {}).update(calendar)
        updates = plan_availability(desired, acked, HORIZON, limits)
        accepted = [u for i, u in enumerate(updates) if accepted_mask[i : i + 1] != [False]]
        acked = apply_updates(acked, accepted)
    acked = apply_updates(acked, plan_availability(desired, acked, HORIZON, limits))
    assert plan_availability(desired, acked, HORIZON, limits) == []
    assert {code: calendar for code, calendar in acked.items() if calendar} == {
        code: calendar for code, calendar in desired.items() if calendar
    }


@FAST
@given(
    states(RATE_PLANS, rate_values),
    st.none() | st.integers(min_value=1, max_value=5),
    st.none() | st.integers(min_value=700, max_value=3000),
)
def test_batching_respects_entry_and_byte_limits(
    desired: dict[RatePlanKey, dict[date, RateValues]],
    max_entries: int | None,
    max_bytes: int | None,
) -> None:
    limits = ChannelLimits(
        requests_per_window=10,
        window_seconds=60.0,
        understands_weekdays=True,
        max_entries_per_request=max_entries,
        max_request_bytes=max_bytes,
    )
    updates = plan_rates(desired, {}, HORIZON, limits)
    requests = batch_requests(updates, limits, "rates")
    assert Counter(u for request in requests for u in request.updates) == Counter(updates)
    for request in requests:
        assert request.kind == "rates"
        assert len(request.updates) <= (max_entries or len(updates))
        if max_bytes is not None:
            assert request_json_size("rates", request.updates) <= max_bytes
    # No two requests could have been one: first-fit leaves every pair over a limit.
    budget = (max_bytes or math.inf) - REQUEST_ENVELOPE_BYTES
    for i, first in enumerate(requests):
        for second in requests[i + 1 :]:
            both = first.updates + second.updates
            too_many = len(both) > (max_entries or len(updates))
            assert too_many or sum(update_json_size(u) + 1 for u in both) > budget
    if max_bytes is None:
        assert len(requests) == math.ceil(len(updates) / (max_entries or max(len(updates), 1)))


def varied_state(
    nights: int,
) -> tuple[dict[str, dict[date, int]], dict[RatePlanKey, dict[date, RateValues]], list[DateRange]]:
    """Two room types with two rate plans each, every value changing along the calendar."""
    horizon = DateRange(ORIGIN, ORIGIN + timedelta(days=nights))
    availability = {
        code: {day: (offset * 7 + len(code)) % 9 for offset, day in enumerate(horizon)}
        for code in ("dbl", "sgl")
    }
    rates = {
        (code, plan): {
            day: RateValues(
                price=Decimal(90 + (offset * 13) % 71) + Decimal("0.50") * (plan == "nr"),
                min_stay_arrival=1 + offset % 3,
                max_stay=14,
                closed_to_arrival=offset % 11 == 0,
                closed_to_departure=False,
                stop_sell=offset % 17 == 0,
            )
            for offset, day in enumerate(horizon)
        }
        for code in ("dbl", "sgl")
        for plan in ("bar", "nr")
    }
    return availability, rates, [horizon]


def test_full_sync_of_500_days_fits_one_request_of_each_kind() -> None:
    availability, rates, horizon = varied_state(500)
    availability_updates = plan_availability(availability, {}, horizon, CHANNEX_LIKE_LIMITS)
    rate_updates = plan_rates(rates, {}, horizon, CHANNEX_LIKE_LIMITS)
    assert len(availability_updates) == 1000  # the values change every night
    assert len(rate_updates) == 2000
    availability_requests = batch_requests(
        availability_updates, CHANNEX_LIKE_LIMITS, "availability"
    )
    rate_requests = batch_requests(rate_updates, CHANNEX_LIKE_LIMITS, "rates")
    assert [len(r.updates) for r in availability_requests] == [1000]
    assert [len(r.updates) for r in rate_requests] == [2000]
    assert apply_updates({}, rate_updates) == rates
    assert apply_updates({}, availability_updates) == availability


def test_one_changed_date_of_one_rate_plan_is_one_request_with_one_entry() -> None:
    _, rates, horizon = varied_state(500)
    acked = apply_updates({}, plan_rates(rates, {}, horizon, CHANNEX_LIKE_LIMITS))
    changed_day = ORIGIN + timedelta(days=200)
    desired = {key: dict(calendar) for key, calendar in rates.items()}
    old = desired["sgl", "nr"][changed_day]
    desired["sgl", "nr"][changed_day] = RateValues(
        price=Decimal("999.00"),
        min_stay_arrival=old.min_stay_arrival,
        max_stay=old.max_stay,
        closed_to_arrival=old.closed_to_arrival,
        closed_to_departure=old.closed_to_departure,
        stop_sell=old.stop_sell,
    )
    dirty = [DateRange.single(changed_day)]
    requests = batch_requests(
        plan_rates(desired, acked, dirty, CHANNEX_LIKE_LIMITS), CHANNEX_LIKE_LIMITS, "rates"
    )
    assert requests == [
        batch_requests(
            [RateUpdate("sgl", "nr", dirty[0], RateValues(price=Decimal("999.00")))],
            CHANNEX_LIKE_LIMITS,
            "rates",
        )[0]
    ]
    assert (
        plan_availability({"dbl": {changed_day: 3}}, {"dbl": {changed_day: 3}}, dirty, PLAIN) == []
    )


def test_weekend_prices_over_500_days_are_two_weekday_entries() -> None:
    horizon = DateRange(ORIGIN, ORIGIN + timedelta(days=500))
    desired = {
        ("dbl", "bar"): {
            day: RateValues(price=Decimal(150 if day.weekday() >= 5 else 100)) for day in horizon
        }
    }
    assert plan_rates(desired, {}, [horizon], CHANNEX_LIKE_LIMITS) == [
        RateUpdate(
            "dbl",
            "bar",
            horizon,  # 71 weeks and three nights: the horizon ends on a Wednesday night
            RateValues(price=Decimal(100)),
            frozenset(range(5)),
        ),
        RateUpdate(
            "dbl",
            "bar",
            DateRange(ORIGIN + timedelta(days=5), horizon.end - timedelta(days=3)),
            RateValues(price=Decimal(150)),
            frozenset({5, 6}),
        ),
    ]
    assert len(plan_rates(desired, {}, [horizon], PLAIN)) == 143


def test_channel_without_ranges_gets_one_entry_per_date() -> None:
    limits = ChannelLimits(requests_per_window=10, window_seconds=60.0, understands_ranges=False)
    desired = {"dbl": {ORIGIN: 2, ORIGIN + timedelta(days=1): 2}}
    assert plan_availability(desired, {}, HORIZON, limits) == [
        AvailabilityUpdate("dbl", DateRange.single(ORIGIN), 2),
        AvailabilityUpdate("dbl", DateRange.single(ORIGIN + timedelta(days=1)), 2),
    ]


def test_long_runs_are_cut_at_the_channel_maximum() -> None:
    limits = ChannelLimits(requests_per_window=10, window_seconds=60.0, max_days_per_entry=4)
    desired = {"dbl": {ORIGIN + timedelta(days=offset): 1 for offset in range(10)}}
    assert [u.dates.nights for u in plan_availability(desired, {}, HORIZON, limits)] == [4, 4, 2]


def test_only_changed_fields_are_sent_when_the_channel_takes_partial_updates() -> None:
    acked = {("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(100), min_stay_arrival=2)}}
    desired = {("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(100), min_stay_arrival=3)}}
    full = ChannelLimits(requests_per_window=10, window_seconds=60.0, accepts_partial_rates=False)
    day = [DateRange.single(ORIGIN)]
    assert plan_rates(desired, acked, day, PLAIN) == [
        RateUpdate("dbl", "bar", day[0], RateValues(min_stay_arrival=3))
    ]
    assert plan_rates(desired, acked, day, full) == [
        RateUpdate("dbl", "bar", day[0], desired["dbl", "bar"][ORIGIN])
    ]


def test_a_field_that_becomes_unset_is_not_sent() -> None:
    acked = {("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(100), closed_to_arrival=True)}}
    desired = {("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(100))}}
    assert plan_rates(desired, acked, HORIZON, PLAIN) == []


def test_changes_outside_the_dirty_ranges_wait() -> None:
    desired = {"dbl": {ORIGIN: 1, ORIGIN + timedelta(days=1): 1, ORIGIN + timedelta(days=2): 1}}
    dirty = [DateRange.single(ORIGIN + timedelta(days=1))]
    assert plan_availability(desired, {}, dirty, PLAIN) == [AvailabilityUpdate("dbl", dirty[0], 1)]


def test_an_update_larger_than_a_request_is_refused() -> None:
    limits = ChannelLimits(requests_per_window=10, window_seconds=60.0, max_request_bytes=300)
    update = AvailabilityUpdate("x" * 200, DateRange.single(ORIGIN), 1)
    with pytest.raises(UpdateTooLargeError):
        batch_requests([update], limits, "availability")
    assert batch_requests([], limits, "availability") == []


def test_apply_updates_leaves_its_input_alone() -> None:
    acked = {"dbl": {ORIGIN: 1}}
    result = apply_updates(acked, [AvailabilityUpdate("dbl", DateRange.single(ORIGIN), 0)])
    assert result == {"dbl": {ORIGIN: 0}}
    assert acked == {"dbl": {ORIGIN: 1}}


def test_rate_updates_replace_all_fields_on_channels_without_partial_updates() -> None:
    acked = {("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(100), stop_sell=True)}}
    update = RateUpdate("dbl", "bar", DateRange.single(ORIGIN), RateValues(price=Decimal(90)))
    assert apply_updates(acked, [update], partial_rates=False) == {
        ("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(90))}
    }
    assert apply_updates(acked, [update]) == {
        ("dbl", "bar"): {ORIGIN: RateValues(price=Decimal(90), stop_sell=True)}
    }


PER_PERSON_PARTIAL = ChannelLimits(
    requests_per_window=10, window_seconds=60.0, accepts_partial_occupancy_prices=True
)


def _per_person(*prices: tuple[int, str]) -> RateValues:
    return RateValues(
        occupancy_prices=tuple((occupancy, Decimal(amount)) for occupancy, amount in prices),
        stop_sell=False,
    )


def test_a_changed_price_list_sends_only_the_changed_occupancies_where_the_channel_allows() -> None:
    acked = {("dbl", "bar"): {ORIGIN: _per_person((1, "90"), (2, "110"), (3, "130"))}}
    desired = {("dbl", "bar"): {ORIGIN: _per_person((1, "90"), (2, "115"), (3, "130"))}}
    day = [DateRange.single(ORIGIN)]
    only_two = RateValues(occupancy_prices=((2, Decimal("115")),))
    sent = plan_rates(desired, acked, day, PER_PERSON_PARTIAL)
    assert sent == [RateUpdate("dbl", "bar", day[0], only_two)]
    # The acknowledged list keeps the occupancies not sent, so nothing is left to send.
    after = apply_updates(acked, sent, partial_occupancies=True)
    assert after == desired
    assert plan_rates(desired, after, day, PER_PERSON_PARTIAL) == []
    # A channel that replaces the whole list gets the whole list.
    whole = RateValues(occupancy_prices=desired["dbl", "bar"][ORIGIN].occupancy_prices)
    assert plan_rates(desired, acked, day, PLAIN) == [RateUpdate("dbl", "bar", day[0], whole)]


def test_an_occupancy_no_longer_priced_is_not_resent_for_ever() -> None:
    acked = {("dbl", "bar"): {ORIGIN: _per_person((1, "90"), (2, "110"))}}
    desired = {("dbl", "bar"): {ORIGIN: _per_person((2, "110"))}}
    assert plan_rates(desired, acked, HORIZON, PER_PERSON_PARTIAL) == []


def test_a_price_brought_down_to_zero_closes_the_date_instead_of_being_sent() -> None:
    zero = channel_values(DayValues(price=Decimal("0.00"), min_stay_arrival=2))
    assert (zero.price, zero.stop_sell, zero.min_stay_arrival) == (None, True, 2)
    per_person = channel_values(
        DayValues(occupancy_prices=((1, Decimal("0.00")), (2, Decimal("80.00"))))
    )
    assert (per_person.occupancy_prices, per_person.stop_sell) == (((2, Decimal("80.00")),), False)
