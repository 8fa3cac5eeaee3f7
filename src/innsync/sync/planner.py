"""Pure outbound planning: from desired and acknowledged ARI to the fewest exact channel updates.

Semantics the worker and the tests rely on:

* Only stay dates inside the dirty ranges are looked at, and only dates present in the desired
  state (a date innsync has no value for is never sent). A full sync passes the whole horizon as
  dirty with an empty acknowledged state.
* A date is sent when its desired value differs from the acknowledged one. For rates on a channel
  that accepts partial updates only the differing fields are sent; otherwise the full values.
* A rate field that is ``None`` in the desired state means "innsync does not manage this field":
  it is never sent (channels reject nulls, and there is no neutral "unset" to send). To lift a
  restriction the desired state must carry its explicit "off" value (stop sell ``False``, min stay
  ``1``); when a field stops being managed, the channel keeps what it last had.
* Updates never overlap and each covers only changed dates, so their order does not matter.
  Runs of consecutive dates with equal values become one ranged update; when the channel
  understands weekday filters, a value's dates are also tried as weekday patterns (every date of
  the range on the chosen weekdays is a changed date with that value), and the pattern is used
  when it needs fewer updates.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Generic, TypeVar, overload

from innsync.channels.encoding import update_json_size
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    PushKind,
    PushRequest,
    RatePlanKey,
    RateUpdate,
    RateValues,
    UpdateT,
)
from innsync.stay_dates import ALL_WEEKDAYS, DateRange, merge_ranges, ranges_from_dates

V = TypeVar("V", bound=Hashable)

WEEK = timedelta(days=7)
# Room for a request's own wrapper around its entries (keys, brackets, ids); 256 bytes is well
# above the neutral envelope and small next to any channel's byte limit.
REQUEST_ENVELOPE_BYTES = 256
_NO_VALUES = RateValues()


class UpdateTooLargeError(ValueError):
    """A single update is larger than the channel accepts in a whole request."""


@dataclass(frozen=True, slots=True)
class PlannedEntry(Generic[V]):
    """One planned update before it is dressed as a channel update."""

    dates: DateRange
    weekdays: frozenset[int] | None
    value: V


def plan_availability(
    desired: Mapping[str, Mapping[date, int]],
    acked: Mapping[str, Mapping[date, int]],
    dirty: Sequence[DateRange],
    limits: ChannelLimits,
) -> list[AvailabilityUpdate]:
    """The availability updates that bring the channel from ``acked`` to ``desired``."""
    in_dirty = _dates_in(dirty)
    updates: list[AvailabilityUpdate] = []
    for code in sorted(desired):
        held = acked.get(code, {})
        changed = {
            day: units
            for day, units in desired[code].items()
            if day in in_dirty and held.get(day) != units
        }
        updates.extend(
            AvailabilityUpdate(code, entry.dates, entry.value, entry.weekdays)
            for entry in compress(changed, limits)
        )
    return updates


def plan_rates(
    desired: Mapping[RatePlanKey, Mapping[date, RateValues]],
    acked: Mapping[RatePlanKey, Mapping[date, RateValues]],
    dirty: Sequence[DateRange],
    limits: ChannelLimits,
) -> list[RateUpdate]:
    """The rate and restriction updates that bring the channel from ``acked`` to ``desired``."""
    in_dirty = _dates_in(dirty)
    updates: list[RateUpdate] = []
    for key in sorted(desired):
        held = acked.get(key, {})
        changed: dict[date, RateValues] = {}
        for day, values in desired[key].items():
            if day in in_dirty:
                payload = rate_payload(
                    values,
                    held.get(day),
                    partial=limits.accepts_partial_rates,
                    partial_occupancies=limits.accepts_partial_occupancy_prices,
                )
                if payload is not None:
                    changed[day] = payload
        room_type_code, rate_plan_code = key
        updates.extend(
            RateUpdate(room_type_code, rate_plan_code, entry.dates, entry.value, entry.weekdays)
            for entry in compress(changed, limits)
        )
    return updates


def rate_payload(
    desired: RateValues,
    acked: RateValues | None,
    *,
    partial: bool,
    partial_occupancies: bool = False,
) -> RateValues | None:
    """What to send for one date, or ``None`` when the channel already has it.

    ``partial_occupancies`` (with ``partial``): of a per-person price list, only the
    occupancies whose price differs from the acknowledged one are sent.
    """
    if partial:
        held = acked or _NO_VALUES
        fields = desired.fields() & desired.changed_fields(held)
        if not fields:
            return None
        payload = desired.only(fields)
        if partial_occupancies and "occupancy_prices" in fields:
            payload = payload.occupancy_prices_changed_from(held)
        return None if payload.is_empty else payload
    if desired.is_empty or desired == acked:
        return None
    return desired


def compress(changed: Mapping[date, V], limits: ChannelLimits) -> list[PlannedEntry[V]]:
    """Non-overlapping entries setting exactly ``changed``: minimal as runs, greedy as patterns."""
    if not limits.understands_ranges:
        return [PlannedEntry(DateRange.single(day), None, changed[day]) for day in sorted(changed)]
    dates_by_value: dict[V, set[date]] = {}
    for day, value in changed.items():
        dates_by_value.setdefault(value, set()).add(day)
    entries: list[PlannedEntry[V]] = []
    for value, days in dates_by_value.items():
        plain = _split_all(
            (PlannedEntry(run, None, value) for run in ranges_from_dates(days)),
            limits.max_days_per_entry,
        )
        if limits.understands_weekdays and len(plain) > 1:
            patterned = _split_all(_weekday_entries(days, value), limits.max_days_per_entry)
            if len(patterned) < len(plain):
                plain = patterned
        entries.extend(plain)
    entries.sort(key=lambda entry: (entry.dates, sorted(entry.weekdays or ALL_WEEKDAYS)))
    return entries


def _dates_in(dirty: Sequence[DateRange]) -> set[date]:
    return {day for dates in merge_ranges(dirty) for day in dates}


def _entry(first: date, last: date, weekdays: frozenset[int], value: V) -> PlannedEntry[V]:
    """An entry from ``first`` to ``last``; the filter is dropped when it excludes no date."""
    dates = DateRange.inclusive(first, last)
    present = {(first + timedelta(days=offset)).weekday() for offset in range(min(dates.nights, 7))}
    return PlannedEntry(dates, None if present <= weekdays else weekdays, value)


def _weekday_entries(days: set[date], value: V) -> list[PlannedEntry[V]]:
    """Cover ``days`` with weekday-filtered entries, greedily sharing ranges between weekdays.

    A weekly chain is a maximal run of same-weekday dates one week apart. Chains can share one
    entry when their first dates lie within one week and their last dates within one week: then
    every date of the shared range on their weekdays belongs to one of the chains.
    """
    remaining = [
        (first, _chain_end(first, days)) for first in sorted(days) if first - WEEK not in days
    ]
    entries: list[PlannedEntry[V]] = []
    while remaining:
        anchor_first, anchor_last = remaining[0]
        candidates = [chain for chain in remaining if chain[0] - anchor_first < WEEK]
        lows = sorted({last for _, last in candidates if timedelta(0) <= anchor_last - last < WEEK})
        group = max(
            ([chain for chain in candidates if low <= chain[1] < low + WEEK] for low in lows),
            key=len,
        )
        chosen = set(group)
        remaining = [chain for chain in remaining if chain not in chosen]
        weekdays = frozenset(first.weekday() for first, _ in group)
        entries.append(_entry(anchor_first, max(last for _, last in group), weekdays, value))
    return entries


def _chain_end(first: date, days: set[date]) -> date:
    last = first
    while last + WEEK in days:
        last += WEEK
    return last


def _split_all(entries: Iterable[PlannedEntry[V]], max_days: int | None) -> list[PlannedEntry[V]]:
    """Cut entries longer than the channel's ``max_days`` into pieces, dropping empty pieces."""
    pieces: list[PlannedEntry[V]] = []
    for entry in entries:
        if max_days is None or entry.dates.nights <= max_days:
            pieces.append(entry)
            continue
        weekdays = entry.weekdays or ALL_WEEKDAYS
        start = entry.dates.start
        while start < entry.dates.end:
            end = min(start + timedelta(days=max_days), entry.dates.end)
            covered = list(DateRange(start, end).dates_on(weekdays))
            if covered:
                pieces.append(_entry(covered[0], covered[-1], weekdays, entry.value))
            start = end
    return pieces


