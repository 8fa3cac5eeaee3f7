"""Pure translation between innsync's neutral ARI updates and Channex API v1 ``values`` entries.

Field names and formats follow channex.md §1.5: inclusive ``date`` / ``date_from``+``date_to``,
``days`` as ``mo``…``su``, rates as decimal strings, per-occupancy prices under ``rates``,
restriction names as innsync's own (Channex uses the same words). Channex answers a partly
refused call with HTTP 200 and echoes each refused entry in ``meta.warnings``; this module maps
those echoes back to the neutral entries they came from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from innsync.channels.channex.answers import RestrictionDay
from innsync.channels.types import AvailabilityUpdate, EntryResult, RateUpdate, RateValues
from innsync.stay_dates import WEEKDAY_NAMES, ranges_from_dates

CENT = Decimal("0.01")
# A call reaches Channex within its timeout (30 s by default) plus clock skew; two minutes covers
# both, and a date that ends that soon has nothing left to sell.
MIDNIGHT_MARGIN = timedelta(minutes=2)
# Restriction fields whose Channex name is innsync's own name (channex.md §1.5 table).
SAME_NAME_FIELDS = (
    "min_stay_arrival",
    "min_stay_through",
    "max_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
)
# What a read asks GET /restrictions for: every writable field innsync manages (§1.5).
READ_FIELDS = ("rate", *SAME_NAME_FIELDS)
# The fields that tell which change a warning echoes; values and nulls may be echoed differently.
_IDENTITY_FIELDS = (
    "property_id",
    "rate_plan_id",
    "room_type_id",
    "date",
    "date_from",
    "date_to",
    "days",
)
ChannexValue = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutgoingValues:
    """One request as Channex ``values``, the neutral entry of each, and what was left out."""

    values: tuple[ChannexValue, ...]
    origins: tuple[int, ...]
    notes: tuple[str, ...] = ()
    cut: tuple[int, ...] = ()
    """Entries sent without their past dates: the channel never holds those."""


def money(amount: Decimal) -> str:
    """A rate as Channex's decimal string ("200.00"), never rounded by innsync.

    More precision than cents is sent as it is, so Channex refuses it (an entry warning) instead
    of a price silently changing on the way.
    """
    cents = amount.quantize(CENT)
    return str(cents) if cents == amount else format(amount, "f")


def stay_date_fields(first: date, last: date) -> ChannexValue:
    """``date`` for one night, else the inclusive ``date_from``/``date_to`` pair."""
    if first == last:
        return {"date": first.isoformat()}
    return {"date_from": first.isoformat(), "date_to": last.isoformat()}


def restriction_fields(values: RateValues) -> ChannexValue:
    """The set fields of ``values`` under their Channex names; unset fields are left out.

    ``min_advance`` and ``max_advance`` have no Channex field (channex.md §1.5 lists none), so
    they are never sent.
    """
    fields: ChannexValue = {}
    if values.price is not None:
        fields["rate"] = money(values.price)
    if values.occupancy_prices is not None:
        fields["rates"] = [
            {"occupancy": occupancy, "rate": money(amount)}
            for occupancy, amount in values.occupancy_prices
        ]
    for name in SAME_NAME_FIELDS:
        value = getattr(values, name)
        if value is not None:
            fields[name] = value
    return fields


def open_dates(update: AvailabilityUpdate | RateUpdate, first_open: date) -> list[date]:
    # channex.md §1.5: "past dates are not allowed"; an entry that starts in the past is refused
    # whole, so the past part of a range is cut off before it is sent.
    return [day for day in update.covered_dates() if day >= first_open]


def restriction_value(
    update: RateUpdate, property_id: str, first_open: date
) -> ChannexValue | None:
    """One POST /restrictions entry, or ``None`` when nothing of it can go to Channex."""
    fields = restriction_fields(update.values)
    days = open_dates(update, first_open)
    if not fields or not days:
        return None
    value: ChannexValue = {
        "property_id": property_id,
        "rate_plan_id": update.rate_plan_code,
        **stay_date_fields(days[0], days[-1]),
    }
    if update.weekdays is not None and len(days) > 1:
        value["days"] = [WEEKDAY_NAMES[weekday] for weekday in sorted(update.weekdays)]
    value.update(fields)
    return value


def availability_values(
    update: AvailabilityUpdate, property_id: str, first_open: date
) -> list[ChannexValue]:
    """POST /availability entries for one update: one per run of consecutive dates.

    channex.md §1.5 documents ``days`` for restrictions only, so a weekday-filtered availability
    update is spelled out as the date ranges it covers.
    """
    return [
        {
            "property_id": property_id,
            "room_type_id": update.room_type_code,
            **stay_date_fields(run.start, run.last),
            "availability": update.availability,
        }
        for run in ranges_from_dates(open_dates(update, first_open))
    ]


def _note(indexes: Sequence[int], why: str) -> tuple[str, ...]:
    if not indexes:
        return ()
    shown = ", ".join(str(index) for index in indexes[:10])
    more = f" and {len(indexes) - 10} more" if len(indexes) > 10 else ""
    return (f"entries {shown}{more}: {why}",)


def _past_only(updates: Sequence[AvailabilityUpdate | RateUpdate], first_open: date) -> list[int]:
    return [index for index, update in enumerate(updates) if not open_dates(update, first_open)]


def _partly_past(
    updates: Sequence[AvailabilityUpdate | RateUpdate], first_open: date
) -> tuple[int, ...]:
    return tuple(
        index
        for index, update in enumerate(updates)
        if update.dates.start < first_open and open_dates(update, first_open)
    )


def restrictions_request(
    updates: Sequence[RateUpdate], property_id: str, first_open: date
) -> OutgoingValues:
    """The ``values`` of one POST /restrictions call for ``updates``, in their order."""
    values: list[ChannexValue] = []
    origins: list[int] = []
    for index, update in enumerate(updates):
        value = restriction_value(update, property_id, first_open)
        if value is not None:
            values.append(value)
            origins.append(index)
    advance = [
        index
        for index, update in enumerate(updates)
        if update.values.min_advance or update.values.max_advance
    ]
    notes = _note(_past_only(updates, first_open), "past dates only; Channex takes none") + _note(
        advance, "min/max advance not sent; Channex API v1 has no such restriction"
    )
    return OutgoingValues(tuple(values), tuple(origins), notes, _partly_past(updates, first_open))


def availability_request(
    updates: Sequence[AvailabilityUpdate], property_id: str, first_open: date
) -> OutgoingValues:
    """The ``values`` of one POST /availability call for ``updates``, in their order."""
    values: list[ChannexValue] = []
    origins: list[int] = []
    for index, update in enumerate(updates):
        for value in availability_values(update, property_id, first_open):
            values.append(value)
            origins.append(index)
    notes = _note(_past_only(updates, first_open), "past dates only; Channex takes none")
    return OutgoingValues(tuple(values), tuple(origins), notes, _partly_past(updates, first_open))


def describe_warning(warning: Mapping[str, Any]) -> str:
    """Why Channex refused an echoed entry: its ``warning`` object as ``field: messages``."""
    detail = warning.get("warning")
    if isinstance(detail, Mapping) and detail:
        return "; ".join(
            f"{field}: {', '.join(map(str, messages)) if isinstance(messages, list) else messages}"
            for field, messages in detail.items()
        )
    if detail:
        return str(detail)
    return "refused by Channex"


def _echoed_position(
    warning: Mapping[str, Any], values: Sequence[ChannexValue], taken: set[int]
) -> int | None:
    """The sent value a warning echoes: the first one not yet matched with the same identity."""
    for position, value in enumerate(values):
        if position not in taken and all(
            warning.get(name) == value.get(name) for name in _IDENTITY_FIELDS
        ):
            return position
    return None


@dataclass(frozen=True, slots=True)
class MatchedWarnings:
    """Channex's warnings placed on the neutral entries they echo, and those matching none."""

    reasons: Mapping[int, tuple[str, ...]]
    unplaced: tuple[str, ...]


