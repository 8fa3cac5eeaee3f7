"""Validation and defaults for groups, properties, room types and rate plans (§1.4)."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from innsync.simulators.channex.checks import Checker, merged
from innsync.simulators.channex.errors import (
    BLANK,
    INVALID,
    NOT_FOUND_MESSAGE,
)
from innsync.simulators.channex.money import format_amount, parse_amount
from innsync.simulators.channex.policies import check_policy_link
from innsync.simulators.channex.state import Record, SimulatorState

# §1.4 property_type values.
PROPERTY_TYPES = frozenset(
    [
        "apart_hotel",
        "apartment",
        "boat",
        "camping",
        "capsule_hotel",
        "chalet",
        "country_house",
        "farm_stay",
        "guest_house",
        "holiday_home",
        "holiday_park",
        "homestay",
        "hostel",
        "hotel",
        "inn",
        "lodge",
        "motel",
        "resort",
        "riad",
        "ryokan",
        "tent",
        "villa",
    ]
)
# §1.4 meal_type values (the vendor's spelling of "carribean" kept).
MEAL_TYPES = frozenset(
    [
        "none",
        "all_inclusive",
        "breakfast",
        "lunch",
        "dinner",
        "american",
        "bed_and_breakfast",
        "buffet_breakfast",
        "carribean_breakfast",
        "continental_breakfast",
        "english_breakfast",
        "european_plan",
        "family_plan",
        "full_board",
        "full_breakfast",
        "half_board",
        "room_only",
        "self_catering",
        "bermuda",
        "dinner_bed_and_breakfast_plan",
        "family_american",
        "breakfast_and_lunch",
        "lunch_and_dinner",
    ]
)
INHERIT_FLAGS = (
    "inherit_rate",
    "inherit_closed_to_arrival",
    "inherit_closed_to_departure",
    "inherit_stop_sell",
    "inherit_min_stay_arrival",
    "inherit_min_stay_through",
    "inherit_max_stay",
    "inherit_max_sell",
    "inherit_max_availability",
    "inherit_availability_offset",
)
DERIVED_OPERATORS = frozenset(
    ("increase_by_amount", "increase_by_percent", "decrease_by_amount", "decrease_by_percent")
)
# §1.3: per-person rates go up to occupancy 18.
MAX_OCCUPANCY = 18
_CUT_OFF_TIME = re.compile(r"^([01]\d|2[0-3]):(00|30):00$")


def group_attributes(body: dict[str, Any], existing: Record | None) -> dict[str, Any]:
    check = merged(body, existing, ())
    title = check.text("title", required=True)
    check.done()
    return {"title": title}


def _settings(value: Any, default_min_stay_type: str, check: Checker) -> dict[str, Any]:
    settings: dict[str, Any] = {
        # The docs give recommended values, not defaults; the simulator changes availability on
        # its own only when a test asks for it.
        "allow_availability_autoupdate_on_confirmation": False,
        "allow_availability_autoupdate_on_modification": False,
        "allow_availability_autoupdate_on_cancellation": False,
        "min_stay_type": default_min_stay_type,
        "min_price": None,
        "max_price": None,
        "state_length": 500,  # the §1.4 example value
        "cut_off_time": "00:00:00",
        "cut_off_days": 0,
        "max_day_advance": None,
    }
    if value is None:
        return settings
    if not isinstance(value, dict):
        check.add("settings", INVALID)
        return settings
    inner = Checker({**settings, **value})
    for flag in [k for k in settings if k.startswith("allow_")]:
        settings[flag] = inner.boolean(flag, False)
    settings["min_stay_type"] = inner.choice(
        "min_stay_type", frozenset(("both", "arrival", "through")), default_min_stay_type
    )
    settings["state_length"] = inner.integer("state_length", minimum=100, maximum=730)
    settings["cut_off_days"] = inner.integer("cut_off_days", minimum=0)
    settings["max_day_advance"] = inner.integer("max_day_advance", minimum=0)
    cut_off = inner.data.get("cut_off_time")
    if not isinstance(cut_off, str) or not _CUT_OFF_TIME.match(cut_off):
        inner.add("cut_off_time", INVALID)  # §1.4: "HH:MM:SS" in 30-minute steps
    settings["cut_off_time"] = cut_off
    for bound in ("min_price", "max_price"):
        raw = inner.data.get(bound)
        amount = None if raw is None else parse_amount(raw)
        if raw is not None and amount is None:
            inner.add(bound, INVALID)
        settings[bound] = None if amount is None else format_amount(amount)
    for field, messages in inner.errors.items():
        for message in messages:
            check.add(f"settings.{field}", message)
    return settings


def property_attributes(
    state: SimulatorState, body: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    check = merged(body, existing, ())
    attributes: dict[str, Any] = {
        "title": check.text("title", required=True),
        "currency": check.text("currency", required=True),
        "email": check.text("email"),
        "phone": check.text("phone", max_length=32),
        "zip_code": check.text("zip_code"),
        "country": check.text("country"),
        "state": check.text("state"),
        "city": check.text("city"),
        "address": check.text("address"),
        "longitude": check.text("longitude"),
        "latitude": check.text("latitude"),
        "timezone": check.text("timezone"),
        "property_type": check.choice("property_type", PROPERTY_TYPES, "hotel"),
        "facilities": check.data.get("facilities") or [],
        "content": check.data.get("content") or {},
        "logo_url": check.text("logo_url", max_length=2048),
        "website": check.text("website", max_length=2048),
        "group_id": check.data.get("group_id"),
        "is_active": True,
        "acc_channels_count": 0,
    }
    currency = attributes["currency"]
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        check.add("currency", INVALID)  # ISO 4217
    country = attributes["country"]
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        check.add("country", INVALID)  # ISO 3166 alpha-2
    if attributes["timezone"] is not None:
        try:
            ZoneInfo(attributes["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            check.add("timezone", INVALID)
    group_id = attributes["group_id"]
    if group_id is not None and group_id not in state.groups:
        check.add("group_id", NOT_FOUND_MESSAGE)
    previous = existing.attributes["settings"] if existing else None
    raw_settings = body.get("settings")
    if previous is not None and isinstance(raw_settings, dict):
        raw_settings = {**previous, **raw_settings}
    attributes["settings"] = (
        previous
        if previous is not None and raw_settings is None
        else _settings(raw_settings, state.config.default_min_stay_type, check)
    )
    check.done()
    return attributes


def room_type_attributes(
    state: SimulatorState, body: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    check = merged(body, existing, ("property_id",))
    property_id = check.text("property_id", required=True)
    if property_id is not None and property_id not in state.properties:
        check.add("property_id", NOT_FOUND_MESSAGE)
    occ_adults = check.integer("occ_adults", required=True, minimum=1, maximum=MAX_OCCUPANCY)
    default_occupancy = check.integer("default_occupancy", required=True, minimum=1)
    if occ_adults is not None and default_occupancy is not None and default_occupancy > occ_adults:
        check.add("default_occupancy", f"must be less than or equal to {occ_adults}")
    room_kind = check.choice("room_kind", frozenset(("room", "dorm")), "room")
    attributes = {
        "property_id": property_id,
        "title": check.text("title", required=True),
        "count_of_rooms": check.integer("count_of_rooms", required=True, minimum=1),
        "occ_adults": occ_adults,
        "occ_children": check.integer("occ_children", required=True, minimum=0),
        "occ_infants": check.integer("occ_infants", required=True, minimum=0),
        "default_occupancy": default_occupancy,
        "facilities": check.data.get("facilities") or [],
        "room_kind": room_kind,
        # §1.4: capacity applies to dorms only.
        "capacity": check.integer("capacity", minimum=1) if room_kind == "dorm" else None,
        "content": check.data.get("content") or {},
    }
    check.done()
    return attributes


def _derived_option(value: Any, field: str, check: Checker) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        check.add(field, INVALID)
        return None
    for target, rules in value.items():
        if not isinstance(rules, list):
            check.add(field, INVALID)
            continue
        for rule in rules:
            is_pair = isinstance(rule, list) and len(rule) == 2
            if not is_pair or rule[0] not in DERIVED_OPERATORS or parse_amount(rule[1]) is None:
                check.add(field, INVALID)
            elif target != "rate" and rule[0].endswith("_percent"):
                check.add(field, "percent rules apply to rate only")  # §1.4
    return value


def _options(
    raw: Any, sell_mode: str | None, room_type: Record | None, check: Checker
) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        check.add("options", BLANK)
        return []
    options: list[dict[str, Any]] = []
    max_adults = room_type.attributes["occ_adults"] if room_type else MAX_OCCUPANCY
    for index, option in enumerate(raw):
        field = f"options.{index}"
        if not isinstance(option, dict):
            check.add(field, INVALID)
            continue
        inner = Checker(option)
        occupancy = inner.integer("occupancy", required=True, minimum=1, maximum=max_adults)
        if not isinstance(option.get("is_primary"), bool):
            inner.add("is_primary", BLANK if option.get("is_primary") is None else INVALID)
        rate = parse_amount(option.get("rate", 0))
        if rate is None:
            inner.add("rate", INVALID)
        derived = _derived_option(option.get("derived_option"), "derived_option", inner)
        for name, messages in inner.errors.items():
            check.errors.setdefault(f"{field}.{name}", []).extend(messages)
        options.append(
            {
                "occupancy": occupancy,
                "is_primary": option.get("is_primary") is True,
                "derived_option": derived,
                "rate": format_amount(rate) if rate is not None else None,
            }
        )
    if sum(1 for option in options if option["is_primary"]) != 1:
        check.add("options", "must have exactly one primary option")
    occupancies = [option["occupancy"] for option in options]
    if len(set(occupancies)) != len(occupancies):
        check.add("options", "occupancy must be unique")
    # §1.4: a per-room plan has one option, at the room type's maximum occupancy.
    if sell_mode == "per_room" and len(options) != 1:
        check.add("options", "a per_room rate plan has exactly one option")
    return options


def _is_default_value(item: object, kind: type, minimum: int) -> bool:
    if kind is bool:
        return isinstance(item, bool)
    return isinstance(item, int) and not isinstance(item, bool) and item >= minimum


def _weekday_default(check: Checker, field: str, default: Any, kind: type) -> Any:
    """A rate plan default for new dates: one value or seven weekday values (§1.4)."""
    value = check.data.get(field, default)
    values = value if isinstance(value, list) else [value]
    minimum = 0 if field == "max_stay" else 1
    is_ok = len(values) in (1, 7) and all(_is_default_value(v, kind, minimum) for v in values)
    if not is_ok:
        check.add(field, INVALID)
    return value


def _fee(check: Checker, field: str) -> str | None:
    """§1.4 children_fee / infant_fee: an amount, read back as a decimal string."""
    amount = parse_amount(check.data.get(field, "0.00"))
    if amount is None:
        check.add(field, INVALID)
        return None
    return format_amount(amount)


def rate_plan_attributes(
    state: SimulatorState, body: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    check = merged(body, existing, ("property_id", "room_type_id"))
    property_id = check.text("property_id", required=True)
    room_type_id = check.text("room_type_id", required=True)
    title = check.text("title", required=True)
    prop = state.properties.get(property_id or "")
    room_type = state.room_types.get(room_type_id or "")
    if property_id is not None and prop is None:
        check.add("property_id", NOT_FOUND_MESSAGE)
    if room_type_id is not None and (
        room_type is None or room_type.attributes["property_id"] != property_id
    ):
        check.add("room_type_id", NOT_FOUND_MESSAGE)
        room_type = None
    for other in state.rate_plans_of(property_id or ""):
        if other.attributes["title"] == title and (existing is None or other.id != existing.id):
            check.add("title", "has already been taken")  # §1.4: unique per property
    parent_id = check.data.get("parent_rate_plan_id")
    parent = state.rate_plans.get(parent_id) if isinstance(parent_id, str) else None
    if parent_id is not None and (
        parent is None
        or parent.attributes["property_id"] != property_id
        or (existing is not None and parent.id == existing.id)
    ):
        check.add("parent_rate_plan_id", NOT_FOUND_MESSAGE)
    # [UNCONFIRMED] not in §1.4; third-party code links a policy of the same property.
    policy_id = check.data.get("cancellation_policy_id")
    if not check_policy_link(state, policy_id, property_id):
        check.add("cancellation_policy_id", NOT_FOUND_MESSAGE)
    sell_mode = check.choice("sell_mode", frozenset(("per_room", "per_person")), "per_room")
    rate_mode = check.choice(
        "rate_mode", frozenset(("manual", "derived", "auto", "cascade")), "manual"
    )
    if rate_mode == "auto" and not check.data.get("auto_rate_settings"):
        check.add("auto_rate_settings", BLANK)  # §1.4: required in auto mode
    attributes: dict[str, Any] = {
        "title": title,
        "property_id": property_id,
        "room_type_id": room_type_id,
        "options": _options(check.data.get("options"), sell_mode, room_type, check),
        "tax_set_id": check.data.get("tax_set_id"),
        "parent_rate_plan_id": parent_id,
        "currency": check.text("currency") or (prop.attributes["currency"] if prop else None),
        "sell_mode": sell_mode,
        "rate_mode": rate_mode,
        "meal_type": check.choice("meal_type", MEAL_TYPES, "none"),
        "cancellation_policy_id": policy_id,
        "auto_rate_settings": check.data.get("auto_rate_settings"),
        "children_fee": _fee(check, "children_fee"),
        "infant_fee": _fee(check, "infant_fee"),
        # §1.4 / PART 3 #5: max_stay 0 means no maximum; min stay defaults to 1.
        "max_stay": _weekday_default(check, "max_stay", 0, int),
        "min_stay_arrival": _weekday_default(check, "min_stay_arrival", 1, int),
        "min_stay_through": _weekday_default(check, "min_stay_through", 1, int),
        "closed_to_arrival": _weekday_default(check, "closed_to_arrival", False, bool),
        "closed_to_departure": _weekday_default(check, "closed_to_departure", False, bool),
        "stop_sell": _weekday_default(check, "stop_sell", False, bool),
    }
    for flag in INHERIT_FLAGS:
        # §1.4: each inherit flag defaults to true when a parent is set, otherwise false.
        attributes[flag] = check.boolean(flag, parent_id is not None)
    check.done()
    return attributes
