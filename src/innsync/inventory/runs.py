"""The rate calendar as runs: consecutive stay dates with equal values are one row.

A write sets some fields of a plan on some dates. It reads the plan's runs around those dates,
applies the change to them in memory (a sweep over runs and ranges, never over single days),
folds equal neighbours together and stores only the runs that differ: a bulk write of 1,000
entries x 750 days writes 1,000 rows, not 750,000. Writers of one plan take turns on its
``rate_plans`` row (``FOR NO KEY UPDATE``: foreign-key checks of other tables are not blocked),
so two transactions never fold the same runs at once; on SQLite the write lock does that.

Readers get a row per date: ``calendar_rows`` gives every date of a range the row of the run
covering it (one row object shared by the run's dates), as the one-row-per-day table did.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Row, Table, delete, select, tuple_
from sqlalchemy.orm import Session

from innsync.db.upsert import upsert_rows
from innsync.inventory.models import RateCalendarRun
from innsync.properties.models import RatePlan
from innsync.stay_dates import ONE_DAY, DateRange

TABLE: Table = RateCalendarRun.__table__  # type: ignore[assignment]
KEYS = ("rate_plan_id", "start_date")
PROVENANCE_COLUMNS = ("source_connection_id", "source_updated_at")
# Everything a run holds besides its plan and dates, in the order of a run's value tuple.
STORED_COLUMNS = tuple(
    column.name for column in TABLE.columns if column.name not in {*KEYS, "end_date"}
)
VALUE_COLUMNS = tuple(name for name in STORED_COLUMNS if name not in PROVENANCE_COLUMNS)
_POSITION = {name: index for index, name in enumerate(STORED_COLUMNS)}
_OCCUPANCY = _POSITION["occupancy_prices"]
_VALUE_POSITIONS = tuple(_POSITION[name] for name in VALUE_COLUMNS)
# Keys per DELETE statement: two bound parameters each, far inside every database's limit.
DELETE_BATCH = 1000

# A run's values: one entry per ``STORED_COLUMNS``; None stands for a stretch with no values.
Values = tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class CalendarChange:
    """Set ``values`` (some of ``STORED_COLUMNS``) on the dates of ``ranges`` of one plan.

    ``ranges`` are sorted and do not overlap. Per-person prices merge into a date's own (an
    occupancy not named keeps its price) unless ``merge_prices`` is off (a channel's report
    replaces them); ``occupancy_prices: None`` clears them all.
    """

    plan_id: uuid.UUID
    ranges: Sequence[DateRange]
    values: Mapping[str, Any]
    merge_prices: bool = True


@dataclass(slots=True)
class _Segment:
    start: date
    end: date
    values: Values


def calendar_rows(
    session: Session, plan_ids: Iterable[uuid.UUID], dates: DateRange
) -> dict[uuid.UUID, dict[date, Row[Any]]]:
    """Per plan, the row of every date in ``dates`` that has values of its own.

    A row has the plan's calendar columns as attributes (``price``, ``stop_sell``, …,
    ``source_updated_at``); the dates of one run share it.
    """
    rows: dict[uuid.UUID, dict[date, Row[Any]]] = {plan_id: {} for plan_id in plan_ids}
    if not rows:
        return rows
    query = select(TABLE).where(
        TABLE.c.rate_plan_id.in_(list(rows)),
        TABLE.c.start_date < dates.end,
        TABLE.c.end_date > dates.start,
    )
    for run in session.execute(query):
        own = rows[run.rate_plan_id]
        day, stop = max(run.start_date, dates.start), min(run.end_date, dates.end)
        while day < stop:
            own[day] = run
            day += ONE_DAY
    return rows


def apply_changes(session: Session, changes: Sequence[CalendarChange]) -> list[list[DateRange]]:
    """Apply ``changes`` in order, in ``session``'s transaction; for each change, the ranges
    whose values it changed (a date already holding them is not changed)."""
    by_plan: dict[uuid.UUID, list[int]] = defaultdict(list)
    for index, change in enumerate(changes):
        if change.ranges:
            by_plan[change.plan_id].append(index)
    changed: list[list[DateRange]] = [[] for _ in changes]
    if not by_plan:
        return changed
    _take_turns(session, by_plan)
    regions = {
        plan_id: DateRange(
            min(changes[i].ranges[0].start for i in indices),
            max(changes[i].ranges[-1].end for i in indices),
        )
        for plan_id, indices in by_plan.items()
    }
    stored = _stored_runs(session, regions)
    removed: list[tuple[uuid.UUID, date]] = []
    added: list[dict[str, Any]] = []
    for plan_id, indices in by_plan.items():
        before = stored.get(plan_id, [])
        segments = _covering(before, regions[plan_id])
        for index in indices:
            segments, changed[index] = _applied(segments, changes[index])
        # Only what differs is written: runs gone are deleted, new or different ones upserted.
        old = {run.start: (run.end, run.values) for run in before}
        new = {run.start: (run.end, run.values) for run in _folded(segments)}
        removed.extend((plan_id, start) for start in old.keys() - new.keys())
        added.extend(
            _row(plan_id, start, *run) for start, run in new.items() if old.get(start) != run
        )
    for first in range(0, len(removed), DELETE_BATCH):
        keys = removed[first : first + DELETE_BATCH]
        key = tuple_(TABLE.c.rate_plan_id, TABLE.c.start_date)
        session.execute(delete(TABLE).where(key.in_(keys)))
    upsert_rows(session, TABLE, added, KEYS, ("end_date", *STORED_COLUMNS))
    return changed


def changes_from_days(
    plan_id: uuid.UUID, days: Mapping[date, Mapping[str, Any]], *, merge_prices: bool = True
) -> list[CalendarChange]:
    """Per-date values of one plan as changes: consecutive dates setting the same values are one."""
    changes: list[CalendarChange] = []
    run_start: date | None = None
    run_end: date | None = None
    run_values: Mapping[str, Any] = {}
    for day in sorted(days):
        values = days[day]
        if run_end == day and values == run_values:
            run_end = day + ONE_DAY
            continue
        if run_start is not None and run_end is not None:
            changes.append(
                CalendarChange(plan_id, (DateRange(run_start, run_end),), run_values, merge_prices)
            )
        run_start, run_end, run_values = day, day + ONE_DAY, values
    if run_start is not None and run_end is not None:
        changes.append(
            CalendarChange(plan_id, (DateRange(run_start, run_end),), run_values, merge_prices)
        )
    return changes


def _take_turns(session: Session, by_plan: Mapping[uuid.UUID, object]) -> None:
    """Lock the plans' rows in id order (bookings lock room types the same way)."""
    session.execute(
        select(RatePlan.id)
        .where(RatePlan.id.in_(sorted(by_plan)))
        .order_by(RatePlan.id)
        .with_for_update(key_share=True)
    )


