"""The Agoda simulator's ``/_sim/`` control plane (not Agoda API).

The shared routes (faults, tick, requests, reset) are the kit's; the ones here make, amend and
cancel bookings, send a hand-made hint, and show the bookings' actions (acknowledged or fallen
back to e-mail/fax), the hint deliveries, the ARI held and the counters.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from innsync.simulators.agoda.hints import Pump
from innsync.simulators.agoda.state import Booking, SimulatorState
from innsync.simulators.kit.control import StateAndPump, control_router, invalid_sim_input

router = APIRouter(prefix="/_sim")
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson")


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _pump(request: Request) -> Pump:
    pump: Pump = request.app.state.pump
    return pump


shared_router = control_router(
    lambda request: StateAndPump(_state(request), _pump(request)), invalid_sim_input
)


class NewBooking(BaseModel):
    """A booking to make; anything left out is drawn from the seeded generator."""

    model_config = ConfigDict(extra="forbid")

    property_id: str | None = None
    room_id: str | None = None
    rateplan_id: str | None = None
    arrival: date | None = None
    departure: date | None = None
    adults: int | None = Field(default=None, ge=1, le=8)
    children: int = Field(default=0, ge=0, le=4)
    room_count: int = Field(default=1, ge=1, le=5)
    nightly_price: Decimal | None = Field(default=None, gt=0, decimal_places=2)
    payment_model: int = Field(default=1, ge=1, le=2)
    flaw: Literal["price_outside_stay"] | None = None


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrival: date | None = None
    departure: date | None = None
    adults: int | None = Field(default=None, ge=1, le=8)


def create(state: SimulatorState, spec: NewBooking) -> Booking:
    rng = state.rng
    config = state.config
    setup = config.property(spec.property_id) if spec.property_id else config.properties[0]
    if setup is None:
        raise invalid_sim_input({"property_id": ["is not a property of the simulator"]})
    room = setup.room(spec.room_id) if spec.room_id else rng.choice(setup.rooms)
    if room is None:
        raise invalid_sim_input({"room_id": ["is not a room of the property"]})
    rateplan_id = spec.rateplan_id or rng.choice(room.rateplan_ids)
    if rateplan_id not in room.rateplan_ids:
        raise invalid_sim_input({"rateplan_id": ["is not sold on the room"]})
    arrival = spec.arrival or state.today() + timedelta(days=rng.randint(1, 300))
    departure = spec.departure or arrival + timedelta(days=rng.randint(1, 5))
    if departure <= arrival:
        raise invalid_sim_input({"departure": ["must be after arrival"]})
    now = state.now()
    booking = Booking(
        booking_id=str(220_000_000 + state.next_sequence()),
        property_id=setup.property_id,
        room_id=room.room_id,
        rateplan_id=rateplan_id,
        arrival=arrival,
        departure=departure,
        adults=spec.adults or rng.randint(1, 2),
        children=spec.children,
        room_count=spec.room_count,
        nightly_price=str(spec.nightly_price or Decimal(rng.randint(60, 240))),
        currency=setup.currency,
        first_name=rng.choice(_FIRST),
        last_name=rng.choice(_LAST),
        booked_at=now,
        last_action=now,
        payment_model=spec.payment_model,
        flaw=spec.flaw,
    )
    state.bookings[booking.booking_id] = booking
    state.record_action(booking)
    return booking


def _booking(state: SimulatorState, booking_id: str) -> Booking:
    booking = state.bookings.get(booking_id)
    if booking is None:
        raise HTTPException(status_code=404, detail=f"no booking {booking_id}")
    if booking.status == "CancelBooking":
        raise invalid_sim_input({"booking_id": ["is cancelled"]})
    return booking


def amend(state: SimulatorState, booking_id: str, change: Change) -> Booking:
    booking = _booking(state, booking_id)
    arrival = change.arrival or booking.arrival
    departure = change.departure or booking.departure
    if departure <= arrival:
        raise invalid_sim_input({"departure": ["must be after arrival"]})
    booking.arrival, booking.departure = arrival, departure
    booking.adults = change.adults or booking.adults
    booking.status, booking.last_action = "AmendBooking", state.now()
    state.record_action(booking)
    return booking


def cancel(state: SimulatorState, booking_id: str) -> Booking:
    booking = _booking(state, booking_id)
    booking.status, booking.last_action = "CancelBooking", state.now()
    state.record_action(booking)
    return booking


def _made(booking: Booking) -> JSONResponse:
    return JSONResponse({"data": booking.view()}, status_code=201)


@router.post("/bookings")
async def new_booking(spec: NewBooking, request: Request) -> JSONResponse:
    return _made(create(_state(request), spec))


@router.post("/bookings/{booking_id}/amend")
async def amend_booking(booking_id: str, change: Change, request: Request) -> JSONResponse:
    return _made(amend(_state(request), booking_id, change))


@router.post("/bookings/{booking_id}/cancel")
async def cancel_booking(booking_id: str, request: Request) -> JSONResponse:
    return _made(cancel(_state(request), booking_id))


@router.get("/bookings")
async def inspect_bookings(request: Request) -> dict[str, Any]:
    """Every booking's latest state and every action, with its acknowledgement and fallback."""
    state = _state(request)
    state.sweep_fallbacks()
    counts: dict[str, int] = defaultdict(int)
    for action in state.actions:
        if action.retrieved_at is not None:
            counts["acknowledged"] += 1
        elif action.fell_back_at is not None:
            counts["fell_back"] += 1
        else:
            counts["pending"] += 1
    return {
        "data": [booking.view() for booking in state.bookings.values()],
        "actions": [action.view() for action in state.actions],
        "counts": dict(counts),
    }


@router.get("/hints")
async def inspect_hints(request: Request) -> dict[str, Any]:
    """Every BookingHint delivery attempt, oldest first."""
    return {"data": [delivery.view() for delivery in _state(request).hint_deliveries]}


@router.get("/counters")
async def inspect_counters(request: Request) -> dict[str, int]:
    state = _state(request)
    state.sweep_fallbacks()
    counters = state.counters
    return {name: getattr(counters, name) for name in counters.__slots__}


@router.get("/ari")
async def inspect_ari(request: Request) -> dict[str, Any]:
    """What was set, per property: allotment per room and date; prices and restrictions per
    room, rate plan and date."""
    state = _state(request)
    data: dict[str, Any] = defaultdict(
        lambda: {"availability": {}, "prices": {}, "restrictions": {}}
    )
    for (pid, room, day), units in sorted(state.availability.items()):
        data[pid]["availability"].setdefault(room, {})[day.isoformat()] = units
    for (pid, room, plan, day), amounts in sorted(state.prices.items()):
        data[pid]["prices"].setdefault(room, {}).setdefault(plan, {})[day.isoformat()] = amounts
    for (pid, room, plan, day), held in sorted(state.restrictions.items()):
        by_plan = data[pid]["restrictions"].setdefault(room, {}).setdefault(plan, {})
        by_plan[day.isoformat()] = held
    return {"data": dict(data)}
