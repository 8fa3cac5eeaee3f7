"""Backoff delays: capped exponential ceilings, full jitter, the retry-after hint as a floor."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.backoff import Backoff
from innsync.events.delivery import retry_delay as delivery_retry
from innsync.inbox.timing import retry_delay as inbound_retry


def test_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_seconds=1.0, cap_seconds=60.0)
    assert [backoff.ceiling(attempt) for attempt in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.ceiling(10**9) == 60.0


def test_seeded_delays_repeat() -> None:
    first = Backoff(rng=random.Random(7))
    second = Backoff(rng=random.Random(7))
    assert [first.delay(3) for _ in range(5)] == [second.delay(3) for _ in range(5)]


def test_full_jitter_spreads_over_the_whole_interval() -> None:
    backoff = Backoff(base_seconds=1.0, cap_seconds=60.0, rng=random.Random(1))
    delays = [backoff.delay(3) for _ in range(1000)]
    assert all(0.0 <= delay <= 8.0 for delay in delays)
    assert min(delays) < 0.5
    assert max(delays) > 7.5


def test_retry_after_beyond_the_cap_is_honoured() -> None:
    backoff = Backoff(base_seconds=1.0, cap_seconds=60.0, rng=random.Random(3))
    assert backoff.delay(0, retry_after=120.0) == 120.0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=10_000),
    st.none() | st.floats(min_value=0, max_value=1_000),
    st.integers(min_value=0, max_value=2**32),
)
def test_delay_is_within_the_ceiling_and_never_before_retry_after(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    backoff = Backoff(base_seconds=0.5, cap_seconds=300.0, rng=random.Random(seed))
    delay = backoff.delay(attempt, retry_after=retry_after)
    assert delay >= (retry_after or 0.0)
    assert delay <= max(backoff.ceiling(attempt), retry_after or 0.0)


@pytest.mark.parametrize(
    ("base", "cap", "multiplier"), [(0.0, 10.0, 2.0), (5.0, 1.0, 2.0), (1.0, 10.0, 1.0)]
)
def test_nonsensical_policies_are_refused(base: float, cap: float, multiplier: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base_seconds=base, cap_seconds=cap, multiplier=multiplier)


def test_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="attempt"):
        Backoff().ceiling(-1)


def test_without_jitter_the_delay_is_the_ceiling_and_a_hint_is_a_floor() -> None:
    backoff = Backoff(base_seconds=5.0, cap_seconds=900.0, jitter_below=0.0)
    assert [backoff.delay(attempt) for attempt in range(10)] == [
        5,
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        900,
        900,
    ]
    assert backoff.wait(0, retry_after=45.0) == timedelta(seconds=45)


def test_added_jitter_stays_within_a_quarter_above_the_ceiling() -> None:
    backoff = Backoff(
        base_seconds=10.0,
        cap_seconds=6 * 3600.0,
        jitter_below=0.0,
        jitter_above=0.25,
        rng=random.Random(5),
    )
    delays = [backoff.delay(2) for _ in range(1000)]
    assert all(40.0 <= delay <= 50.0 for delay in delays)
    assert max(delays) > 49.0


def test_the_three_retry_schedules_are_one_backoff() -> None:
    """The inbound passes and PMS deliveries keep the schedules they had before sharing it."""
    assert [inbound_retry(failures, timedelta(seconds=10)) for failures in (0, 1, 2, 8, 30)] == [
        timedelta(seconds=10),
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=900),
        timedelta(seconds=900),
    ]
    assert inbound_retry(1, timedelta(seconds=5), retry_after=45.0) == timedelta(seconds=45)
    first = delivery_retry(1, random.Random(1))
    assert timedelta(seconds=10) <= first <= timedelta(seconds=12.5)
    assert timedelta(hours=6) <= delivery_retry(40, random.Random(1)) <= timedelta(hours=7.5)
