"""The one clock type: a callable giving the current time, timezone-aware in UTC.

Whatever decides by the time (leases, retries, schedules) takes a ``Clock`` instead of reading
the system clock, so that tests move time by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)
