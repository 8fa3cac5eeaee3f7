"""The Octorate simulator's ``/_sim/`` control plane (not Octorate's API).

The shared routes (faults, tick, requests, reset) are the kit's; the ones here let the hotel
change its calendar (each change fires the calendar webhook), generate random changes, decide
on reservations now, tune the hotel actor, expire tokens, and show the calendar, reservations,
subscriptions, webhook deliveries and the quota with its counted violations.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from innsync.simulators.kit.control import StateAndPump, control_router
from innsync.simulators.octorate.calendar import apply_values, checked_values, dispatcher_of
from innsync.simulators.octorate.errors import OctorateError, invalid_params
from innsync.simulators.octorate.hotel import Pump, decide
from innsync.simulators.octorate.oauth import state_of
from innsync.simulators.octorate.state import PlannedFailure
from innsync.simulators.octorate.wire import parse_stay_day

router = APIRouter(prefix="/_sim")


def _pump(request: Request) -> Pump:
    pump: Pump = request.app.state.pump
    return pump


shared_router = control_router(
    lambda request: StateAndPump(state_of(request), _pump(request)), invalid_params
)


def _deliveries(made: list[Any]) -> list[int]:
    return [delivery.sequence for delivery in made]


@router.get("/calendar")
async def calendar(request: Request) -> dict[str, Any]:
    """What differs from each product's defaults: product id -> date -> values."""
    held: dict[str, dict[str, Any]] = {}
    for (product_id, day), values in sorted(state_of(request).calendar.items()):
        if values:
            held.setdefault(str(product_id), {})[day.isoformat()] = dict(values)
    return {"data": held}


