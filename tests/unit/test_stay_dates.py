"""Stay-date ranges: construction, set arithmetic and run compression, with property tests."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.stay_dates import (
    DateRange,
    DateRangeError,
    Run,
    expand_runs,
    group_by_value,
    merge_ranges,
    ranges_from_dates,
    runs_of_equal_values,
    subtract_range,
)

ORIGIN = date(2025, 3, 1)
FAST = settings(max_examples=200, deadline=None)


def _day(offset: int) -> date:
    return ORIGIN + timedelta(days=offset)


def _range(start_and_nights: tuple[date, int]) -> DateRange:
    start, nights = start_and_nights
    return DateRange(start, start + timedelta(days=nights))


# Named functions rather than lambdas: hypothesis reads a lambda's source to describe it.
days = st.integers(min_value=0, max_value=60).map(_day)
ranges = st.tuples(days, st.integers(min_value=1, max_value=20)).map(_range)


def covered(range_list: list[DateRange]) -> set[date]:
    return {day for current in range_list for day in current}


def test_range_is_half_open() -> None:
    stay = DateRange(date(2025, 3, 1), date(2025, 3, 4))
    assert list(stay) == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    assert stay.nights == 3
    assert stay.last == date(2025, 3, 3)
    assert date(2025, 3, 4) not in stay
    assert DateRange.inclusive(date(2025, 3, 1), date(2025, 3, 3)) == stay


def test_empty_range_is_refused() -> None:
    with pytest.raises(DateRangeError):
        DateRange(ORIGIN, ORIGIN)


def test_dates_on_filters_weekdays() -> None:
    week = DateRange(date(2025, 3, 3), date(2025, 3, 10))  # Monday to the next Monday
    assert list(week.dates_on({5, 6})) == [date(2025, 3, 8), date(2025, 3, 9)]


def test_subtract_range_splits_around_the_hole() -> None:
    whole = DateRange(date(2025, 3, 1), date(2025, 3, 11))
    hole = DateRange(date(2025, 3, 4), date(2025, 3, 6))
    assert subtract_range([whole], hole) == [
        DateRange(date(2025, 3, 1), date(2025, 3, 4)),
        DateRange(date(2025, 3, 6), date(2025, 3, 11)),
    ]


def test_group_by_value_sorts_each_group() -> None:
    pairs = [(date(2025, 3, 3), "a"), (date(2025, 3, 1), "a"), (date(2025, 3, 2), "b")]
    assert group_by_value(pairs) == {
        "a": [date(2025, 3, 1), date(2025, 3, 3)],
        "b": [date(2025, 3, 2)],
    }


@FAST
@given(st.sets(days))
def test_ranges_from_dates_round_trips_and_is_minimal(stay_dates: set[date]) -> None:
    result = ranges_from_dates(stay_dates)
    assert covered(result) == stay_dates
    assert sum(current.nights for current in result) == len(stay_dates)
    # Minimal: consecutive ranges never touch, so none could be merged.
    assert all(left.end < right.start for left, right in pairwise(result))
    expected_count = sum(1 for day in stay_dates if day - timedelta(days=1) not in stay_dates)
    assert len(result) == expected_count


@FAST
@given(st.lists(ranges, max_size=8))
def test_merge_ranges_is_the_sorted_union(range_list: list[DateRange]) -> None:
    merged = merge_ranges(range_list)
    assert covered(merged) == covered(range_list)
    assert merged == ranges_from_dates(covered(range_list))


@FAST
@given(st.lists(ranges, max_size=6), ranges)
def test_subtract_range_removes_exactly_the_hole(
    range_list: list[DateRange], removed: DateRange
) -> None:
    remaining = subtract_range(range_list, removed)
    assert covered(remaining) == covered(range_list) - set(removed)
    assert all(not current.overlaps(removed) for current in remaining)


@FAST
@given(st.dictionaries(days, st.sampled_from("abc"), max_size=40))
def test_runs_round_trip_and_are_minimal(values: dict[date, str]) -> None:
    runs = runs_of_equal_values(list(values.items()))
    assert expand_runs(runs) == values
    # Minimal: a run ends where the next date is missing or carries another value.
    assert all(
        left.dates.end < right.dates.start or left.value != right.value
        for left, right in pairwise(runs)
    )
    expected_count = sum(
        1 for day, value in values.items() if values.get(day - timedelta(days=1)) != value
    )
    assert len(runs) == expected_count


def test_runs_of_equal_values_example() -> None:
    pairs = [
        (date(2025, 3, 3), 2),
        (date(2025, 3, 1), 1),
        (date(2025, 3, 2), 1),
        (date(2025, 3, 5), 2),
    ]
    assert runs_of_equal_values(pairs) == [
        Run(DateRange(date(2025, 3, 1), date(2025, 3, 3)), 1),
        Run(DateRange.single(date(2025, 3, 3)), 2),
        Run(DateRange.single(date(2025, 3, 5)), 2),
    ]


def test_pieces_cover_the_range_in_consecutive_ranges_of_at_most_n_nights() -> None:
    whole = DateRange(date(2030, 1, 1), date(2030, 3, 11))  # 69 nights
    found = list(whole.pieces(31))
    assert [piece.nights for piece in found] == [31, 31, 7]
    assert found[0].start == whole.start
    assert found[-1].end == whole.end
    assert all(a.end == b.start for a, b in pairwise(found))
    assert list(DateRange.single(date(2030, 1, 1)).pieces(31)) == [
        DateRange.single(date(2030, 1, 1))
    ]
