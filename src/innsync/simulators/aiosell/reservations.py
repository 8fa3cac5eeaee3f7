"""Reservations Aiosell makes up and sends to the PMS: book, modify, cancel (§1.10, §1.11)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from innsync.simulators.aiosell.errors import AiosellError
from innsync.simulators.aiosell.state import SimulatorState

CHANNELS = ("MakeMyTrip", "Goibibo", "Booking.com", "Agoda", "Expedia")
FIRST_NAMES = ("Asha", "Ravi", "Meera", "Arjun", "Kavya", "Rohan")
LAST_NAMES = ("Rao", "Iyer", "Shah", "Nair", "Gupta", "Menon")
TAX_RATE = 0.12


class NewReservation(BaseModel):
    """A booking to make; anything left out is drawn from the seeded generator."""

    model_config = ConfigDict(extra="forbid")

    hotel_code: str | None = None
    room_code: str | None = None
    rateplan_code: str | None = None
    checkin: date | None = None
    nights: int = Field(default=2, ge=1, le=30)
    adults: int = Field(default=2, ge=1, le=8)
    children: int = Field(default=0, ge=0, le=8)
    sell_rate: float = Field(default=3750.0, ge=0)
    channel: str | None = None
    booking_id: str | None = None
    pah: bool = False


class GenerateReservations(BaseModel):
    """Several random bookings at once."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1, le=500)
    hotel_code: str | None = None


class ReservationChange(BaseModel):
    """A modification: the full booking is re-sent with these changes (§1.10)."""

    model_config = ConfigDict(extra="forbid")

    checkin: date | None = None
    nights: int | None = Field(default=None, ge=1, le=30)
    adults: int | None = Field(default=None, ge=1, le=8)
    sell_rate: float | None = Field(default=None, ge=0)


Action = Literal["book", "modify", "cancel"]


def _prices(checkin: date, nights: int, sell_rate: float) -> list[dict[str, Any]]:
    return [
        {"date": (checkin + timedelta(days=n)).isoformat(), "sellRate": sell_rate}
        for n in range(nights)
    ]


def _amount(prices: list[dict[str, Any]], currency: str) -> dict[str, Any]:
    before = round(sum(float(p["sellRate"]) for p in prices), 2)
    tax = round(before * TAX_RATE, 2)
    return {
        "amountAfterTax": round(before + tax, 2),
        "amountBeforeTax": before,
        "tax": tax,
        "currency": currency,
    }


def create(state: SimulatorState, spec: NewReservation) -> dict[str, Any]:
    """A new booking in the §1.10 shape with `action: book`, stored as the latest version."""
    rng = state.rng
    config = state.config
    hotel = config.hotel(spec.hotel_code) if spec.hotel_code else rng.choice(config.hotels)
    if hotel is None:
        raise AiosellError(422, f"hotel_code: unknown hotel {spec.hotel_code}")
    room = hotel.room(spec.room_code) if spec.room_code else rng.choice(hotel.rooms)
    if room is None:
        raise AiosellError(422, f"room_code: unknown room {spec.room_code}")
    plan = spec.rateplan_code or rng.choice(room.rateplan_codes)
    if plan not in room.rateplan_codes:
        raise AiosellError(422, f"rateplan_code: unknown rate plan {plan}")
    booking_id = spec.booking_id or f"SIM{rng.randrange(10**7, 10**8)}"
    if booking_id in state.reservations:
        raise AiosellError(422, f"booking_id: {booking_id} exists")
    now = state.now()
    checkin = spec.checkin or now.date() + timedelta(days=rng.randrange(1, 60))
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    prices = _prices(checkin, spec.nights, spec.sell_rate)
    reservation: dict[str, Any] = {
        "action": "book",
        "hotelCode": hotel.hotel_code,
        "channel": spec.channel or rng.choice(CHANNELS),
        "bookingId": booking_id,
        "cmBookingId": f"AIO-{rng.randrange(10**5, 10**6)}",
        "bookedOn": now.strftime("%Y-%m-%d %H:%M:%S"),
        "checkin": checkin.isoformat(),
        "checkout": (checkin + timedelta(days=spec.nights)).isoformat(),
        "segment": "OTA",
        "specialRequests": "",
        "pah": spec.pah,
        "amount": _amount(prices, hotel.currency),
        "guest": {
            "firstName": first,
            "lastName": last,
            "email": f"{first.lower()}.{last.lower()}@example.com",
            "phone": f"+91{rng.randrange(10**9, 10**10)}",
            "address": {
                "line1": "1 Main Rd",
                "city": "Pune",
                "state": "MH",
                "country": "India",
                "zipCode": "411001",
            },
        },
        "rooms": [
            {
                "roomCode": room.room_code,
                "rateplanCode": plan,
                "guestName": f"{first} {last}",
                "occupancy": {"adults": spec.adults, "children": spec.children},
                "prices": prices,
            }
        ],
    }
    state.reservations[booking_id] = reservation
    state.generated.add(booking_id)
    return reservation


