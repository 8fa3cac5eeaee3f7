"""Stay dates and half-open date ranges: the calendar arithmetic every layer shares.

A stay date is a night in the property's own calendar. Inside innsync every range is half-open,
``[start, end)``; channels that speak inclusive ranges convert at their adapter edge.
This module depends on nothing else in innsync so that channels, sync and the domain can all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Generic, TypeVar

ONE_DAY = timedelta(days=1)
# Stay dates further than this from a property's today are typing mistakes, not bookings
# (``INNSYNC_DATE_WINDOW_YEARS`` changes it).
DATE_WINDOW_YEARS = 5
ALL_WEEKDAYS: frozenset[int] = frozenset(range(7))
WEEKDAY_NAMES = ("mo", "tu", "we", "th", "fr", "sa", "su")

V = TypeVar("V", bound=Hashable)
T = TypeVar("T")


class DateRangeError(ValueError):
    """A date range whose end is not after its start."""


@dataclass(frozen=True, order=True, slots=True)
class DateRange:
    """The stay dates ``start`` up to but not including ``end``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise DateRangeError(f"range end {self.end} must be after its start {self.start}")

    @classmethod
    def inclusive(cls, first: date, last: date) -> DateRange:
        """Build from an inclusive pair, as most channels and people write ranges."""
        return cls(first, last + ONE_DAY)

    @classmethod
    def single(cls, stay_date: date) -> DateRange:
        return cls(stay_date, stay_date + ONE_DAY)

    @property
    def last(self) -> date:
        """The last stay date inside the range (inclusive end)."""
        return self.end - ONE_DAY

    @property
    def nights(self) -> int:
        return (self.end - self.start).days

    def __contains__(self, stay_date: object) -> bool:
        return isinstance(stay_date, date) and self.start <= stay_date < self.end

    def __iter__(self) -> Iterator[date]:
        day = self.start
        while day < self.end:
            yield day
            day += ONE_DAY

    def intersection(self, other: DateRange) -> DateRange | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return DateRange(start, end) if start < end else None

    def overlaps(self, other: DateRange) -> bool:
        return self.start < other.end and other.start < self.end

    def pieces(self, days: int) -> Iterator[DateRange]:
        """Consecutive ranges of at most ``days`` nights covering this one (a read's cap)."""
        start = self.start
        while start < self.end:
            end = min(start + timedelta(days=days), self.end)
            yield DateRange(start, end)
            start = end

    def dates_on(self, weekdays: Iterable[int] = ALL_WEEKDAYS) -> Iterator[date]:
        """The stay dates of the range that fall on the given weekdays (Monday is 0)."""
        wanted = frozenset(weekdays)
        return (day for day in self if day.weekday() in wanted)


def count_dates(dates: DateRange, weekdays: frozenset[int]) -> int:
    """How many dates of the range fall on ``weekdays`` (Monday is 0), without iterating."""
    weeks, rest = divmod(dates.nights, 7)
    first = dates.start.weekday()
    return weeks * len(weekdays) + sum((first + i) % 7 in weekdays for i in range(rest))


def ranges_from_dates(stay_dates: Iterable[date]) -> list[DateRange]:
    """Merge any collection of dates into the fewest sorted, non-overlapping ranges."""
    ranges: list[DateRange] = []
    for day in sorted(set(stay_dates)):
        if ranges and ranges[-1].end == day:
            ranges[-1] = DateRange(ranges[-1].start, day + ONE_DAY)
        else:
            ranges.append(DateRange.single(day))
    return ranges


def merge_ranges(ranges: Iterable[DateRange]) -> list[DateRange]:
    """Union of ranges: overlapping or touching ranges become one, the result sorted."""
    merged: list[DateRange] = []
    for current in sorted(ranges):
        if merged and current.start <= merged[-1].end:
            if current.end > merged[-1].end:
                merged[-1] = DateRange(merged[-1].start, current.end)
        else:
            merged.append(current)
    return merged


def subtract_range(ranges: Iterable[DateRange], removed: DateRange) -> list[DateRange]:
    """The parts of ``ranges`` outside ``removed``."""
    remaining: list[DateRange] = []
    for current in ranges:
        if not current.overlaps(removed):
            remaining.append(current)
            continue
        if current.start < removed.start:
            remaining.append(DateRange(current.start, removed.start))
        if removed.end < current.end:
            remaining.append(DateRange(removed.end, current.end))
    return remaining


@dataclass(frozen=True, slots=True)
class Run(Generic[T]):
    """Consecutive stay dates that share one value."""

    dates: DateRange
    value: T


def runs_of_equal_values(values: Sequence[tuple[date, V]]) -> list[Run[V]]:
    """Compress ``(stay_date, value)`` pairs into runs of consecutive dates with equal values.

    Input may be in any order; a gap between dates always starts a new run.
    """
    runs: list[Run[V]] = []
    for day, value in sorted(values, key=lambda pair: pair[0]):
        if runs and runs[-1].dates.end == day and runs[-1].value == value:
            runs[-1] = Run(DateRange(runs[-1].dates.start, day + ONE_DAY), value)
        else:
            runs.append(Run(DateRange.single(day), value))
    return runs


def expand_runs(runs: Iterable[Run[V]]) -> dict[date, V]:
    """The inverse of :func:`runs_of_equal_values`."""
    return {day: run.value for run in runs for day in run.dates}


def group_by_value(
    values: Iterable[tuple[date, V]], key: Callable[[V], Hashable] | None = None
) -> dict[Hashable, list[date]]:
    """Dates grouped by their value (or by ``key(value)``), each list sorted."""
    groups: dict[Hashable, list[date]] = {}
    for day, value in values:
        groups.setdefault(key(value) if key else value, []).append(day)
    for days in groups.values():
        days.sort()
    return groups
