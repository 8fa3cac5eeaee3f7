"""§2.5 bookings: GET with the documented filters and defaults, POST as per-item upserts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from innsync.simulators.beds24.errors import Beds24Error
from innsync.simulators.beds24.listing import envelope, int_list, json_array, text_list
from innsync.simulators.beds24.state import Booking, SimulatorState
from innsync.simulators.beds24.webhooks import WebhookDispatcher

router = APIRouter(prefix="/v2")

STATUSES = ("confirmed", "request", "new", "cancelled", "black", "inquiry")
# §2.5: without a status filter, these (cancelled left out).
DEFAULT_STATUSES = ("confirmed", "request", "new", "black", "inquiry")
GUEST_FIELDS = (
    "title", "firstName", "lastName", "email", "phone", "mobile", "fax", "company", "address",
    "city", "state", "postcode", "country", "country2", "lang",
)  # fmt: skip
TEXT_LIMITS: dict[str, int] = {
    **dict.fromkeys(GUEST_FIELDS, 100),
    "address": 250,
    "country2": 300,
    "lang": 2,
    "arrivalTime": 100,
    "voucher": 100,
    "comments": 1000,
    "notes": 2000,
    "message": 1000,
    "reference": 100,
    "apiReference": 100,
    "rateDescription": 1000,
}
MONEY_FIELDS = ("price", "deposit", "tax", "commission")
# Filters that lift the "upcoming only" default [UNCONFIRMED: the notes do not say which do].
_DATED_FILTERS = (
    "id", "apiReference", "modifiedFrom", "modifiedTo", "arrival", "arrivalFrom", "arrivalTo",
    "departure", "departureFrom", "departureTo", "bookingTimeFrom", "bookingTimeTo",
)  # fmt: skip


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def wire_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/bookings")
async def get_bookings(request: Request) -> dict[str, Any]:
    state = _state(request)
    query = request.query_params
    statuses = text_list(query, "status") or list(DEFAULT_STATUSES)
    if any(status not in STATUSES for status in statuses):
        raise Beds24Error(400, f"status must be one of {', '.join(STATUSES)}")
    ids, props, rooms = (
        int_list(query, "id"),
        int_list(query, "propertyId"),
        int_list(query, "roomId"),
    )
    references = text_list(query, "apiReference")
    modified_from = _utc(query.get("modifiedFrom"), "modifiedFrom")
    modified_to = _utc(query.get("modifiedTo"), "modifiedTo")
    arrival_from = _day(query.get("arrivalFrom"), "arrivalFrom")
    arrival_to = _day(query.get("arrivalTo"), "arrivalTo")
    upcoming_only = not any(name in query or f"{name}[]" in query for name in _DATED_FILTERS)
    found = []
    for booking in sorted(state.bookings.values(), key=lambda b: b["id"]):
        modified = datetime.fromisoformat(booking["modifiedTime"].replace("Z", "+00:00"))
        if (
            booking["status"] not in statuses
            or (ids and booking["id"] not in ids)
            or (props and booking["propertyId"] not in props)
            or (rooms and booking["roomId"] not in rooms)
            or (references and booking.get("apiReference") not in references)
            or (modified_from is not None and modified < modified_from)
            or (modified_to is not None and modified > modified_to)
            or (arrival_from is not None and date.fromisoformat(booking["arrival"]) < arrival_from)
            or (arrival_to is not None and date.fromisoformat(booking["arrival"]) > arrival_to)
            or (upcoming_only and date.fromisoformat(booking["departure"]) < state.today())
        ):
            continue
        found.append(dict(booking))
    return envelope(request, "booking", found, state.config.page_size)


def _utc(value: str | None, name: str) -> datetime | None:
    """§2.5: ``YYYY-MM-DDTHH:MM:SS``; read as UTC (the notes name no zone) [UNCONFIRMED]."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Beds24Error(400, f"{name} must be YYYY-MM-DDTHH:MM:SS") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Beds24Error(400, f"{name} must be YYYY-MM-DD") from None


@router.post("/bookings", status_code=201)
async def post_bookings(request: Request) -> JSONResponse:
    """§2.5: an item without ``id`` is created, with ``id`` modified; one answer per item."""
    state = _state(request)
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    items = json_array(await request.body(), state.config.max_post_items)
    answers = []
    for item in items:
        answer, changed = upsert(state, item)
        answers.append(answer)
        actions = item.get("actions") if isinstance(item, dict) else None
        # §2.5: API changes fire booking webhooks only with actions.allowWebhooks.
        if changed is not None and isinstance(actions, dict) and actions.get("allowWebhooks"):
            await dispatcher.enqueue(changed)
    return JSONResponse(answers, status_code=201)


def _error(field: str, message: str, action: str) -> dict[str, str]:
    return {"action": action, "field": field, "message": message}


