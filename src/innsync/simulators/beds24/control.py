"""The Beds24 simulator's `/_sim/` control plane (not Beds24 API).

The shared routes (faults, tick, requests, reset) are the kit's; the ones here make, change and
cancel bookings as an OTA would (each fires the property's webhook), generate random ones, show
the calendar, the bookings, the credit window and the webhook deliveries, and expire tokens.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from innsync.simulators.beds24 import bookings
from innsync.simulators.beds24.errors import Beds24Error, invalid_sim_input
from innsync.simulators.beds24.state import SimulatorState
from innsync.simulators.beds24.webhooks import WebhookDispatcher
from innsync.simulators.kit.control import StateAndPump, control_router

router = APIRouter(prefix="/_sim")
OTAS = (("booking", "Booking.com"), ("airbnb", "Airbnb.com"), ("expedia", "Expedia"))
FIRST_NAMES = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald")
LAST_NAMES = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth")


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    return dispatcher


shared_router = control_router(
    lambda request: StateAndPump(_state(request), _dispatcher(request)), invalid_sim_input
)


def _ota_booking(state: SimulatorState, fields: dict[str, Any]) -> dict[str, Any]:
    """An OTA booking's fields: the OTA, its reference, a guest, a price (seeded)."""
    rng = state.rng
    channel, source = OTAS[rng.randrange(len(OTAS))]
    nights = (date.fromisoformat(fields["departure"]) - date.fromisoformat(fields["arrival"])).days
    price = round(rng.randrange(80, 200) * nights, 2)
    return {
        "status": "confirmed",
        "numAdult": 2,
        "numChild": 0,
        "firstName": FIRST_NAMES[rng.randrange(len(FIRST_NAMES))],
        "lastName": LAST_NAMES[rng.randrange(len(LAST_NAMES))],
        "email": f"guest{rng.randrange(10_000)}@example.com",
        "phone": f"+44 20 7946 {rng.randrange(1000, 9999)}",
        "address": "1 Example Street",
        "city": "London",
        "postcode": "N1 9GU",
        "country2": "GB",
        "lang": "en",
        "arrivalTime": "15:00",
        "comments": "Late check-in, please",
        "price": price,
        "commission": round(price * 0.15, 2),
        "apiSource": source,
        "apiReference": str(rng.randrange(10**9, 10**10)),
        "channel": channel,
        **fields,
    }


async def _made(request: Request, booking: dict[str, Any]) -> dict[str, Any]:
    delivery = await _dispatcher(request).enqueue(booking)
    shown: dict[str, Any] = {"data": [dict(booking)]}
    if delivery is not None:
        shown["delivery"] = delivery.sequence
    return shown


@router.get("/bookings")
async def list_bookings(request: Request) -> dict[str, Any]:
    return {
        "data": [dict(b) for b in sorted(_state(request).bookings.values(), key=lambda b: b["id"])]
    }


