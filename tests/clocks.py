"""Where the tests' own clocks start."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time


def midday_today() -> datetime:
    """Noon (UTC) of today: where a test clock starts so that it never crosses midnight.

    A test moves its clock on by minutes or hours. Started at the wall time, late in the UTC
    day, its date (or its hotel's date) moved past the one that the test's expectations or the
    data it wrote were keyed on, and the test failed only near midnight. From noon, a test can
    move on eleven hours before a hotel anywhere from UTC-11 to UTC+1 sees a new day.

    ``INNSYNC_TEST_CLOCK_START`` (``HH:MM``) starts the clocks elsewhere, to check a test
    against the hour it would once have failed at (e.g. ``23:55``).
    """
    hour, minute = map(int, os.environ.get("INNSYNC_TEST_CLOCK_START", "12:00").split(":"))
    return datetime.combine(datetime.now(UTC).date(), time(hour, minute), UTC)
