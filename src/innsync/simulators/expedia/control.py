"""The EQC simulator's ``/_sim/`` control plane (not Expedia's API).

The shared routes (faults, tick, requests, reset) are the kit's; the ones here make, modify and
cancel bookings (each a transaction BR hands out in sequence), and show the bookings with their
transactions, the ARI held and the counters (``fallback``: transactions sent by fax or e-mail
because nobody confirmed them in time).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from innsync.simulators.expedia.state import Booking, Pump, SimulatorState, Stay
from innsync.simulators.kit.control import StateAndPump, control_router

router = APIRouter(prefix="/_sim")


class SimInputError(HTTPException):
    """A ``/_sim/`` request the simulator cannot act on (422, with the fields at fault)."""


def invalid_sim_input(details: dict[str, list[str]]) -> Exception:
    return SimInputError(status_code=422, detail=details)


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _pump(request: Request) -> Pump:
    pump: Pump = request.app.state.pump
    return pump


shared_router = control_router(
    lambda request: StateAndPump(_state(request), _pump(request)), invalid_sim_input
)


class NewBookings(BaseModel):
    """Bookings to make; anything left out is drawn from the seeded generator."""

    model_config = ConfigDict(extra="forbid")

    hotel_id: str = "211"
    room_id: str | None = None
    rate_id: str | None = None
    arrival: date | None = None
    nights: int = Field(default=2, ge=1, le=28)
    adults: int = Field(default=2, ge=1, le=8)
    child_ages: list[int] = Field(default_factory=list, max_length=6)
    nightly_rate: str = "120.00"
    count: int = Field(default=1, ge=1, le=1000)
    source: str = "Expedia"


class Modification(BaseModel):
    """What a Modify transaction changes; the rest is kept."""

    model_config = ConfigDict(extra="forbid")

    arrival: date | None = None
    nights: int | None = Field(default=None, ge=1, le=28)
    departure: date | None = None
    """Instead of ``nights``: the new departure."""
    adults: int | None = Field(default=None, ge=1, le=8)
    nightly_rate: str | None = None


def _view(booking: Booking) -> dict[str, Any]:
    stay = booking.latest.stay
    return {
        "booking_id": booking.booking_id,
        "hotel_id": booking.hotel_id,
        "room_id": stay.room_id,
        "rate_id": stay.rate_id,
        "arrival": stay.arrival.isoformat(),
        "departure": stay.departure.isoformat(),
        "transactions": [transaction.view() for transaction in booking.transactions],
    }


@router.post("/bookings", status_code=201)
async def make_bookings(request: Request, wanted: NewBookings) -> dict[str, Any]:
    """Make ``count`` bookings (Book transactions, pending retrieval)."""
    state = _state(request)
    hotel = state.config.hotel(wanted.hotel_id)
    if hotel is None:
        raise invalid_sim_input({"hotel_id": ["is not a simulated hotel"]})
    made = []
    for _ in range(wanted.count):
        room = hotel.room(wanted.room_id) if wanted.room_id else state.rng.choice(hotel.rooms)
        if room is None:
            raise invalid_sim_input({"room_id": ["is not a room type of the hotel"]})
        rate_id = wanted.rate_id or state.rng.choice(room.rate_ids)
        if rate_id not in room.rate_ids:
            raise invalid_sim_input({"rate_id": ["is not a rate plan of the room type"]})
        arrival = wanted.arrival or state.now().date() + timedelta(days=state.rng.randrange(3, 90))
        stay = Stay(
            room.room_id,
            rate_id,
            arrival,
            arrival + timedelta(days=wanted.nights),
            wanted.adults,
            tuple(wanted.child_ages),
            wanted.nightly_rate,
            hotel.currency,
        )
        made.append(_view(state.new_booking(hotel.hotel_id, stay, wanted.source)))
    return {"data": made}


def _booking(state: SimulatorState, booking_id: str) -> Booking:
    booking = state.bookings.get(booking_id)
    if booking is None:
        raise HTTPException(status_code=404, detail="no such booking")
    if booking.latest.kind == "Cancel":
        raise invalid_sim_input({"booking_id": ["is cancelled"]})
    return booking


@router.post("/bookings/{booking_id}/modify")
async def modify_booking(request: Request, booking_id: str, change: Modification) -> dict[str, Any]:
    """Add a Modify transaction to the booking."""
    state = _state(request)
    booking = _booking(state, booking_id)
    stay = booking.latest.stay
    arrival = change.arrival or stay.arrival
    nights = change.nights or (stay.departure - stay.arrival).days
    if change.departure is not None:
        nights = (change.departure - arrival).days
        if not 1 <= nights <= 28:
            raise invalid_sim_input({"departure": ["must be 1 to 28 nights after the arrival"]})
    new_stay = Stay(
        stay.room_id,
        stay.rate_id,
        arrival,
        arrival + timedelta(days=nights),
        change.adults or stay.adults,
        stay.child_ages,
        change.nightly_rate or stay.nightly_rate,
        stay.currency,
    )
    state.add_transaction(booking, "Modify", new_stay)
    return _view(booking)


@router.post("/bookings/{booking_id}/cancel")
async def cancel_booking(request: Request, booking_id: str) -> dict[str, Any]:
    """Add a Cancel transaction to the booking."""
    state = _state(request)
    booking = _booking(state, booking_id)
    state.add_transaction(booking, "Cancel", booking.latest.stay)
    return _view(booking)


@router.get("/bookings")
async def list_bookings(request: Request) -> dict[str, Any]:
    """Every booking with its transactions, in the order they were made."""
    return {"data": [_view(booking) for booking in _state(request).bookings.values()]}


@router.get("/ari")
async def show_ari(request: Request, hotel_id: str) -> JSONResponse:
    """What AR left per room type and date, and per rate plan and date."""
    state = _state(request)
    rooms: dict[str, dict[str, Any]] = {}
    for (hotel, room_id, day), fields in sorted(state.room_days.items()):
        if hotel == hotel_id:
            rooms.setdefault(room_id, {})[day.isoformat()] = fields
    rates: dict[str, dict[str, Any]] = {}
    for (hotel, room_id, rate_id, day), fields in sorted(state.rate_days.items()):
        if hotel == hotel_id:
            rates.setdefault(f"{room_id}/{rate_id}", {})[day.isoformat()] = fields
    return JSONResponse({"rooms": rooms, "rates": rates})


@router.get("/counters")
async def counters(request: Request) -> dict[str, int]:
    """Requests per endpoint, updates applied, errors answered, transactions fallen back."""
    return dict(_state(request).counters)