@router.post("/calendar")
async def change_calendar(
    request: Request, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """The hotel edits its calendar: ``{room, dateFrom, dateTo, values}`` (as the bulk item)."""
    state = state_of(request)
    product_id = body.get("room")
    if isinstance(product_id, bool) or not isinstance(product_id, int):
        raise invalid_params({"room": ["must be a product id"]})
    if product_id not in state.products:
        raise invalid_params({"room": [f"{product_id} is not a product"]})
    first = parse_stay_day(body.get("dateFrom"), "dateFrom")
    last = parse_stay_day(body.get("dateTo"), "dateTo")
    if last < first:
        raise invalid_params({"dateTo": ["is before dateFrom"]})
    values = checked_values(state, body.get("values"), "body")
    changed = apply_values(state, product_id, first, last, values)
    made = dispatcher_of(request).calendar_changed({product_id: changed})
    return {"changed_days": len(changed), "deliveries": _deliveries(made)}


@router.post("/calendar/generate")
async def generate(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``count`` random changes (availability, price, min stay, stop sell) on random products
    and ranges within ``generator_days``; one webhook per accommodation for all of them."""
    state = state_of(request)
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        raise invalid_params({"count": ["must be an integer from 1 to 1000"]})
    rng = state.rng
    product_ids = sorted(state.products)
    changes: dict[int, set[date]] = {}
    for _ in range(count):
        product = state.products[product_ids[rng.randrange(len(product_ids))]]
        first = state.today() + timedelta(days=rng.randrange(state.config.generator_days))
        last = first + timedelta(days=rng.randrange(7))
        field = ("availability", "price", "minStay", "stopSells")[rng.randrange(4)]
        value: Any = {
            "availability": rng.randrange(product.room.units + 1),
            "price": float(rng.randrange(60, 300)),
            "minStay": rng.randrange(1, 4),
            "stopSells": rng.random() < 0.5,
        }[field]
        changed = apply_values(state, product.id, first, last, {field: value})
        changes.setdefault(product.id, set()).update(changed)
    made = dispatcher_of(request).calendar_changed(changes)
    days = sum(len(changed) for changed in changes.values())
    return {"changed_days": days, "deliveries": _deliveries(made)}


@router.get("/reservations")
async def reservations(request: Request) -> dict[str, Any]:
    state = state_of(request)
    shown = []
    for reservation_id, reservation in sorted(state.reservations.items()):
        due = state.decisions.get(reservation_id)
        decision = None if due is None else due.isoformat()
        shown.append({**reservation, "hotel_decision_at": decision})
    return {"data": shown}


@router.post("/reservations/{reservation_id}/{decision}")
async def decide_now(request: Request, reservation_id: int, decision: str) -> dict[str, Any]:
    """``confirm`` or ``reject`` a pending reservation now, as the hotel."""
    state = state_of(request)
    if decision not in ("confirm", "reject"):
        raise OctorateError(404, "NotFound", "decision must be confirm or reject")
    if reservation_id not in state.decisions:
        raise invalid_params({"reservation": ["is not waiting for the hotel"]})
    return decide(state, _pump(request).dispatcher, reservation_id, decision == "confirm")


@router.get("/hotel")
async def hotel(request: Request) -> dict[str, Any]:
    state = state_of(request)
    return {
        "decision_delay_seconds": state.decision_delay_seconds,
        "rejection_ratio": state.rejection_ratio,
        "waiting": len(state.decisions),
        "confirmed": state.counters["confirmed"],
        "rejected": state.counters["rejected"],
    }


@router.post("/hotel")
async def tune_hotel(request: Request, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"decision_delay_seconds": s, "rejection_ratio": r}``: from the next push on."""
    state = state_of(request)
    delay = body.get("decision_delay_seconds", state.decision_delay_seconds)
    ratio = body.get("rejection_ratio", state.rejection_ratio)
    problems: dict[str, list[str]] = {}
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        problems["decision_delay_seconds"] = ["must be a number >= 0"]
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        problems["rejection_ratio"] = ["must be a number from 0 to 1"]
    unknown = sorted(set(body) - {"decision_delay_seconds", "rejection_ratio"})
    for name in unknown:
        problems[name] = ["is not a hotel setting"]
    if problems:
        raise invalid_params(problems)
    state.decision_delay_seconds = float(delay)
    state.rejection_ratio = float(ratio)
    return await hotel(request)


@router.get("/quota")
async def quota(request: Request) -> dict[str, Any]:
    """The quota, the calls in each accommodation's window and the violations counted."""
    state = state_of(request)
    config = state.config
    window = timedelta(seconds=config.quota_window_seconds)
    now = state.now()
    return {
        "calls_per_window": config.quota_calls,
        "window_seconds": config.quota_window_seconds,
        "violations": state.counters["quota_violations"],
        "accommodations": {
            str(accommodation_id): {
                "calls_in_window": sum(1 for at in calls if at > now - window),
                "violations": state.quota_violations_by_accommodation.get(accommodation_id, 0),
            }
            for accommodation_id, calls in sorted(state.quota_calls.items())
        },
    }


@router.get("/counters")
async def counters(request: Request) -> dict[str, int]:
    return dict(state_of(request).counters)


@router.get("/failures")
async def failures(request: Request) -> dict[str, Any]:
    return {name: planned.view() for name, planned in state_of(request).failures.items()}


@router.post("/failures")
async def plan_failures(
    request: Request, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """``{"endpoint": "POST /reservation/{id}", "status": 502, "count": 1,
    "after_handling": true}``: the endpoint's next ``count`` calls answer ``status``, before
    the call is handled or (``after_handling``) after it was carried out; with ``"rate": r``
    instead of a count, each call fails with probability ``r`` (seeded) until cleared. Count 0
    clears."""
    endpoint, status = body.get("endpoint"), body.get("status", 500)
    count, after = body.get("count", 1), body.get("after_handling", False)
    rate = body.get("rate")
    problems: dict[str, list[str]] = {}
    if not isinstance(endpoint, str) or " /" not in endpoint:
        problems["endpoint"] = ['must be "METHOD /path", e.g. "POST /reservation/{id}"']
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        problems["status"] = ["must be an HTTP status from 400 to 599"]
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1000:
        problems["count"] = ["must be an integer from 0 to 1000"]
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1
    ):
        problems["rate"] = ["must be a number from 0 to 1"]
    if not isinstance(after, bool):
        problems["after_handling"] = ["must be a boolean"]
    unknown = sorted(set(body) - {"endpoint", "status", "count", "after_handling", "rate"})
    for name in unknown:
        problems[name] = ["is not a failure setting"]
    if problems:
        raise invalid_params(problems)
    state = state_of(request)
    state.failures.pop(str(endpoint), None)
    if rate is not None:
        planned = PlannedFailure(int(status), 0, bool(after), rate=float(rate))
        state.failures[str(endpoint)] = planned
    elif count:
        state.failures[str(endpoint)] = PlannedFailure(int(status), int(count), bool(after))
    return await failures(request)


@router.post("/tokens/expire")
async def expire_tokens(request: Request) -> dict[str, int]:
    """Every access token expires now; refresh tokens stay valid (they never expire, §2.2)."""
    return {"expired": state_of(request).expire_tokens()}


@router.get("/webhooks/deliveries")
async def deliveries(
    request: Request, event: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    shown = state_of(request).deliveries
    return {"data": [d.view() for d in shown if event is None or d.event == event]}
