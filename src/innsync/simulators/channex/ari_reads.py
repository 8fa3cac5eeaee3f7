"""Effective ARI per stay date: pushed values, plan defaults and inheritance (§1.4, §1.5)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from innsync.simulators.channex.money import CENT, format_amount
from innsync.simulators.channex.state import Record, SimulatorState

# §1.5: the restriction names GET /restrictions accepts in `filter[restrictions]`.
READABLE = (
    "availability",
    "rate",
    "min_stay_arrival",
    "min_stay_through",
    "min_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
    "max_stay",
    "availability_offset",
    "max_availability",
)
_INHERITED = {
    "closed_to_arrival": "inherit_closed_to_arrival",
    "closed_to_departure": "inherit_closed_to_departure",
    "stop_sell": "inherit_stop_sell",
    "min_stay_arrival": "inherit_min_stay_arrival",
    "min_stay_through": "inherit_min_stay_through",
    "max_stay": "inherit_max_stay",
}
# A guard against a parent chain that loops; Channex forbids nothing here that we know of.
MAX_PARENT_DEPTH = 10


def room_availability(state: SimulatorState, room_type_id: str, stay_date: date) -> int:
    """Availability of a room type; §1.4: a new room type starts at 0."""
    room_type = state.room_types[room_type_id]
    property_id = room_type.attributes["property_id"]
    max_day_advance = state.properties[property_id].attributes["settings"]["max_day_advance"]
    # §1.4: max_day_advance overwrites availability with 0 beyond N days.
    horizon = None if max_day_advance is None else timedelta(days=max_day_advance)
    if horizon is not None and stay_date > state.today_at(property_id) + horizon:
        return 0
    return state.availability.get(room_type_id, {}).get(stay_date, 0)


def _parent(state: SimulatorState, plan: Record, flag: str, depth: int) -> Record | None:
    parent_id = plan.attributes["parent_rate_plan_id"]
    if parent_id is None or depth >= MAX_PARENT_DEPTH or not plan.attributes.get(flag):
        return None
    return state.rate_plans.get(parent_id)


def _option(plan: Record, occupancy: int | None) -> dict[str, Any]:
    options: list[dict[str, Any]] = plan.attributes["options"]
    for option in options:
        if option["occupancy"] == occupancy:
            return option
    return next(o for o in options if o["is_primary"])


def _derive(base: Decimal, rules: list[list[str]]) -> Decimal:
    """§1.4: derived rules apply from left to right."""
    amount = base
    for operator, raw in rules:
        value = Decimal(raw)
        if operator == "increase_by_amount":
            amount += value
        elif operator == "decrease_by_amount":
            amount -= value
        elif operator == "increase_by_percent":
            amount += amount * value / 100
        else:
            amount -= amount * value / 100
    return max(amount, Decimal(0)).quantize(CENT)


def rate(
    state: SimulatorState,
    plan: Record,
    stay_date: date,
    occupancy: int | None = None,
    depth: int = 0,
) -> Decimal:
    """The rate of one occupancy option (the primary one by default) on one stay date."""
    option = _option(plan, occupancy)
    parent = _parent(state, plan, "inherit_rate", depth)
    if parent is not None:
        rules = (option.get("derived_option") or {}).get("rate", [])
        parent_rate = rate(state, parent, stay_date, option["occupancy"], depth + 1)
        return _derive(parent_rate, rules)
    day = state.restrictions.get(plan.id, {}).get(stay_date)
    if day is not None and option["occupancy"] in day.rates:
        return day.rates[option["occupancy"]]
    return Decimal(option["rate"])


def restriction(
    state: SimulatorState, plan: Record, stay_date: date, name: str, depth: int = 0
) -> int | bool:
    """One restriction on one stay date: pushed, inherited, or the plan's default for new dates."""
    parent = _parent(state, plan, _INHERITED[name], depth)
    if parent is not None:
        return restriction(state, parent, stay_date, name, depth + 1)
    day = state.restrictions.get(plan.id, {}).get(stay_date)
    pushed = getattr(day, name) if day is not None else None
    if pushed is not None:
        value: int | bool = pushed
        return value
    # §1.4: a default is one value or seven weekday values.
    default = plan.attributes[name]
    if isinstance(default, list):
        chosen: int | bool = default[stay_date.weekday()] if len(default) == 7 else default[0]
        return chosen
    single: int | bool = default
    return single


def read_value(state: SimulatorState, plan: Record, stay_date: date, name: str) -> Any:
    """A value as GET /restrictions shows it (rates as decimal strings, §1.5)."""
    if name == "rate":
        return format_amount(rate(state, plan, stay_date))
    if name == "availability":
        # §1.5: rate plan availability is derived from its room type's.
        return room_availability(state, plan.attributes["room_type_id"], stay_date)
    if name == "availability_offset":
        return 0
    if name == "max_availability":
        return None
    if name == "min_stay":
        settings = state.properties[plan.attributes["property_id"]].attributes["settings"]
        kind = settings["min_stay_type"]
        if kind in ("arrival", "through"):
            return restriction(state, plan, stay_date, f"min_stay_{kind}")
        # With `both` the stricter of the two is what a guest meets.
        return max(
            int(restriction(state, plan, stay_date, "min_stay_arrival")),
            int(restriction(state, plan, stay_date, "min_stay_through")),
        )
    return restriction(state, plan, stay_date, name)


def full_day(state: SimulatorState, plan: Record, stay_date: date) -> dict[str, Any]:
    """Every effective value of a rate plan on one date, rates per occupancy included."""
    values = {name: read_value(state, plan, stay_date, name) for name in READABLE}
    values["rates"] = [
        {
            "occupancy": o["occupancy"],
            "rate": format_amount(rate(state, plan, stay_date, o["occupancy"])),
        }
        for o in plan.attributes["options"]
    ]
    return values
