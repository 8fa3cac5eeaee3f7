"""``clock.Every``: a check a loop repeats is done at most once per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from innsync.clock import Every


def test_due_at_the_first_call_then_once_per_interval() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    every = Every(timedelta(seconds=5), clock=lambda: now)
    answers = []
    for _ in range(12):  # one call per second of the clock
        answers.append(every.due())
        now += timedelta(seconds=1)
    assert answers == [True, *[False] * 4, True, *[False] * 4, True, False]
