"""§2.6 calendar: POST per-room ranges, GET them back merged into ranges, include flags honoured."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from innsync.simulators.beds24.errors import Beds24Error
from innsync.simulators.beds24.listing import envelope, int_list, json_array
from innsync.simulators.beds24.state import SimulatorState

router = APIRouter(prefix="/v2/inventory/rooms")

OVERRIDES = ("none", "blackout", "exception", "noCheckIn", "noCheckOut", "noCheckInOrCheckOut")
PRICE_FIELDS = tuple(f"price{n}" for n in range(1, 17))
# §2.6: the include flag that shows each field on GET.
INCLUDES = {
    "includeNumAvail": ("numAvail",),
    "includeMinStay": ("minStay",),
    "includeMaxStay": ("maxStay",),
    "includeMultiplier": ("multiplier",),
    "includeOverride": ("override",),
    "includePrices": PRICE_FIELDS,
    "includeChannels": ("channels",),
}
# Past this many days in one entry the simulator refuses: no real calendar needs it.
MAX_DAYS = 3 * 366


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _error(field: str, message: str) -> dict[str, str]:
    return {"action": "modify", "field": field, "message": message}


def _number_in(value: Any, low: float, high: float, *, whole: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if whole and not isinstance(value, int):
        return False
    return low <= value <= high


def _check_entry(entry: Any, at: str) -> tuple[list[dict[str, str]], dict[str, Any], list[date]]:
    """The entry's errors, the fields it sets and the dates it covers (§2.6, inclusive)."""
    if not isinstance(entry, dict):
        return [_error(at, "must be an object")], {}, []
    errors: list[dict[str, str]] = []
    try:
        first = date.fromisoformat(str(entry.get("from")))
        last = date.fromisoformat(str(entry.get("to", entry.get("from"))))
    except ValueError:
        return [_error(f"{at}.from", "from/to must be YYYY-MM-DD")], {}, []
    if last < first or (last - first).days >= MAX_DAYS:
        errors.append(_error(f"{at}.to", "to must be on or after from, within 3 years"))
    fields: dict[str, Any] = {}
    checks = {
        "numAvail": (-9999, 9999, True),
        "minStay": (1, 365, True),
        "maxStay": (1, 364, True),
        "multiplier": (0.1, 100, False),
    }
    for name, value in entry.items():
        if name in ("from", "to"):
            continue
        if name in checks:
            low, high, whole = checks[name]
            nullable = name != "numAvail"
            if not ((value is None and nullable) or _number_in(value, low, high, whole=whole)):
                errors.append(_error(f"{at}.{name}", f"must be from {low} to {high}"))
        elif name in PRICE_FIELDS:
            if value is not None and not _number_in(value, 0, 99_999_999.99, whole=False):
                errors.append(_error(f"{at}.{name}", "must be a non-negative number or null"))
        elif name == "override":
            if value not in OVERRIDES:
                errors.append(_error(f"{at}.override", f"must be one of {', '.join(OVERRIDES)}"))
        elif name == "channels":
            if not isinstance(value, dict):
                errors.append(_error(f"{at}.channels", "must be an object"))
        else:
            errors.append(_error(f"{at}.{name}", "unknown field"))
        fields[name] = value
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)] if not errors else []
    return errors, fields, days


@router.post("/calendar", status_code=201)
async def post_calendar(request: Request) -> JSONResponse:
    """One answer per room item; an item with any error applies nothing [INFERRED]."""
    state = _state(request)
    items = json_array(await request.body(), state.config.max_post_items)
    answers = []
    for item in items:
        answers.append(_apply_item(state, item))
    return JSONResponse(answers, status_code=201)


def _apply_item(state: SimulatorState, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"success": False, "errors": [_error("item", "must be an object")]}
    room = item.get("roomId")
    if isinstance(room, bool) or not isinstance(room, int) or state.config.room(room) is None:
        return {"success": False, "errors": [_error("roomId", "Room not found")]}
    entries = item.get("calendar")
    if not isinstance(entries, list):
        return {"success": False, "errors": [_error("calendar", "must be an array")]}
    errors: list[dict[str, str]] = []
    planned: list[tuple[dict[str, Any], list[date]]] = []
    for position, entry in enumerate(entries):
        found, fields, days = _check_entry(entry, f"calendar[{position}]")
        errors.extend(found)
        planned.append((fields, days))
    if errors:
        return {"success": False, "errors": errors}
    for fields, days in planned:
        for day in days:
            held = state.calendar.setdefault((room, day), {})
            lifted = held.get("override") == "blackout" and fields.get("override") == "none"
            if lifted and "numAvail" not in fields:
                # §2.6: lifting a blackout without numAvail sets numAvail to the maximum.
                spec = state.config.room(room)
                held["numAvail"] = spec[1].qty if spec else 0
            for name, value in fields.items():
                if value is None:
                    held.pop(name, None)  # §2.6: null deletes
                else:
                    held[name] = value
    return {"success": True, "modified": {"roomId": room}}


@router.get("/calendar")
async def get_calendar(request: Request) -> dict[str, Any]:
    state = _state(request)
    query = request.query_params
    try:
        start = date.fromisoformat(query["startDate"])
        end = date.fromisoformat(query["endDate"])
    except (KeyError, ValueError):
        raise Beds24Error(400, "startDate and endDate (YYYY-MM-DD) are required") from None
    if end < start or (end - start).days >= MAX_DAYS:
        raise Beds24Error(400, "endDate must be on or after startDate, within 3 years")
    rooms = set(int_list(query, "roomId"))
    properties = set(int_list(query, "propertyId"))
    shown = tuple(
        name
        for flag, names in INCLUDES.items()
        if query.get(flag, "").lower() in ("true", "1")
        for name in names
    )
    data = []
    for prop in state.config.properties:
        if properties and prop.id not in properties:
            continue
        for room in prop.rooms:
            if rooms and room.id not in rooms:
                continue
            data.append(
                {
                    "roomId": room.id,
                    "propertyId": prop.id,
                    "calendar": _ranges(state, room.id, start, end, shown),
                }
            )
    return envelope(request, "calendar", data, state.config.page_size)


def _ranges(
    state: SimulatorState, room: int, start: date, end: date, shown: tuple[str, ...]
) -> list[dict[str, Any]]:
    """§2.6 [3P]: values come back as from/to ranges; equal neighbouring days are merged."""
    if not shown:
        return []  # §2.6: no include flag, an empty calendar
    ranges: list[dict[str, Any]] = []
    day = start
    while day <= end:
        held = state.calendar.get((room, day), {})
        values = {name: held[name] for name in shown if name in held}
        last = ranges[-1] if ranges else None
        if (
            values
            and last is not None
            and last["_values"] == values
            and last["_to"] == day - timedelta(days=1)
        ):
            last["_to"] = day
        elif values:
            ranges.append({"_from": day, "_to": day, "_values": values})
        day += timedelta(days=1)
    return [
        {"from": r["_from"].isoformat(), "to": r["_to"].isoformat(), **r["_values"]} for r in ranges
    ]