def match_warnings(
    outgoing: OutgoingValues, warnings: Iterable[Mapping[str, Any]]
) -> MatchedWarnings:
    """Each warning on the first sent value it echoes that no earlier warning took."""
    reasons: dict[int, list[str]] = {}
    taken: set[int] = set()
    unplaced: list[str] = []
    for warning in warnings:
        position = _echoed_position(warning, outgoing.values, taken)
        if position is None:
            unplaced.append(describe_warning(warning))
            continue
        taken.add(position)
        reasons.setdefault(outgoing.origins[position], []).append(describe_warning(warning))
    return MatchedWarnings(
        {origin: tuple(found) for origin, found in reasons.items()}, tuple(unplaced)
    )


def entry_results(
    entry_count: int,
    outgoing: OutgoingValues,
    warnings: Iterable[Mapping[str, Any]],
    *,
    is_nothing_accepted: bool = False,
    verified: Collection[int] = (),
) -> tuple[EntryResult, ...]:
    """Per neutral entry, what Channex did: refused when any of its values came back as a warning.

    ``is_nothing_accepted`` is Channex's empty ``data`` (no task: every entry refused). Entries
    not sent (past dates only, nothing Channex holds) or sent without their past dates are not
    refused but marked not ``sent``: nothing of them is acknowledged. A warning
    that echoes no sent value cannot be placed, so no entry of the call is known to be accepted:
    every sent entry is refused with it, except those in ``verified`` (entries no warning names
    and whose values a read-back found on Channex).
    """
    matched = match_warnings(outgoing, warnings)
    reasons = {origin: list(found) for origin, found in matched.reasons.items()}
    if matched.unplaced or is_nothing_accepted:
        # Calling an entry accepted without proof could leave the channel silently different.
        fallback = "; ".join(matched.unplaced) or "Channex accepted no entry of the call"
        for origin in outgoing.origins:
            if is_nothing_accepted or origin not in verified:
                reasons.setdefault(origin, [fallback])
    sent = set(outgoing.origins) - set(outgoing.cut)
    return tuple(
        EntryResult(index, accepted=False, reason="; ".join(reasons[index]))
        if index in reasons
        else EntryResult(index, accepted=True, sent=index in sent)
        for index in range(entry_count)
    )


