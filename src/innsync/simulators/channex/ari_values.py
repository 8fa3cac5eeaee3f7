"""Reading and applying the `values` of POST /restrictions and POST /availability (§1.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from innsync.simulators.channex.errors import BLANK, INVALID, NOT_FOUND_MESSAGE, FieldErrors
from innsync.simulators.channex.money import parse_amount
from innsync.simulators.channex.state import DayRestrictions, SimulatorState
from innsync.stay_dates import WEEKDAY_NAMES, DateRange

# §1.5: a field sent as null is refused with exactly this message.
NULL_MESSAGE = "Should be a non null value or not existed field"
RESTRICTION_FIELDS = (
    "rate",
    "rates",
    "min_stay_arrival",
    "min_stay_through",
    "min_stay",
    "max_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
)
_DATE_FIELDS = ("date", "date_from", "date_to", "days")
# §1.5: a warning echoes the rejected change with all its fields, nulls included.
RESTRICTION_ECHO = ("property_id", "rate_plan_id", *_DATE_FIELDS, *RESTRICTION_FIELDS)
AVAILABILITY_ECHO = ("property_id", "room_type_id", *_DATE_FIELDS, "availability")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Not a Channex limit: it keeps one absurd range from filling the simulator's memory.
MAX_RANGE_DAYS = 3650


@dataclass(frozen=True, slots=True)
class RestrictionChange:
    """One accepted restrictions entry, expanded to its stay dates."""

    rate_plan_id: str
    stay_dates: tuple[date, ...]
    rates: dict[int, Decimal]
    values: dict[str, int | bool]


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    """One accepted availability entry, expanded to its stay dates."""

    room_type_id: str
    stay_dates: tuple[date, ...]
    availability: int


@dataclass(slots=True)
class Parsed:
    """The entries of one call: accepted changes in message order, and the warnings."""

    restrictions: list[RestrictionChange] = field(default_factory=list)
    availability: list[AvailabilityChange] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def known_property_ids(state: SimulatorState, values: list[Any]) -> set[str]:
    """The existing properties named by a call's entries (what the §1.3 limit counts)."""
    return {
        v["property_id"]
        for v in values
        if isinstance(v, dict) and isinstance(v.get("property_id"), str)
        if v["property_id"] in state.properties
    }


def _warning(entry: Any, echo: tuple[str, ...], errors: FieldErrors) -> dict[str, Any]:
    body = entry if isinstance(entry, dict) else {"value": entry}
    return {**{f: body.get(f) for f in echo}, **body, "warning": errors}


def _parse_date(value: Any, name: str, errors: FieldErrors) -> date | None:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors.setdefault(name, []).append(INVALID)  # shaped like a date, yet no such day
            return None
    errors.setdefault(name, []).append(INVALID)
    return None


def _stay_dates(
    state: SimulatorState, entry: dict[str, Any], property_id: str | None, errors: FieldErrors
) -> tuple[date, ...]:
    """The dates an entry covers: `date` or the inclusive `date_from`..`date_to`, then `days`."""
    if "date" in entry and ("date_from" in entry or "date_to" in entry):
        errors.setdefault("date", []).append("can't be combined with date_from and date_to")
        return ()
    if "date" in entry:
        first = last = _parse_date(entry["date"], "date", errors)
    elif "date_from" in entry or "date_to" in entry:
        first = _parse_date(entry.get("date_from"), "date_from", errors)
        last = _parse_date(entry.get("date_to"), "date_to", errors)
    else:
        errors.setdefault("date", []).append(BLANK)
        return ()
    weekdays = set(range(7))
    if "days" in entry:
        days = entry["days"]
        if not isinstance(days, list) or not days or any(d not in WEEKDAY_NAMES for d in days):
            errors.setdefault("days", []).append(INVALID)
            return ()
        weekdays = {WEEKDAY_NAMES.index(d) for d in days}
    if first is None or last is None:
        return ()
    if last < first:
        errors.setdefault("date_to", []).append("must be greater than or equal to date_from")
        return ()
    if (last - first).days >= MAX_RANGE_DAYS:
        errors.setdefault("date_to", []).append(f"range must be under {MAX_RANGE_DAYS} days")
        return ()
    # §1.5 "past dates are not allowed"; PART 3 #4 leaves the newer rule open.
    is_checked = property_id is not None and state.config.past_dates == "reject"
    if is_checked and property_id is not None and first < state.today_at(property_id):
        errors.setdefault("date" if "date" in entry else "date_from", []).append(
            "must be today or later"
        )
        return ()
    return tuple(DateRange.inclusive(first, last).dates_on(weekdays))