def _stored_runs(
    session: Session, regions: Mapping[uuid.UUID, DateRange]
) -> dict[uuid.UUID, list[_Segment]]:
    """Per plan, its runs overlapping or touching its region (a neighbour may fold in)."""
    low = min(region.start for region in regions.values())
    high = max(region.end for region in regions.values())
    query = (
        select(TABLE)
        .where(
            TABLE.c.rate_plan_id.in_(list(regions)),
            TABLE.c.start_date <= high,
            TABLE.c.end_date >= low,
        )
        .order_by(TABLE.c.rate_plan_id, TABLE.c.start_date)
    )
    found: dict[uuid.UUID, list[_Segment]] = defaultdict(list)
    for row in session.execute(query):
        region = regions[row.rate_plan_id]
        if row.start_date <= region.end and row.end_date >= region.start:
            values = tuple(getattr(row, name) for name in STORED_COLUMNS)
            found[row.rate_plan_id].append(_Segment(row.start_date, row.end_date, values))
    return found


def _covering(runs: Sequence[_Segment], region: DateRange) -> list[_Segment]:
    """``runs`` with the gaps between them (and around them, up to ``region``) filled by
    empty segments: contiguous segments from the earliest start to the latest end."""
    start = min([region.start, *(run.start for run in runs)])
    end = max([region.end, *(run.end for run in runs)])
    segments: list[_Segment] = []
    position = start
    for run in runs:
        if run.start > position:
            segments.append(_Segment(position, run.start, None))
        segments.append(_Segment(run.start, run.end, run.values))
        position = run.end
    if position < end:
        segments.append(_Segment(position, end, None))
    return segments


def _applied(
    segments: Sequence[_Segment], change: CalendarChange
) -> tuple[list[_Segment], list[DateRange]]:
    """The segments with ``change`` applied where its ranges cover them, split at the ranges'
    edges, and the ranges whose values changed: one sweep over both sorted lists."""
    update = _updater(change.values, change.merge_prices)
    result: list[_Segment] = []
    changed: list[DateRange] = []
    ranges, index = change.ranges, 0
    for segment in segments:
        position = segment.start
        while position < segment.end:
            while index < len(ranges) and ranges[index].end <= position:
                index += 1
            inside = index < len(ranges) and ranges[index].start <= position
            if inside:
                stop = min(segment.end, ranges[index].end)
                values = update(segment.values)
                if values != segment.values:
                    _extend(changed, position, stop)
            else:
                stop = min(segment.end, ranges[index].start) if index < len(ranges) else segment.end
                values = segment.values
            result.append(_Segment(position, stop, values))
            position = stop
    return result, changed


def _updater(given: Mapping[str, Any], merge_prices: bool) -> Callable[[Values], Values]:
    """A function from a run's values to its values with ``given`` set."""
    positions = [(_POSITION[name], value) for name, value in given.items()]
    prices = given.get("occupancy_prices") if merge_prices else None

    def update(values: Values) -> Values:
        new = list(values) if values is not None else [None] * len(STORED_COLUMNS)
        for position, value in positions:
            new[position] = value
        if prices is not None:
            held = (values[_OCCUPANCY] if values is not None else None) or {}
            merged = {**held, **prices}
            new[_OCCUPANCY] = dict(sorted(merged.items(), key=lambda pair: int(pair[0])))
        if all(new[position] is None for position in _VALUE_POSITIONS):
            # No value left: the provenance of nothing is nothing.
            return None
        return tuple(new)

    return update


def _extend(ranges: list[DateRange], start: date, end: date) -> None:
    if ranges and ranges[-1].end == start:
        ranges[-1] = DateRange(ranges[-1].start, end)
    else:
        ranges.append(DateRange(start, end))


def _folded(segments: Sequence[_Segment]) -> list[_Segment]:
    """The runs to store: neighbours with equal values as one, stretches without values out."""
    runs: list[_Segment] = []
    for segment in segments:
        if runs and runs[-1].end == segment.start and runs[-1].values == segment.values:
            runs[-1].end = segment.end
        else:
            runs.append(_Segment(segment.start, segment.end, segment.values))
    return [run for run in runs if run.values is not None]


def _row(plan_id: uuid.UUID, start: date, end: date, values: Values) -> dict[str, Any]:
    assert values is not None
    return {
        "rate_plan_id": plan_id,
        "start_date": start,
        "end_date": end,
        **dict(zip(STORED_COLUMNS, values, strict=True)),
    }
