"""The Booking.com simulator's `/_sim/` control plane (not Booking.com API).

The shared routes (faults, tick, requests, reset) are the kit's; the ones here make, change and
cancel reservations (queued for the provider to pull), and show the queues with what fell back
to e-mail, the ARI held and the counters.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from innsync.simulators.booking_com.state import (
    Booking,
    Flaw,
    Pump,
    QueueEntry,
    SimulatorState,
)
from innsync.simulators.kit.control import StateAndPump, control_router

router = APIRouter(prefix="/_sim")
_GIVEN = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken")
_SURNAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson")
_COUNTRIES = ("NL", "DE", "GB", "FR", "US", "IT")


class SimInputError(HTTPException):
    """A `/_sim/` request the simulator cannot act on (422, with the fields at fault)."""


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


class NewReservation(BaseModel):
    """A reservation to make; anything left out is drawn from the seeded generator."""

    model_config = ConfigDict(extra="forbid")

    hotel_id: str | None = None
    room_id: str | None = None
    rate_id: str | None = None
    arrival: date | None = None
    departure: date | None = None
    adults: int | None = Field(default=None, ge=1, le=8)
    children_ages: tuple[int, ...] = ()
    nightly_price: Decimal | None = Field(default=None, gt=0)
    is_virtual_card: bool | None = None
    flaw: Flaw | None = None
    """Send the reservation with this defect (schema-valid), to test a provider's handling."""


class Generate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1, le=1000)
    hotel_id: str | None = None


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrival: date | None = None
    departure: date | None = None
    adults: int | None = Field(default=None, ge=1, le=8)


def _queue(state: SimulatorState, queue: str, booking: Booking) -> QueueEntry:
    snapshot = Booking(**{name: getattr(booking, name) for name in Booking.__slots__})
    entry = QueueEntry(state.next_sequence(), queue, snapshot, state.now())  # type: ignore[arg-type]
    state.entries.append(entry)
    return entry


def create(state: SimulatorState, spec: NewReservation) -> QueueEntry:
    rng = state.rng
    hotel = state.config.hotel(spec.hotel_id) if spec.hotel_id else state.config.hotels[0]
    if hotel is None:
        raise invalid_sim_input({"hotel_id": ["is not a hotel of the simulator"]})
    room = hotel.room(spec.room_id) if spec.room_id else rng.choice(hotel.rooms)
    if room is None:
        raise invalid_sim_input({"room_id": ["is not a room of the hotel"]})
    rate_id = spec.rate_id or rng.choice(room.rate_ids)
    if rate_id not in room.rate_ids:
        raise invalid_sim_input({"rate_id": ["is not sold on the room"]})
    arrival = spec.arrival or state.today() + timedelta(days=rng.randint(1, 300))
    departure = spec.departure or arrival + timedelta(days=rng.randint(1, 5))
    if departure <= arrival:
        raise invalid_sim_input({"departure": ["must be after arrival"]})
    now = state.now()
    reservation_id = str(4_000_000_000 + state.next_sequence())
    booking = Booking(
        reservation_id=reservation_id,
        hotel_id=hotel.hotel_id,
        room_id=room.room_id,
        rate_id=rate_id,
        arrival=arrival,
        departure=departure,
        adults=spec.adults or rng.randint(1, 2),
        children_ages=spec.children_ages,
        nightly_price=str(spec.nightly_price or Decimal(rng.randint(80, 250))),
        guest_given=rng.choice(_GIVEN),
        guest_surname=rng.choice(_SURNAMES),
        email=f"guest{reservation_id}@guest.booking.example",
        country=rng.choice(_COUNTRIES),
        is_virtual_card=(
            spec.is_virtual_card if spec.is_virtual_card is not None else rng.random() < 0.3
        ),
        created_at=now,
        modified_at=now,
        flaw=spec.flaw,
    )
    state.bookings[reservation_id] = booking
    return _queue(state, "new", booking)