def _owned(
    state: SimulatorState, entry: dict[str, Any], id_field: str, errors: FieldErrors
) -> tuple[str | None, str | None]:
    """The entry's property id and its rate plan or room type id, when both exist together."""
    property_id = entry.get("property_id")
    entity_id = entry.get(id_field)
    table = state.rate_plans if id_field == "rate_plan_id" else state.room_types
    if property_id is None:
        errors.setdefault("property_id", []).append(BLANK)
    elif property_id not in state.properties:
        errors.setdefault("property_id", []).append(NOT_FOUND_MESSAGE)
        property_id = None
    if entity_id is None:
        errors.setdefault(id_field, []).append(BLANK)
    elif not isinstance(entity_id, str) or entity_id not in table:
        errors.setdefault(id_field, []).append(NOT_FOUND_MESSAGE)
        entity_id = None
    elif table[entity_id].attributes["property_id"] != property_id:
        errors.setdefault(id_field, []).append("does not belong to the property")
        entity_id = None
    return property_id, entity_id


def _nulls(entry: dict[str, Any], errors: FieldErrors) -> None:
    for name, value in entry.items():
        if value is None:
            errors.setdefault(name, []).append(NULL_MESSAGE)


def _restriction_fields(
    state: SimulatorState, entry: dict[str, Any], rate_plan_id: str | None, errors: FieldErrors
) -> tuple[dict[int, Decimal], dict[str, int | bool]]:
    rates: dict[int, Decimal] = {}
    values: dict[str, int | bool] = {}
    plan = state.rate_plans[rate_plan_id].attributes if rate_plan_id else None
    occupancies = [o["occupancy"] for o in plan["options"]] if plan else []
    primary = next((o["occupancy"] for o in plan["options"] if o["is_primary"]), 0) if plan else 0
    if entry.get("rate") is not None:
        amount = parse_amount(entry["rate"])
        if amount is None:
            errors.setdefault("rate", []).append(INVALID)
        elif amount <= 0:
            errors.setdefault("rate", []).append("must be greater than 0")
        else:
            rates[primary] = amount  # a single rate prices the plan's primary option
    if isinstance(entry.get("rates"), list):
        for item in entry["rates"]:
            occupancy = item.get("occupancy") if isinstance(item, dict) else None
            amount = parse_amount(item.get("rate")) if isinstance(item, dict) else None
            if amount is None or amount <= 0 or not isinstance(occupancy, int):
                errors.setdefault("rates", []).append(INVALID)
            elif plan is not None and occupancy not in occupancies:
                errors.setdefault("rates", []).append(f"occupancy {occupancy} is not an option")
            else:
                rates[occupancy] = amount
    elif entry.get("rates") is not None:
        errors.setdefault("rates", []).append(INVALID)
    for name, minimum in (("min_stay_arrival", 1), ("min_stay_through", 1), ("max_stay", 0)):
        value = entry.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors.setdefault(name, []).append(INVALID)
        elif value < minimum:
            errors.setdefault(name, []).append(f"must be greater than or equal to {minimum}")
        else:
            values[name] = value
    if entry.get("min_stay") is not None:
        _virtual_min_stay(state, entry, plan, values, errors)
    for name in ("closed_to_arrival", "closed_to_departure", "stop_sell"):
        value = entry.get(name)
        if value is None:
            continue
        # §1.5: booleans, with 0 and 1 also accepted.
        if value in (0, 1) and not isinstance(value, float):
            values[name] = bool(value)
        else:
            errors.setdefault(name, []).append(INVALID)
    return rates, values


