"""The sliding-window limiter never grants more than N requests in any W seconds."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.channels.types import ChannelLimits
from innsync.sync.limiter import (
    PACE_SLACK_TOKENS,
    RATES_BURST_SHARE,
    SlidingWindowLimiter,
    burst_for,
)

FAST = settings(max_examples=300, deadline=None)

# Quarter seconds are exact in binary floating point, so boundary arithmetic is exact too.


def _quarters(count: int) -> float:
    return count / 4


steps = st.lists(st.integers(min_value=0, max_value=40).map(_quarters))
limits = st.integers(min_value=1, max_value=5)
windows = st.integers(min_value=1, max_value=20).map(float)


def attempt_times(gaps: list[float]) -> list[float]:
    times, now = [], 1000.0
    for gap in gaps:
        now += gap
        times.append(now)
    return times


@FAST
@given(steps, limits, windows)
def test_no_window_holds_more_than_the_limit_and_no_request_is_refused_needlessly(
    gaps: list[float], limit: int, window: float
) -> None:
    limiter = SlidingWindowLimiter(limit, window)
    granted: list[float] = []
    for now in attempt_times(gaps):
        in_window = sum(1 for t in granted if t > now - window)
        if limiter.try_acquire(now):
            granted.append(now)
        else:
            assert in_window == limit
    # The busiest window starts at a granted request.
    for start in granted:
        assert sum(1 for t in granted if start <= t < start + window) <= limit


@FAST
@given(steps, limits, windows)
def test_wait_time_is_exactly_when_the_next_request_fits(
    gaps: list[float], limit: int, window: float
) -> None:
    limiter = SlidingWindowLimiter(limit, window)
    for now in attempt_times(gaps):
        limiter.try_acquire(now)
    now = attempt_times(gaps)[-1] if gaps else 1000.0
    wait = limiter.wait_time(now)
    probe = SlidingWindowLimiter.from_state(limiter.to_state())
    if wait == 0:
        assert probe.try_acquire(now)
        return
    assert not SlidingWindowLimiter.from_state(limiter.to_state()).try_acquire(now + wait - 0.125)
    assert probe.try_acquire(now + wait)


@FAST
@given(steps, st.integers(min_value=0, max_value=20), limits, windows)
def test_state_survives_a_json_round_trip(
    gaps: list[float], split: int, limit: int, window: float
) -> None:
    times = attempt_times(gaps)
    straight = SlidingWindowLimiter(limit, window)
    resumed = SlidingWindowLimiter(limit, window)
    expected = [straight.try_acquire(now) for now in times]
    decisions = [resumed.try_acquire(now) for now in times[:split]]
    resumed = SlidingWindowLimiter.from_state(json.loads(json.dumps(resumed.to_state())))
    decisions += [resumed.try_acquire(now) for now in times[split:]]
    assert decisions == expected


def test_ten_per_minute_example() -> None:
    limiter = SlidingWindowLimiter.for_limits(
        ChannelLimits(requests_per_window=10, window_seconds=60)
    )
    assert [limiter.try_acquire(float(second)) for second in range(11)] == [True] * 10 + [False]
    assert limiter.wait_time(10.0) == 50.0
    assert not limiter.try_acquire(59.5)
    assert limiter.try_acquire(60.0)
    assert limiter.to_state()["grants"] == [float(second) for second in range(1, 10)] + [60.0]


def test_a_clock_stepping_back_counts_as_the_latest_time_seen() -> None:
    limiter = SlidingWindowLimiter(1, 10.0)
    assert limiter.try_acquire(100.0)
    assert limiter.wait_time(95.0) == 15.0
    assert not limiter.try_acquire(50.0)
    assert limiter.to_state() == {
        "limit": 1,
        "window_seconds": 10.0,
        "grants": [100.0],
        "latest": 100.0,
    }


@pytest.mark.parametrize(
    "state",
    [
        {"limit": "10", "window_seconds": 60.0, "grants": [], "latest": None},
        {"limit": 10, "window_seconds": 60.0, "grants": ["now"], "latest": None},
        {"limit": 10, "window_seconds": 60.0, "grants": [], "latest": "later"},
        {"limit": 1, "window_seconds": 60.0, "grants": [1.0, 2.0], "latest": None},
        {"limit": 0, "window_seconds": 60.0, "grants": [], "latest": None},
    ],
)
def test_malformed_state_is_refused(state: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"limit|grant|latest"):
        SlidingWindowLimiter.from_state(state)


def test_a_burst_goes_at_once_and_the_rest_of_the_window_is_spread_evenly() -> None:
    limiter = SlidingWindowLimiter(10, 60.0, burst=burst_for(10))
    assert limiter.burst == 3
    assert [limiter.try_acquire(0.0) for _ in range(4)] == [True, True, True, False]
    refill = 60.0 / 7  # the other 7 of the window's 10, one token at a time
    assert limiter.wait_time(0.0) == pytest.approx(refill)
    assert not limiter.try_acquire(refill - 0.01)
    assert limiter.try_acquire(refill)
    # A steady demand (an attempt every second) is granted every `refill` seconds, and never
    # has to wait out the window's turn, as a sender spending all 10 at once would.
    granted = [t for t in range(1, 600) if limiter.try_acquire(float(t))]
    gaps = [later - earlier for earlier, later in itertools.pairwise(granted)]
    assert max(gaps) <= refill + 1
    assert len(granted) == pytest.approx(600 / refill, abs=2)


def test_a_burst_of_0_is_an_even_pace_of_one_request_every_window_over_limit() -> None:
    limiter = SlidingWindowLimiter(10, 60.0, burst=burst_for(10, RATES_BURST_SHARE))
    assert limiter.burst == 0
    pace = 60.0 / 10
    # After a pause, one request goes at once; the next one a whole interval later.
    assert [limiter.try_acquire(0.0) for _ in range(2)] == [True, False]
    assert limiter.wait_time(1.0) == pytest.approx(pace - 1.0)
    assert not limiter.try_acquire(pace - 0.01)
    assert limiter.try_acquire(pace)
    # A steady demand (an attempt every second) is granted every `pace` seconds: 10 a window.
    granted = [t for t in range(7, 600) if limiter.try_acquire(float(t))]
    gaps = [later - earlier for earlier, later in itertools.pairwise(granted)]
    assert set(gaps) == {pace}
    assert len([t for t in granted if t > granted[-1] - 60.0]) == 10
    # Idle for longer than the pace, the next request goes at once again, but never two.
    assert [limiter.try_acquire(granted[-1] + 30.0) for _ in range(2)] == [True, False]


def test_a_late_grant_on_an_even_pace_does_not_push_the_next_ones_back() -> None:
    limiter = SlidingWindowLimiter(10, 60.0, burst=0)
    pace = 6.0
    grid = [0.0, pace, 2 * pace]
    for at in grid:
        assert limiter.try_acquire(at)
    # The worker comes 2 s late for the next token; the one after is still due on the grid.
    assert limiter.try_acquire(3 * pace + 2.0)
    assert limiter.wait_time(3 * pace + 2.0) == pytest.approx(pace - 2.0)
    assert not limiter.try_acquire(4 * pace - 0.01)
    assert limiter.try_acquire(4 * pace)
    # Later than the slack, the bucket was idle: a new grid starts at the grant.
    late = 5 * pace + pace * PACE_SLACK_TOKENS + 1.0
    assert limiter.try_acquire(late)
    assert limiter.wait_time(late) == pytest.approx(pace)


@FAST
@given(steps, st.integers(min_value=2, max_value=12), windows, st.sampled_from([0.0, 0.3, 0.5]))
def test_a_shaped_limiter_never_lets_more_than_the_limit_into_a_window(
    gaps: list[float], limit: int, window: float, share: float
) -> None:
    limiter = SlidingWindowLimiter(limit, window, burst=burst_for(limit, share))
    granted = []
    for t in attempt_times(gaps):
        # What it says to wait is what it takes: a grant then (in a copy), not before.
        wait = limiter.wait_time(t)
        if wait > 0:
            assert not _copy(limiter).try_acquire(t + wait - 0.01)
            assert _copy(limiter).try_acquire(t + wait)
        if limiter.try_acquire(t):
            granted.append(t)
    for index, start in enumerate(granted):
        assert sum(1 for t in granted[index:] if t < start + window) <= limit


def _copy(limiter: SlidingWindowLimiter) -> SlidingWindowLimiter:
    copied = SlidingWindowLimiter.from_state(json.loads(json.dumps(limiter.to_state())))
    copied.burst = limiter.burst
    return copied


def test_a_burst_is_at_most_half_the_limit() -> None:
    assert burst_for(1) is None
    assert [burst_for(limit) for limit in (2, 3, 10, 30, 100)] == [1, 1, 3, 9, 30]
    assert [burst_for(limit, 0.0) for limit in (2, 10, 100)] == [0, 0, 0]
    assert [burst_for(limit, 0.9) for limit in (2, 10, 100)] == [1, 5, 50]
    with pytest.raises(ValueError, match="half the limit"):
        SlidingWindowLimiter(10, 60.0, burst=6)


@FAST
@given(st.lists(st.integers(min_value=0, max_value=11).map(_quarters), min_size=1, max_size=40))
def test_an_even_pace_keeps_its_grid_whatever_the_lateness_within_the_slack(
    lateness: list[float],
) -> None:
    # A worker that always has something to send and takes each token up to 2.75 s late.
    limiter = SlidingWindowLimiter(10, 60.0, burst=0)
    pace = 6.0
    for index, late in enumerate(lateness):
        attempt = index * pace + late
        granted_at = attempt + limiter.wait_time(attempt)
        assert limiter.try_acquire(granted_at)
        # Grant k is never later than its due time on the grid plus the slack.
        assert index * pace <= granted_at <= (index + PACE_SLACK_TOKENS) * pace