def _booking(state: SimulatorState, reservation_id: str) -> Booking:
    booking = state.bookings.get(reservation_id)
    if booking is None:
        raise HTTPException(status_code=404, detail=f"no reservation {reservation_id}")
    if booking.status == "Cancel":
        raise invalid_sim_input({"reservation_id": ["is cancelled"]})
    return booking


def modify(state: SimulatorState, reservation_id: str, change: Change) -> QueueEntry:
    booking = _booking(state, reservation_id)
    booking.arrival = change.arrival or booking.arrival
    booking.departure = change.departure or booking.departure
    booking.adults = change.adults or booking.adults
    if booking.departure <= booking.arrival:
        raise invalid_sim_input({"departure": ["must be after arrival"]})
    booking.status, booking.modified_at = "Modify", state.now()
    return _queue(state, "modify", booking)


def cancel(state: SimulatorState, reservation_id: str) -> QueueEntry:
    booking = _booking(state, reservation_id)
    booking.status, booking.modified_at = "Cancel", state.now()
    return _queue(state, "modify", booking)


def _made(*entries: QueueEntry) -> JSONResponse:
    return JSONResponse({"data": [entry.view() for entry in entries]}, status_code=201)


@router.post("/reservations")
async def new_reservation(spec: NewReservation, request: Request) -> JSONResponse:
    return _made(create(_state(request), spec))


@router.post("/reservations/generate")
async def generate(spec: Generate, request: Request) -> JSONResponse:
    state = _state(request)
    made = [create(state, NewReservation(hotel_id=spec.hotel_id)) for _ in range(spec.count)]
    return _made(*made)


@router.post("/reservations/{reservation_id}/modify")
async def modify_reservation(reservation_id: str, change: Change, request: Request) -> JSONResponse:
    return _made(modify(_state(request), reservation_id, change))


@router.post("/reservations/{reservation_id}/cancel")
async def cancel_reservation(reservation_id: str, request: Request) -> JSONResponse:
    return _made(cancel(_state(request), reservation_id))


@router.get("/reservations")
async def inspect_reservations(request: Request) -> dict[str, Any]:
    return {"data": [booking.view() for booking in _state(request).bookings.values()]}


@router.get("/queues")
async def inspect_queues(request: Request) -> dict[str, Any]:
    """Every queued message with its status: pending, acknowledged or email (fell back)."""
    state = _state(request)
    state.sweep_fallbacks()
    entries = [entry.view() for entry in state.entries]
    counts: dict[str, int] = defaultdict(int)
    for entry in state.entries:
        counts[entry.status] += 1
    return {"data": entries, "counts": dict(counts)}


@router.get("/counters")
async def inspect_counters(request: Request) -> dict[str, int]:
    state = _state(request)
    state.sweep_fallbacks()
    counters = state.counters
    return {name: getattr(counters, name) for name in counters.__slots__}


@router.get("/ari")
async def inspect_ari(request: Request) -> dict[str, Any]:
    """What was pushed, per hotel: rooms to sell per room and date; restrictions and prices
    per room, rate and date."""
    state = _state(request)
    data: dict[str, Any] = defaultdict(
        lambda: {"availability": {}, "restrictions": {}, "prices": {}}
    )
    for (hotel, room, day), units in sorted(state.availability.items()):
        data[hotel]["availability"].setdefault(room, {})[day.isoformat()] = units
    for (hotel, room, rate, day), held in sorted(state.restrictions.items()):
        by_rate = data[hotel]["restrictions"].setdefault(room, {}).setdefault(rate, {})
        by_rate[day.isoformat()] = held.view()
    for (hotel, room, rate, day), amounts in sorted(state.prices.items()):
        by_rate = data[hotel]["prices"].setdefault(room, {}).setdefault(rate, {})
        by_rate[day.isoformat()] = amounts
    return {"data": dict(data)}