@router.post("/bookings")
async def make_booking(
    request: Request, fields: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """An OTA booking of ``roomId`` from ``arrival`` to ``departure`` (other fields override)."""
    state = _state(request)
    full = _ota_booking(state, fields)
    checked, errors = bookings._checked_fields(full, "new")
    problem = None
    if not errors and all(name in checked for name in ("roomId", "arrival", "departure")):
        problem = bookings._stay_problem(state, checked, "new")
    else:
        problem = errors[0] if errors else {"message": "roomId, arrival and departure are required"}
    if problem is not None:
        raise invalid_sim_input({"booking": [str(problem.get("message"))]})
    booking = bookings.create(state, {**full, **checked}, channel=str(full["channel"]))
    return await _made(request, booking)


@router.post("/bookings/generate")
async def generate(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``count`` random OTA bookings on the configured rooms, 1-120 days ahead."""
    state = _state(request)
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise invalid_sim_input({"count": ["must be an integer from 1 to 1000"]})
    rooms = [room.id for prop in state.config.properties for room in prop.rooms]
    made = []
    for _ in range(count):
        arrival = state.today() + timedelta(days=state.rng.randrange(1, 120))
        departure = arrival + timedelta(days=state.rng.randrange(1, 6))
        fields = {
            "roomId": rooms[state.rng.randrange(len(rooms))],
            "arrival": arrival.isoformat(),
            "departure": departure.isoformat(),
        }
        booking = bookings.create(state, _ota_booking(state, fields), channel="booking")
        made.append((await _made(request, booking))["data"][0])
    return {"data": made}


@router.post("/bookings/{booking_id}/modify")
async def modify(
    request: Request, booking_id: int, fields: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    state = _state(request)
    booking = state.bookings.get(booking_id)
    if booking is None:
        raise Beds24Error(404, "Booking not found")
    checked, errors = bookings._checked_fields(fields, "modify")
    if errors:
        raise invalid_sim_input({"booking": [e["message"] for e in errors]})
    problem = bookings._stay_problem(state, {**booking, **checked}, "modify")
    if problem is not None:
        raise invalid_sim_input({"booking": [problem["message"]]})
    bookings.change(state, booking, checked)
    return await _made(request, booking)


@router.post("/bookings/{booking_id}/cancel")
async def cancel(request: Request, booking_id: int) -> dict[str, Any]:
    state = _state(request)
    booking = state.bookings.get(booking_id)
    if booking is None:
        raise Beds24Error(404, "Booking not found")
    bookings.change(state, booking, {"status": "cancelled", "subStatus": "cancelledByGuest"})
    return await _made(request, booking)


@router.get("/calendar")
async def calendar(request: Request) -> dict[str, Any]:
    """What the calendar holds: roomId -> date -> fields."""
    held: dict[str, dict[str, Any]] = {}
    for (room, day), fields in sorted(_state(request).calendar.items()):
        if fields:
            held.setdefault(str(room), {})[day.isoformat()] = dict(fields)
    return {"data": held}


@router.get("/credits")
async def credits(request: Request) -> dict[str, Any]:
    state = _state(request)
    window = state.credits
    return {
        "limit": state.credit_limit,
        "window_seconds": state.config.credit_window_seconds,
        "window_started_at": None if window.started_at is None else window.started_at.isoformat(),
        "spent_in_window": window.spent,
        "charged_total": window.charged_total,
        "charged_calls": window.charged_calls,
        "refused": window.refused,
    }


@router.post("/credits")
async def set_credits(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"limit": N}``: the account's credits per window from now on (200 when bought, §2.3)."""
    limit = body.get("limit")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
        raise invalid_sim_input({"limit": ["must be a positive number"]})
    _state(request).credit_limit = float(limit)
    return await credits(request)


@router.post("/lost-answers")
async def lose_answers(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"endpoint": "POST /bookings", "count": 1}``: its next ``count`` calls are carried
    out, but answered only after the fault settings' ``timeout_seconds`` (a timed-out client
    never learns that Beds24 made the change)."""
    endpoint, count = body.get("endpoint"), body.get("count", 1)
    if not isinstance(endpoint, str) or " /" not in endpoint:
        raise invalid_sim_input({"endpoint": ['must be "METHOD /path", e.g. "POST /bookings"']})
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1000:
        raise invalid_sim_input({"count": ["must be an integer from 0 to 1000"]})
    state = _state(request)
    state.lost_answers[endpoint] = count
    return {"lost_answers": dict(state.lost_answers)}


@router.post("/tokens/expire")
async def expire_tokens(request: Request) -> dict[str, int]:
    """Every access token expires now; refresh tokens stay valid."""
    return {"expired": _state(request).expire_tokens()}


@router.get("/webhooks/deliveries")
async def deliveries(request: Request) -> dict[str, Any]:
    return {
        "data": [
            {
                "sequence": d.sequence,
                "booking_id": d.booking_id,
                "status": d.status,
                "attempts": [
                    {
                        "at": a.at.isoformat(),
                        "status_code": a.status_code,
                        "error": a.error,
                        "duplicate": a.is_duplicate,
                    }
                    for a in d.attempts
                ],
            }
            for d in _state(request).deliveries
        ]
    }