def latest(state: SimulatorState, booking_id: str) -> dict[str, Any]:
    """The latest version of a reservation this simulator generated."""
    known = state.reservations.get(booking_id)
    if known is None:
        raise AiosellError(404, f"Unknown bookingId: {booking_id}")
    if booking_id not in state.generated:
        raise AiosellError(422, f"booking {booking_id} was pushed, not generated here")
    return known


def _known(state: SimulatorState, booking_id: str) -> dict[str, Any]:
    known = latest(state, booking_id)
    if known["action"] == "cancel":
        raise AiosellError(422, f"booking {booking_id} is cancelled")
    return known


def modify(state: SimulatorState, booking_id: str, change: ReservationChange) -> dict[str, Any]:
    """The full booking again with `action: modify` (§1.10: a modify re-sends everything)."""
    known = _known(state, booking_id)
    room = dict(known["rooms"][0])
    old_prices = room["prices"]
    checkin = change.checkin or date.fromisoformat(known["checkin"])
    nights = change.nights or len(old_prices)
    rate = change.sell_rate if change.sell_rate is not None else float(old_prices[0]["sellRate"])
    room["prices"] = _prices(checkin, nights, rate)
    if change.adults is not None:
        room["occupancy"] = {**room["occupancy"], "adults": change.adults}
    modified = {
        **known,
        "action": "modify",
        "checkin": checkin.isoformat(),
        "checkout": (checkin + timedelta(days=nights)).isoformat(),
        "amount": _amount(room["prices"], str(known["amount"]["currency"])),
        "rooms": [room],
    }
    state.reservations[booking_id] = modified
    return modified


def cancel(state: SimulatorState, booking_id: str) -> dict[str, Any]:
    """`action: cancel`; the full booking, or only the four keys of §1.10's 3P note."""
    known = _known(state, booking_id)
    cancelled = {**known, "action": "cancel"}
    state.reservations[booking_id] = cancelled
    if state.config.cancel_payload == "minimal":
        return {key: cancelled[key] for key in ("action", "hotelCode", "channel", "bookingId")}
    return cancelled


_OPERATIONS = {"book": "new_booking", "modify": "modify_booking", "cancel": "cancel_booking"}


def new_booking_payload(state: SimulatorState, reservation: dict[str, Any]) -> dict[str, Any]:
    """§1.11's richer shape. Only `new_booking` is documented; the modify and cancel operation
    names (`modify_booking`, `cancel_booking`) are [INFERRED]."""
    full = state.reservations.get(str(reservation["bookingId"]), reservation)
    currency = full.get("amount", {}).get("currency")
    guest = full.get("guest")
    rooms = [
        {
            "name": room["roomCode"],
            "id": room["roomCode"],
            "rateplan": {"name": room["rateplanCode"], "id": room["rateplanCode"]},
            "occupancy": room["occupancy"],
            "currency": currency,
            "guest": guest,
            "prices": [
                {
                    "date": price["date"],
                    "sellRate": price["sellRate"],
                    "tax": round(float(price["sellRate"]) * TAX_RATE, 2),
                }
                for price in room["prices"]
            ],
        }
        for room in full.get("rooms", [])
    ]
    amount = full.get("amount", {})
    return {
        "hotelCountryCode": "IN",
        "hotelId": full["hotelCode"],
        "operation": _OPERATIONS[str(reservation["action"])],
        "reservation": {
            "sourceFields": {"channel": full.get("channel"), "segment": full.get("segment")},
            "bookingId": full["bookingId"],
            "CMBookingId": full.get("cmBookingId"),
            "checkin": full.get("checkin"),
            "checkout": full.get("checkout"),
            "rooms": rooms,
            "amount": {
                "amountBeforeTax": amount.get("amountBeforeTax"),
                "netOfCommissionAfterTax": amount.get("amountAfterTax"),
                "amountToBePaidByCustomer": amount.get("amountAfterTax"),
            },
        },
    }
