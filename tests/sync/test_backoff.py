"""Backoff delays: capped exponential ceilings, full jitter, the retry-after hint as a floor."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.sync.backoff import Backoff


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