def batch_requests(
    updates: Sequence[UpdateT],
    limits: ChannelLimits,
    kind: PushKind,
    *,
    size_of: Callable[[UpdateT], int] = update_json_size,
    envelope_bytes: int = REQUEST_ENVELOPE_BYTES,
) -> list[PushRequest[UpdateT]]:
    """Pack updates into the fewest requests within the channel's entry and byte limits.

    Updates never overlap, so they may be regrouped freely; each request keeps them in plan order.
    Bytes are estimated as ``envelope_bytes`` plus each update's ``size_of`` and a separator.
    """
    if not updates:
        return []
    max_entries = limits.max_entries_per_request or len(updates)
    if limits.max_request_bytes is None:
        return [
            PushRequest(kind, tuple(updates[start : start + max_entries]))
            for start in range(0, len(updates), max_entries)
        ]
    budget = limits.max_request_bytes - envelope_bytes
    sizes = [size_of(update) + 1 for update in updates]
    for index, size in enumerate(sizes):
        if size > budget:
            raise UpdateTooLargeError(
                f"update {index} needs {size} bytes; a request may carry {budget}"
            )
    # First-fit decreasing: optimal for the entry limit alone, within 11/9 for bytes.
    bins: list[list[int]] = []
    used: list[int] = []
    for index in sorted(range(len(updates)), key=lambda i: -sizes[i]):
        for slot, members in enumerate(bins):
            if len(members) < max_entries and used[slot] + sizes[index] <= budget:
                members.append(index)
                used[slot] += sizes[index]
                break
        else:
            bins.append([index])
            used.append(sizes[index])
    ordered = sorted((sorted(members) for members in bins), key=lambda members: members[0])
    return [PushRequest(kind, tuple(updates[index] for index in members)) for members in ordered]