def shows_rate_values(values: RateValues, shown: Sequence[RestrictionDay]) -> bool:
    """Whether Channex shows every field ``values`` sets on each of the ``shown`` dates.

    A per-occupancy price list cannot be checked (a read shows the primary occupancy's rate
    only), so such values never count as shown.
    """
    if values.occupancy_prices is not None or not shown:
        return False
    for day in shown:
        if values.price is not None and day.rate != values.price:
            return False
        if any(
            getattr(values, name) is not None and getattr(day, name) != getattr(values, name)
            for name in SAME_NAME_FIELDS
        ):
            return False
    return True


def rate_values_from_channex(day: RestrictionDay, *, is_per_person: bool) -> RateValues:
    """What GET /restrictions shows for one date, as neutral values.

    GET returns one ``rate``: the primary occupancy's. For a per-person plan that is not the
    whole price list, so no price is reported rather than a partial one. Channex has no advance
    booking restriction, which is innsync's "off" (0).
    """
    return RateValues(
        price=None if is_per_person else day.rate,
        min_stay_arrival=day.min_stay_arrival,
        min_stay_through=day.min_stay_through,
        max_stay=day.max_stay,
        closed_to_arrival=day.closed_to_arrival,
        closed_to_departure=day.closed_to_departure,
        stop_sell=day.stop_sell,
        min_advance=0,
        max_advance=0,
    )


def property_zone(name: str | None) -> tzinfo:
    """The property's timezone (channex.md §1.4 ``timezone``); UTC when unset or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def first_open_date(now: datetime, zone: tzinfo) -> date:
    """The first stay date Channex takes: today in the property's timezone.

    Just before midnight, today is treated as already past: an entry starting today that reached
    Channex after midnight would be refused whole, range and all.
    """
    return (now + MIDNIGHT_MARGIN).astimezone(zone).date()
