"""The one clock type: a callable giving the current time, timezone-aware in UTC.

Whatever decides by the time (leases, retries, schedules) takes a ``Clock`` instead of reading
the system clock, so that tests move time by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


class Every:
    """Says yes at the first :meth:`due` and then once per ``interval``: for a check that a
    loop would otherwise repeat on every pass, far more often than anything it finds changes."""

    def __init__(self, interval: timedelta, clock: Clock = utc_now) -> None:
        self._interval = interval
        self._clock = clock
        self._last: datetime | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return False
        self._last = now
        return True