def _virtual_min_stay(
    state: SimulatorState,
    entry: dict[str, Any],
    plan: dict[str, Any] | None,
    values: dict[str, int | bool],
    errors: FieldErrors,
) -> None:
    """§1.5: `min_stay` is allowed only when the property's min_stay_type is not `both`."""
    value = entry["min_stay"]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault("min_stay", []).append(INVALID)
        return
    if value < 1:
        errors.setdefault("min_stay", []).append("must be greater than or equal to 1")
        return
    if plan is None:
        return
    settings = state.properties[plan["property_id"]].attributes["settings"]
    if settings["min_stay_type"] == "both":
        errors.setdefault("min_stay", []).append("is not allowed when min_stay_type is both")
        return
    # An explicit min_stay_arrival / min_stay_through in the same entry is more specific.
    values.setdefault(f"min_stay_{settings['min_stay_type']}", value)


def parse_restrictions(state: SimulatorState, entries: list[Any]) -> Parsed:
    """Validate every entry; good ones become changes, bad ones warnings (§1.5)."""
    parsed = Parsed()
    for entry in entries:
        errors: FieldErrors = {}
        if not isinstance(entry, dict):
            parsed.warnings.append(_warning(entry, RESTRICTION_ECHO, {"value": [INVALID]}))
            continue
        _nulls(entry, errors)
        property_id, rate_plan_id = _owned(state, entry, "rate_plan_id", errors)
        stay_dates = _stay_dates(state, entry, property_id, errors)
        rates, values = _restriction_fields(state, entry, rate_plan_id, errors)
        if not any(entry.get(name) not in (None, []) for name in RESTRICTION_FIELDS):
            errors.setdefault("restrictions", []).append("at least one should be present")
        if errors or rate_plan_id is None:
            parsed.warnings.append(_warning(entry, RESTRICTION_ECHO, errors))
            continue
        parsed.restrictions.append(RestrictionChange(rate_plan_id, stay_dates, rates, values))
    return parsed


def parse_availability(state: SimulatorState, entries: list[Any]) -> Parsed:
    """Validate every availability entry, as for restrictions (§1.5)."""
    parsed = Parsed()
    for entry in entries:
        errors: FieldErrors = {}
        if not isinstance(entry, dict):
            parsed.warnings.append(_warning(entry, AVAILABILITY_ECHO, {"value": [INVALID]}))
            continue
        _nulls(entry, errors)
        property_id, room_type_id = _owned(state, entry, "room_type_id", errors)
        if "days" in entry:
            # §1.5 documents `days` for restrictions only; refusing it here keeps a client from
            # believing a weekday filter narrowed an availability write.
            errors.setdefault("days", []).append("is not allowed")
        stay_dates = _stay_dates(state, entry, property_id, errors)
        availability = entry.get("availability")
        if availability is None:
            errors.setdefault("availability", []).append(BLANK)
        elif isinstance(availability, bool) or not isinstance(availability, int):
            errors.setdefault("availability", []).append(INVALID)
        elif availability < 0:
            errors.setdefault("availability", []).append("must be greater than or equal to 0")
        if errors or room_type_id is None or not isinstance(availability, int):
            parsed.warnings.append(_warning(entry, AVAILABILITY_ECHO, errors))
            continue
        parsed.availability.append(AvailabilityChange(room_type_id, stay_dates, availability))
    return parsed


def apply(state: SimulatorState, parsed: Parsed) -> None:
    """Apply accepted changes in message order, so the last one wins (§1.5)."""
    for change in parsed.restrictions:
        calendar = state.restrictions.setdefault(change.rate_plan_id, {})
        for stay_date in change.stay_dates:
            day = calendar.setdefault(stay_date, DayRestrictions())
            day.rates.update(change.rates)
            for name, value in change.values.items():
                setattr(day, name, value)
    for availability_change in parsed.availability:
        counts = state.availability.setdefault(availability_change.room_type_id, {})
        for stay_date in availability_change.stay_dates:
            counts[stay_date] = availability_change.availability
