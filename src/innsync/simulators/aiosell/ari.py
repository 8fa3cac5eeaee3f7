"""The PMS → Aiosell endpoints: inventory, rates, restrictions, fetch and push (§1.4 to §1.10).

Bodies are checked by hand rather than by pydantic models so each refusal names the field the
way the notes do (`updates[0].rooms[1].available`); a refused body changes nothing.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from innsync.simulators.aiosell.config import HotelMapping
from innsync.simulators.aiosell.errors import AiosellError, success
from innsync.simulators.aiosell.state import SimulatorState

router = APIRouter(prefix="/api/v2/cm")

# §1.8: the restriction keys, the same at room and at rate level.
BOOLEAN_RESTRICTIONS = ("stopSell", "closeOnArrival", "closeOnDeparture")
INTEGER_RESTRICTIONS = (
    "minimumStay",
    "maximumStay",
    "minimumStayArrival",
    "maximumStayArrival",
    "exactStayArrival",
    "minimumAdvanceReservation",
    "maximumAdvanceReservation",
)
NULLABLE_RESTRICTIONS = ("minimumAdvanceReservation", "maximumAdvanceReservation")
INVENTORY_UPDATED = "Inventory Updated Successfully"
RATES_UPDATED = "Rates Updated Successfully"
RESERVATION_UPDATED = "Reservation Updated Successfully"


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _refuse(state: SimulatorState, message: str) -> AiosellError:
    return AiosellError(state.config.validation_failure_status, message)


async def _json_object(request: Request, state: SimulatorState) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:
        raise _refuse(state, "Invalid JSON body") from exc
    if not isinstance(body, dict):
        raise _refuse(state, "Body must be a JSON object")
    return body


def _hotel(state: SimulatorState, body: dict[str, Any]) -> HotelMapping | None:
    code = body.get("hotelCode")
    if not isinstance(code, str) or not code:
        raise _refuse(state, "hotelCode is required")
    hotel = state.config.hotel(code)
    if hotel is None and state.config.validates_codes:
        raise _refuse(state, f"Invalid hotelCode: {code}")
    return hotel


def _day(state: SimulatorState, value: Any, where: str) -> date:
    if not isinstance(value, str):
        raise _refuse(state, f"{where} is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _refuse(state, f"{where} is not a YYYY-MM-DD date: {value}") from exc


def _days(state: SimulatorState, update: dict[str, Any], where: str) -> list[date]:
    """startDate..endDate, both ends inclusive (§1.5 [3P], §1.13)."""
    start = _day(state, update.get("startDate"), f"{where}.startDate")
    end = _day(state, update.get("endDate"), f"{where}.endDate")
    if end < start:
        raise _refuse(state, f"{where}.endDate is before startDate")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _updates(state: SimulatorState, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    updates = body.get("updates")
    if not isinstance(updates, list) or not updates:
        raise _refuse(state, "updates must be a non-empty array")
    for n, update in enumerate(updates):
        items = update.get(key) if isinstance(update, dict) else None
        if not isinstance(items, list) or not items:
            raise _refuse(state, f"updates[{n}].{key} must be a non-empty array")
        if not all(isinstance(item, dict) for item in items):
            raise _refuse(state, f"updates[{n}].{key} must hold objects")
    return updates


def _to_channels(state: SimulatorState, body: dict[str, Any]) -> None:
    """§1.6 [UNCONFIRMED]: optional unless the config requires it; a list of slugs if given."""
    channels = body.get("toChannels")
    if channels is None:
        if state.config.requires_to_channels:
            raise _refuse(state, "toChannels must be a non-empty array")
        return
    is_slugs = isinstance(channels, list) and all(isinstance(c, str) and c for c in channels)
    if not is_slugs or (state.config.requires_to_channels and not channels):
        raise _refuse(state, "toChannels must be a non-empty array of channel names")


def _restrictions(state: SimulatorState, value: Any, where: str) -> dict[str, Any]:
    """A partial restriction object (§1.8): known keys only, each of its type."""
    if not isinstance(value, dict) or not value:
        raise _refuse(state, f"{where} must be a non-empty object")
    for key, item in value.items():
        if key in BOOLEAN_RESTRICTIONS:
            if not isinstance(item, bool):
                raise _refuse(state, f"{where}.{key} must be a boolean")
        elif key in INTEGER_RESTRICTIONS:
            if item is None and key in NULLABLE_RESTRICTIONS:
                continue
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise _refuse(state, f"{where}.{key} must be a non-negative integer")
        else:
            raise _refuse(state, f"{where}.{key} is not a restriction")
    return dict(value)


def _room_code(
    state: SimulatorState, hotel: HotelMapping | None, item: dict[str, Any], where: str
) -> str:
    code = item.get("roomCode")
    if not isinstance(code, str) or not code:
        raise _refuse(state, f"{where}.roomCode is required")
    if hotel is not None and hotel.room(code) is None and state.config.validates_codes:
        raise _refuse(state, f"Invalid roomCode: {code}")
    return code


def _rateplan_code(
    state: SimulatorState, hotel: HotelMapping | None, room: str, item: dict[str, Any], where: str
) -> str:
    code = item.get("rateplanCode")
    if not isinstance(code, str) or not code:
        raise _refuse(state, f"{where}.rateplanCode is required")
    mapped = hotel.room(room) if hotel is not None else None
    if mapped is not None and code not in mapped.rateplan_codes and state.config.validates_codes:
        raise _refuse(state, f"Invalid rateplanCode: {code} for roomCode {room}")
    return code


@router.post("/update/{partner}")
async def update_inventory(partner: str, request: Request) -> JSONResponse:
    """§1.5 inventory (`available`) and §1.6 room restrictions (`restrictions`), one URL."""
    state = _state(request)
    body = await _json_object(request, state)
    hotel = _hotel(state, body)
    hotel_code = str(body["hotelCode"])
    inventory: dict[tuple[str, str, date], int] = {}
    restrictions: dict[tuple[str, str, date], dict[str, Any]] = {}
    has_restrictions = False
    for n, update in enumerate(_updates(state, body, "rooms")):
        days = _days(state, update, f"updates[{n}]")
        for m, item in enumerate(update["rooms"]):
            where = f"updates[{n}].rooms[{m}]"
            room = _room_code(state, hotel, item, where)
            if "available" not in item and "restrictions" not in item:
                raise _refuse(state, f"{where} needs available or restrictions")
            if "available" in item:
                available = item["available"]
                if isinstance(available, bool) or not isinstance(available, int) or available < 0:
                    raise _refuse(state, f"{where}.available must be a non-negative integer")
                inventory.update({(hotel_code, room, d): available for d in days})
            if "restrictions" in item:
                has_restrictions = True
                values = _restrictions(state, item["restrictions"], f"{where}.restrictions")
                for d in days:
                    restrictions.setdefault((hotel_code, room, d), {}).update(values)
    if has_restrictions:
        _to_channels(state, body)
    state.inventory.update(inventory)
    for key, values in restrictions.items():
        state.room_restrictions.setdefault(key, {}).update(values)
    return JSONResponse(success(INVENTORY_UPDATED))


@router.post("/update-rates/{partner}")
async def update_rates(partner: str, request: Request) -> JSONResponse:
    """§1.7 rates (`rate`) and §1.8 rate-plan restrictions (`restrictions`), one URL."""
    state = _state(request)
    body = await _json_object(request, state)
    hotel = _hotel(state, body)
    hotel_code = str(body["hotelCode"])
    rates: dict[tuple[str, str, str, date], float] = {}
    restrictions: dict[tuple[str, str, str, date], dict[str, Any]] = {}
    has_restrictions = False
    for n, update in enumerate(_updates(state, body, "rates")):
        days = _days(state, update, f"updates[{n}]")
        for m, item in enumerate(update["rates"]):
            where = f"updates[{n}].rates[{m}]"
            room = _room_code(state, hotel, item, where)
            plan = _rateplan_code(state, hotel, room, item, where)
            if "rate" not in item and "restrictions" not in item:
                raise _refuse(state, f"{where} needs rate or restrictions")
            if "rate" in item:
                rate = item["rate"]
                if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
                    raise _refuse(state, f"{where}.rate must be a non-negative number")
                rates.update({(hotel_code, room, plan, d): float(rate) for d in days})
            if "restrictions" in item:
                has_restrictions = True
                values = _restrictions(state, item["restrictions"], f"{where}.restrictions")
                for d in days:
                    restrictions.setdefault((hotel_code, room, plan, d), {}).update(values)
    if has_restrictions:
        _to_channels(state, body)
    state.rates.update(rates)
    for key, values in restrictions.items():
        state.rate_restrictions.setdefault(key, {}).update(values)
    return JSONResponse(success(RATES_UPDATED))


@router.post("/data/{partner}")
async def fetch_data(partner: str, request: Request) -> JSONResponse:
    """§1.9: one single-day range per stored date; reservations as a plain array."""
    state = _state(request)
    body = await _json_object(request, state)
    kind = body.get("type")
    if kind not in ("inventory", "rates", "reservation"):
        raise _refuse(state, "type must be one of inventory, rates, reservation")
    _hotel(state, body)
    hotel_code = str(body["hotelCode"])
    days = set(_days(state, body, "request"))
    if kind == "reservation":
        found = [
            reservation
            for reservation in state.reservations.values()
            if reservation.get("hotelCode") == hotel_code and _stays_within(reservation, days)
        ]
        return JSONResponse(found)
    ranges: dict[date, list[dict[str, Any]]] = {}
    if kind == "rates":
        for (hotel, room, plan, d), rate in sorted(state.rates.items()):
            if hotel == hotel_code and d in days:
                entry = {"roomCode": room, "rateplanCode": plan, "rate": rate}
                ranges.setdefault(d, []).append(entry)
    else:
        for (hotel, room, d), available in sorted(state.inventory.items()):
            if hotel == hotel_code and d in days:
                ranges.setdefault(d, []).append({"roomCode": room, "available": available})
    key = "rates" if kind == "rates" else "rooms"
    updates = [
        {"startDate": d.isoformat(), "endDate": d.isoformat(), key: items}
        for d, items in sorted(ranges.items())
    ]
    return JSONResponse({"hotelCode": hotel_code, "updates": updates})


def _stays_within(reservation: dict[str, Any], days: set[date]) -> bool:
    """Whether the stay [checkin, checkout) touches any of ``days`` (or it carries no dates)."""
    try:
        checkin = date.fromisoformat(str(reservation["checkin"]))
        checkout = date.fromisoformat(str(reservation["checkout"]))
    except (KeyError, ValueError):
        return True
    return any(checkin <= d < max(checkout, checkin + timedelta(days=1)) for d in days)


@router.post("/push/{partner}")
async def push_reservation(partner: str, request: Request) -> JSONResponse:
    """§1.10: a reservation pushed to Aiosell (OTA → Aiosell), in the webhook's own shape."""
    state = _state(request)
    body = await _json_object(request, state)
    _hotel(state, body)
    action = body.get("action")
    if action not in ("book", "modify", "cancel"):
        raise _refuse(state, "action must be one of book, modify, cancel")
    booking_id = body.get("bookingId")
    if not isinstance(booking_id, str) or not booking_id:
        raise _refuse(state, "bookingId is required")
    known = state.reservations.get(booking_id)
    if action == "book":
        if known is not None and state.config.rejects_duplicate_push:
            raise _refuse(state, f"Duplicate bookingId: {booking_id}")
        for key in ("checkin", "checkout"):
            _day(state, body.get(key), key)
        state.reservations[booking_id] = body
        state.generated.discard(booking_id)
    elif known is None:
        raise _refuse(state, f"Unknown bookingId: {booking_id}")
    elif action == "modify":
        state.reservations[booking_id] = body
        # The pushed shape now rules; the generator no longer rebuilds this booking.
        state.generated.discard(booking_id)
    else:
        state.reservations[booking_id] = {**known, **body}
    return JSONResponse(success(RESERVATION_UPDATED))
