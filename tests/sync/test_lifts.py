"""Which dates a rates request opens where the channel holds, or may hold, a stop sell."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from innsync.channels.types import RateUpdate, RateValues
from innsync.stay_dates import DateRange
from innsync.sync.lifts import lifted_stop_sells

DAY = date(2030, 5, 1)
OPEN = RateValues(price=Decimal(90), stop_sell=False)
CLOSED = RateValues(price=Decimal(90), stop_sell=True)


def day(offset: int) -> date:
    return DAY + timedelta(days=offset)


def test_only_dates_acknowledged_closed_or_unknown_are_lifted() -> None:
    updates = [
        RateUpdate("A", "BAR", DateRange(day(0), day(4)), OPEN),
        RateUpdate("B", "BAR", DateRange(day(0), day(2)), CLOSED),
        RateUpdate("C", "BAR", DateRange(day(0), day(2)), RateValues(price=Decimal(5))),
    ]
    acked = {
        ("A", "BAR"): {day(0): OPEN, day(1): CLOSED, day(3): RateValues(price=Decimal(1))},
        ("B", "BAR"): {day(0): CLOSED},
    }
    # A: day 0 was open (nothing to lift), day 1 closed, day 2 unknown, day 3 had no stop
    # sell acknowledged; B closes; C does not manage stop sell.
    assert lifted_stop_sells(updates, acked) == {"A": [DateRange(day(1), day(4))]}
    assert lifted_stop_sells(updates, {}) == {"A": [DateRange(day(0), day(4))]}