def _checked_fields(
    item: dict[str, Any], action: str
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    fields: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name, value in item.items():
        if name in ("id", "actions", "infoItems", "invoiceItems"):
            continue
        if name in TEXT_LIMITS:
            if value is not None and (not isinstance(value, str) or len(value) > TEXT_LIMITS[name]):
                errors.append(_error(name, f"must be text of at most {TEXT_LIMITS[name]}", action))
        elif name in MONEY_FIELDS:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 99_999_999.99
            ):
                errors.append(_error(name, "must be a number from 0 to 99999999.99", action))
        elif name in ("numAdult", "numChild"):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99:
                errors.append(_error(name, "must be an integer from 0 to 99", action))
        elif name in ("roomId", "roomQty", "unitId"):
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(_error(name, "must be an integer", action))
        elif name in ("arrival", "departure"):
            try:
                date.fromisoformat(str(value))
            except ValueError:
                errors.append(_error(name, "must be YYYY-MM-DD", action))
        elif name == "status":
            if value not in STATUSES:
                errors.append(_error(name, f"must be one of {', '.join(STATUSES)}", action))
        else:
            continue  # other documented fields are kept as sent
        fields[name] = value
    return fields, errors


def upsert(state: SimulatorState, item: Any) -> tuple[dict[str, Any], Booking | None]:
    """Apply one POST /bookings item; its answer and the booking it changed, if any."""
    if not isinstance(item, dict):
        return {"success": False, "errors": [_error("item", "must be an object", "new")]}, None
    booking_id = item.get("id")
    action = "modify" if booking_id is not None else "new"
    fields, errors = _checked_fields(item, action)
    if errors:
        return {"success": False, "errors": errors}, None
    if booking_id is not None:
        booking = state.bookings.get(booking_id) if isinstance(booking_id, int) else None
        if booking is None:
            return {"success": False, "errors": [_error("id", "Booking not found", action)]}, None
        merged = {**booking, **fields}
        problem = _stay_problem(state, merged, action)
        if problem is not None:
            return {"success": False, "errors": [problem]}, None
        change(state, booking, fields)
        return {"success": True, "modified": {"id": booking["id"]}}, booking
    missing = [name for name in ("roomId", "arrival", "departure") if name not in fields]
    if missing:
        return {
            "success": False,
            "errors": [_error(name, "is required for a new booking", action) for name in missing],
        }, None
    problem = _stay_problem(state, fields, action)
    if problem is not None:
        return {"success": False, "errors": [problem]}, None
    actions = item.get("actions")
    if (
        isinstance(actions, dict)
        and actions.get("checkAvailability")
        and not has_availability(state, fields)
    ):
        return {
            "success": False,
            "errors": [_error("arrival", "No availability for these dates", action)],
        }, None
    booking = create(state, fields, channel="direct")
    return {"success": True, "new": {"id": booking["id"]}}, booking


def _stay_problem(
    state: SimulatorState, fields: dict[str, Any], action: str
) -> dict[str, str] | None:
    if state.config.room(int(fields["roomId"])) is None:
        return _error("roomId", "Room not found", action)
    if date.fromisoformat(fields["departure"]) <= date.fromisoformat(fields["arrival"]):
        return _error("departure", "must be after arrival", action)
    return None


def has_availability(state: SimulatorState, fields: dict[str, Any]) -> bool:
    """Every night has units left: numAvail from the calendar, else the room's qty, less the
    bookings that hold the night (§2.5 checkAvailability)."""
    room = int(fields["roomId"])
    spec = state.config.room(room)
    arrival, departure = (
        date.fromisoformat(fields["arrival"]),
        date.fromisoformat(fields["departure"]),
    )
    night = arrival
    while night < departure:
        held = state.calendar.get((room, night), {})
        if held.get("override") == "blackout":
            return False
        units = held.get("numAvail", spec[1].qty if spec else 0)
        if units <= 0:
            return False
        night += timedelta(days=1)
    return True


def create(state: SimulatorState, fields: dict[str, Any], *, channel: str) -> Booking:
    """A new booking: its id, ``bookingTime`` and ``modifiedTime`` (equal at creation, §2.5)."""
    room = int(fields["roomId"])
    spec = state.config.room(room)
    assert spec is not None
    now = wire_time(state.now())
    booking: Booking = {
        "id": state.next_booking_id(),
        "propertyId": spec[0].id,
        "roomId": room,
        "unitId": 1,
        "roomQty": 1,
        "bookingGroup": None,
        "status": "confirmed",
        "subStatus": "none",
        "numAdult": 2,
        "numChild": 0,
        "price": 0,
        "commission": 0,
        "bookingTime": now,
        "modifiedTime": now,
        **fields,
    }
    if channel != "direct":
        # The booking schema's channel enum has no "direct": a booking made through the API
        # shows none.
        booking["channel"] = channel
    state.bookings[booking["id"]] = booking
    return booking


def change(state: SimulatorState, booking: Booking, fields: dict[str, Any]) -> None:
    """Apply a change; ``modifiedTime`` moves, a cancellation sets ``cancelTime`` (§2.5)."""
    booking.update(fields)
    now = wire_time(state.now())
    booking["modifiedTime"] = now
    if fields.get("status") == "cancelled" and booking.get("cancelTime") is None:
        booking["cancelTime"] = now
