"""The Aiosell simulator's `/_sim/` control plane (not Aiosell API).

The shared routes (faults, tick, requests, reset) are the kit's; the ones here make reservations
and send them to the PMS URL, and show what was pushed and what was delivered.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from innsync.simulators.aiosell import reservations
from innsync.simulators.aiosell.errors import invalid_sim_input
from innsync.simulators.aiosell.state import SimulatorState
from innsync.simulators.aiosell.webhooks import WebhookDispatcher
from innsync.simulators.kit.control import StateAndPump, control_router

router = APIRouter(prefix="/_sim")


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    return dispatcher


shared_router = control_router(
    lambda request: StateAndPump(_state(request), _dispatcher(request)), invalid_sim_input
)


async def _announce(request: Request, made: list[dict[str, Any]]) -> JSONResponse:
    dispatcher = _dispatcher(request)
    for reservation in made:
        dispatcher.publish(reservation)
    if _state(request).config.deliver_webhooks_inline:
        await dispatcher.deliver_due()
    return JSONResponse({"data": made}, status_code=201)


@router.post("/reservations")
async def new_reservation(spec: reservations.NewReservation, request: Request) -> JSONResponse:
    return await _announce(request, [reservations.create(_state(request), spec)])


@router.post("/reservations/generate")
async def generate_reservations(
    spec: reservations.GenerateReservations, request: Request
) -> JSONResponse:
    state = _state(request)
    made = [
        reservations.create(state, reservations.NewReservation(hotel_code=spec.hotel_code))
        for _ in range(spec.count)
    ]
    return await _announce(request, made)


@router.post("/reservations/{booking_id}/modify")
async def modify_reservation(
    booking_id: str, change: reservations.ReservationChange, request: Request
) -> JSONResponse:
    return await _announce(request, [reservations.modify(_state(request), booking_id, change)])


@router.post("/reservations/{booking_id}/cancel")
async def cancel_reservation(booking_id: str, request: Request) -> JSONResponse:
    return await _announce(request, [reservations.cancel(_state(request), booking_id)])


@router.post("/reservations/{booking_id}/resend")
async def resend_reservation(booking_id: str, request: Request) -> JSONResponse:
    """Send the latest version of a generated booking again, a duplicate on purpose."""
    return await _announce(request, [reservations.latest(_state(request), booking_id)])


@router.get("/reservations")
async def inspect_reservations(request: Request) -> dict[str, Any]:
    """The latest version of every reservation, generated here or pushed to /push/{partner}."""
    return {"data": list(_state(request).reservations.values())}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@router.get("/webhooks/deliveries")
async def inspect_deliveries(request: Request) -> dict[str, Any]:
    return {
        "data": [
            {
                "sequence": d.sequence,
                "booking_id": d.booking_id,
                "action": d.action,
                "status": d.status,
                "next_attempt_at": _iso(d.next_attempt_at),
                "body": d.body,
                "attempts": [
                    {
                        "at": _iso(a.at),
                        "status_code": a.status_code,
                        "error": a.error,
                        "is_duplicate": a.is_duplicate,
                    }
                    for a in d.attempts
                ],
            }
            for d in sorted(_state(request).deliveries, key=lambda d: d.sequence)
        ]
    }


@router.get("/ari")
async def inspect_ari(request: Request) -> dict[str, Any]:
    """What was pushed, per hotel: inventory and room restrictions per room code and date, rates
    and rate restrictions per room code, rate plan code and date."""
    state = _state(request)
    data: dict[str, Any] = defaultdict(
        lambda: {"inventory": {}, "room_restrictions": {}, "rates": {}, "rate_restrictions": {}}
    )
    for (hotel, room, d), available in sorted(state.inventory.items()):
        data[hotel]["inventory"].setdefault(room, {})[d.isoformat()] = available
    for (hotel, room, d), values in sorted(state.room_restrictions.items()):
        data[hotel]["room_restrictions"].setdefault(room, {})[d.isoformat()] = values
    for (hotel, room, plan, d), rate in sorted(state.rates.items()):
        data[hotel]["rates"].setdefault(room, {}).setdefault(plan, {})[d.isoformat()] = rate
    for (hotel, room, plan, d), values in sorted(state.rate_restrictions.items()):
        by_plan = data[hotel]["rate_restrictions"].setdefault(room, {}).setdefault(plan, {})
        by_plan[d.isoformat()] = values
    return {"data": dict(data)}