@overload
def apply_updates(
    acked: Mapping[str, Mapping[date, int]],
    updates: Iterable[AvailabilityUpdate],
    *,
    partial_rates: bool = True,
    partial_occupancies: bool = False,
) -> dict[str, dict[date, int]]: ...


@overload
def apply_updates(
    acked: Mapping[RatePlanKey, Mapping[date, RateValues]],
    updates: Iterable[RateUpdate],
    *,
    partial_rates: bool = True,
    partial_occupancies: bool = False,
) -> dict[RatePlanKey, dict[date, RateValues]]: ...


def apply_updates(
    acked: Mapping[Any, Mapping[date, Any]],
    updates: Iterable[AvailabilityUpdate] | Iterable[RateUpdate],
    *,
    partial_rates: bool = True,
    partial_occupancies: bool = False,
) -> dict[Any, dict[date, Any]]:
    """The acknowledged state after the channel accepted ``updates`` (the input is not changed).

    ``partial_rates`` says whether the channel keeps the fields a rate update leaves out
    (``ChannelLimits.accepts_partial_rates``) or resets them; ``partial_occupancies`` whether
    it keeps the occupancy prices a price list leaves out
    (``ChannelLimits.accepts_partial_occupancy_prices``).
    """
    state: dict[Any, dict[date, Any]] = {key: dict(days) for key, days in acked.items()}
    for update in updates:
        if isinstance(update, AvailabilityUpdate):
            days = state.setdefault(update.room_type_code, {})
            for day in update.covered_dates():
                days[day] = update.availability
            continue
        plan = state.setdefault(update.rate_plan, {})
        for day in update.covered_dates():
            held: RateValues | None = plan.get(day)
            if partial_rates and held is not None:
                plan[day] = held.updated_with(
                    update.values, merge_occupancy_prices=partial_occupancies
                )
            else:
                plan[day] = update.values
    return state
