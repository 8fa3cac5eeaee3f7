"""Simulated OTA bookings: new, modified and cancelled revisions of one booking (§1.6)."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from innsync.simulators.channex import ari_reads
from innsync.simulators.channex.errors import NOT_FOUND_MESSAGE, not_found, validation_error
from innsync.simulators.channex.money import CENT, format_amount
from innsync.simulators.channex.state import BookingRevision, SimulatorState
from innsync.stay_dates import DateRange

# §1.6: unique_id is the OTA's code plus the reservation code, e.g. BDC-9996013801.
OTA_CODES = {"Booking.com": "BDC", "Expedia": "EXP", "Airbnb": "ABB", "Offline": "OFL"}
# A rate plan that was never priced still yields a plausible booking amount.
FALLBACK_NIGHTLY = Decimal("100.00")
# §1.6 taxes: VAT counted in the nightly prices, a city tax per adult and night on top.
VAT_RATE = Decimal("0.10")
CITY_TAX_PER_ADULT_NIGHT = Decimal("2.50")
# §1.6 ota_commission: what the OTA keeps; a share of the amount (none for offline bookings).
COMMISSION_RATE = Decimal("0.15")
_FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Tim")
_SURNAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Lee")


class NewBooking(BaseModel):
    """A booking as an OTA would send it; a null room type or rate plan means unmapped."""

    model_config = ConfigDict(extra="forbid")

    property_id: str
    room_type_id: str | None
    rate_plan_id: str | None
    arrival_date: date
    departure_date: date
    adults: int = Field(default=2, ge=1)
    children: int = Field(default=0, ge=0)
    infants: int = Field(default=0, ge=0)
    amount: Decimal | None = Field(default=None, gt=0)
    ota_name: str = "Booking.com"
    customer_name: str = "Ada"
    customer_surname: str = "Lovelace"
    customer_country: str = "GB"
    customer_language: str = "en"
    has_card: bool = True
    is_virtual_card: bool = False
    notes: str | None = None
    arrival_hour: str | None = "15:00"
    child_ages: list[int] = Field(default_factory=list)
    payment_collect: Literal["property", "ota"] | None = "property"


class BookingChange(BaseModel):
    """What a modification changes; fields left out keep their values."""

    model_config = ConfigDict(extra="forbid")

    arrival_date: date | None = None
    departure_date: date | None = None
    adults: int | None = Field(default=None, ge=1)
    amount: Decimal | None = Field(default=None, gt=0)
    notes: str | None = None


class GenerateBookings(BaseModel):
    """A batch of seeded random booking activity."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=1, ge=1, le=1000)
    property_id: str | None = None
    modify_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    cancel_rate: float = Field(default=0.0, ge=0.0, le=1.0)


def _timestamp(state: SimulatorState) -> str:
    """§1.6: inserted_at is a naive UTC timestamp with microseconds and no Z."""
    return state.now().astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _check(state: SimulatorState, spec: NewBooking) -> None:
    errors: dict[str, list[str]] = {}
    if spec.property_id not in state.properties:
        errors["property_id"] = [NOT_FOUND_MESSAGE]
    room_type = state.room_types.get(spec.room_type_id or "")
    plan = state.rate_plans.get(spec.rate_plan_id or "")
    if spec.room_type_id is not None and (
        room_type is None or room_type.attributes["property_id"] != spec.property_id
    ):
        errors["room_type_id"] = [NOT_FOUND_MESSAGE]
    if spec.rate_plan_id is not None and (
        plan is None or plan.attributes["room_type_id"] != spec.room_type_id
    ):
        errors["rate_plan_id"] = [NOT_FOUND_MESSAGE]
    if spec.departure_date <= spec.arrival_date:
        errors["departure_date"] = ["must be after arrival_date"]
    if errors:
        raise validation_error(errors)


def _nightly(state: SimulatorState, spec: NewBooking) -> dict[str, str]:
    """§1.6 `days`: one price per night, checkout excluded, from the simulated ARI."""
    nights = list(DateRange(spec.arrival_date, spec.departure_date))
    plan = state.rate_plans.get(spec.rate_plan_id or "")
    if spec.amount is not None:
        each = (spec.amount / len(nights)).quantize(CENT)
        prices = [each] * len(nights)
        prices[0] += spec.amount - each * len(nights)
    elif plan is not None:
        per_person = plan.attributes["sell_mode"] == "per_person"
        occupancy = spec.adults if per_person else None
        prices = [ari_reads.rate(state, plan, night, occupancy) for night in nights]
    else:
        prices = [FALLBACK_NIGHTLY] * len(nights)
    return {
        night.isoformat(): format_amount(price) for night, price in zip(nights, prices, strict=True)
    }


def _taxes(spec: NewBooking, total: Decimal) -> list[dict[str, Any]]:
    """§1.6 room ``taxes``: the VAT inside the price and the city tax on top."""
    nights = (spec.departure_date - spec.arrival_date).days
    vat = (total * VAT_RATE / (1 + VAT_RATE)).quantize(CENT)
    city_tax = CITY_TAX_PER_ADULT_NIGHT * spec.adults * nights
    return [
        {
            "is_inclusive": True,
            "name": "VAT",
            "total_price": format_amount(vat),
            "type": "tax",
            "nights": nights,
            "persons": None,
            "price_mode": "per_booking",
            "price_per_unit": format_amount(vat),
        },
        {
            "is_inclusive": False,
            "name": "City tax",
            "total_price": format_amount(city_tax),
            "type": "city_tax",
            "nights": nights,
            "persons": spec.adults,
            "price_mode": "per_person_per_night",
            "price_per_unit": format_amount(CITY_TAX_PER_ADULT_NIGHT),
        },
    ]


def _attributes(
    state: SimulatorState, spec: NewBooking, booking_id: str, revision_id: str, status: str
) -> dict[str, Any]:
    days = _nightly(state, spec)
    total = sum((Decimal(p) for p in days.values()), Decimal(0))
    amount = format_amount(total)
    code = "".join(str(state.booking_rng.randrange(10)) for _ in range(10))
    occupancy: dict[str, Any] = {
        "adults": spec.adults,
        "children": spec.children,
        "infants": spec.infants,
    }
    if spec.child_ages:
        occupancy["ages"] = list(spec.child_ages)
    guarantee = (
        # §1.1: without PCI access the card number is masked and the cvv is "***".
        {
            "card_number": "411111******1111",
            "card_type": "VI" if not spec.is_virtual_card else "MC",
            "cardholder_name": f"{spec.customer_name} {spec.customer_surname}",
            "cvv": "***",
            "expiration_date": "10/2030",
            "is_virtual": spec.is_virtual_card,
        }
        if spec.has_card
        else None
    )
    commission = (
        None
        if spec.ota_name == "Offline"
        else format_amount((total * COMMISSION_RATE).quantize(CENT))
    )
    return {
        "booking_id": booking_id,
        "revision_id": revision_id,
        "property_id": spec.property_id,
        "unique_id": f"{OTA_CODES.get(spec.ota_name, 'OTA')}-{code}",
        "system_id": str(state.booking_rng.randrange(10**11, 10**12)),
        "ota_reservation_code": code,
        "ota_name": spec.ota_name,
        "status": status,
        "arrival_date": spec.arrival_date.isoformat(),
        "departure_date": spec.departure_date.isoformat(),
        "arrival_hour": spec.arrival_hour,
        "amount": amount,
        "currency": state.properties[spec.property_id].attributes["currency"],
        "ota_commission": commission,
        "payment_collect": spec.payment_collect,
        "payment_type": "credit_card" if spec.has_card else "bank_transfer",
        "notes": spec.notes,
        "occupancy": occupancy,
        "customer": {
            "name": spec.customer_name,
            "surname": spec.customer_surname,
            "mail": f"{spec.customer_name.lower()}@example.com",
            "phone": "+44 20 7946 0000",
            "country": spec.customer_country,
            "city": "London",
            "address": "12 St James's Square",
            "zip": "SW1Y 4JH",
            "language": spec.customer_language,
            "company": None,
            "meta": {"is_genius": False},
        },
        "guarantee": guarantee,
        "services": [],
        "rooms": [
            {
                "booking_room_id": state.new_id(),
                "checkin_date": spec.arrival_date.isoformat(),
                "checkout_date": spec.departure_date.isoformat(),
                "room_type_id": spec.room_type_id,
                "rate_plan_id": spec.rate_plan_id,
                "amount": amount,
                "days": days,
                "occupancy": occupancy,
                "guests": [{"name": spec.customer_name, "surname": spec.customer_surname}],
                "services": [],
                "taxes": _taxes(spec, total),
                "meta": {},
            }
        ],
        "inserted_at": _timestamp(state),
    }


def _autoupdate(state: SimulatorState, attributes: dict[str, Any], delta: int) -> None:
    """Move availability by ``delta`` on every mapped night (§1.4 availability autoupdate)."""
    for room in attributes["rooms"]:
        if room["room_type_id"] is None:
            continue
        counts = state.availability.setdefault(room["room_type_id"], {})
        for night in room["days"]:
            stay_date = date.fromisoformat(night)
            counts[stay_date] = max(0, counts.get(stay_date, 0) + delta)


def _store(state: SimulatorState, attributes: dict[str, Any]) -> BookingRevision:
    revision = BookingRevision(
        id=attributes["revision_id"],
        booking_id=attributes["booking_id"],
        property_id=attributes["property_id"],
        status=attributes["status"],
        attributes=attributes,
        inserted_at=state.now(),
        sequence=state.next_sequence(),
    )
    state.revisions[revision.id] = revision
    return revision


def _settings(state: SimulatorState, property_id: str) -> dict[str, Any]:
    settings: dict[str, Any] = state.properties[property_id].attributes["settings"]
    return settings


def create_booking(state: SimulatorState, spec: NewBooking) -> BookingRevision:
    """A `new` revision of a new booking."""
    _check(state, spec)
    attributes = _attributes(state, spec, state.new_id(), state.new_id(), "new")
    if _settings(state, spec.property_id)["allow_availability_autoupdate_on_confirmation"]:
        _autoupdate(state, attributes, -1)
    return _store(state, attributes)


def latest(state: SimulatorState, booking_id: str) -> BookingRevision:
    """The newest revision of a booking, or 404."""
    found = [r for r in state.revisions.values() if r.booking_id == booking_id]
    if not found:
        raise not_found()
    return max(found, key=lambda r: r.sequence)


def _live(state: SimulatorState, booking_id: str) -> BookingRevision:
    current = latest(state, booking_id)
    if current.status == "cancelled":
        raise validation_error({"booking": ["is cancelled"]})
    return current


def modify_booking(
    state: SimulatorState, booking_id: str, change: BookingChange
) -> BookingRevision:
    """A `modified` revision sharing the booking id (§1.6 lifecycle)."""
    current = _live(state, booking_id)
    old = current.attributes
    room = old["rooms"][0]
    spec = NewBooking(
        property_id=old["property_id"],
        room_type_id=room["room_type_id"],
        rate_plan_id=room["rate_plan_id"],
        arrival_date=change.arrival_date or date.fromisoformat(old["arrival_date"]),
        departure_date=change.departure_date or date.fromisoformat(old["departure_date"]),
        adults=change.adults or old["occupancy"]["adults"],
        children=old["occupancy"]["children"],
        infants=old["occupancy"]["infants"],
        amount=change.amount,
        ota_name=old["ota_name"],
        customer_name=old["customer"]["name"],
        customer_surname=old["customer"]["surname"],
        customer_country=old["customer"]["country"],
        customer_language=old["customer"]["language"],
        has_card=old["guarantee"] is not None,
        is_virtual_card=old["guarantee"] is not None and old["guarantee"]["is_virtual"],
        notes=change.notes if change.notes is not None else old["notes"],
        arrival_hour=old["arrival_hour"],
        child_ages=old["occupancy"].get("ages", []),
        payment_collect=old["payment_collect"],
    )
    _check(state, spec)
    attributes = _attributes(state, spec, booking_id, state.new_id(), "modified")
    # §1.6: a modification keeps the booking's unique_id; system_id is new per revision.
    for kept in ("unique_id", "ota_reservation_code"):
        attributes[kept] = old[kept]
    if _settings(state, spec.property_id)["allow_availability_autoupdate_on_modification"]:
        _autoupdate(state, old, +1)
        _autoupdate(state, attributes, -1)
    return _store(state, attributes)


def cancel_booking(state: SimulatorState, booking_id: str) -> BookingRevision:
    """A `cancelled` revision that still carries the full booking body (§1.6)."""
    old = _live(state, booking_id).attributes
    attributes = {
        **old,
        "revision_id": state.new_id(),
        "status": "cancelled",
        # §1.6: system_id is unique per revision.
        "system_id": str(state.booking_rng.randrange(10**11, 10**12)),
        "inserted_at": _timestamp(state),
    }
    if _settings(state, old["property_id"])["allow_availability_autoupdate_on_cancellation"]:
        _autoupdate(state, old, +1)
    return _store(state, attributes)


def generate(state: SimulatorState, request: GenerateBookings) -> list[BookingRevision]:
    """Seeded random activity: new bookings, and modifications or cancellations of live ones."""
    rng = state.booking_rng
    plans = [
        p
        for p in state.rate_plans.values()
        if request.property_id in (None, p.attributes["property_id"])
    ]
    if not plans:
        raise validation_error({"property_id": ["has no rate plans to book"]})
    created: list[BookingRevision] = []
    for _ in range(request.count):
        roll = rng.random()
        live = sorted(
            {r.booking_id for r in state.revisions.values()}
            - {r.booking_id for r in state.revisions.values() if r.status == "cancelled"}
        )
        if live and roll < request.cancel_rate:
            created.append(cancel_booking(state, rng.choice(live)))
        elif live and roll < request.cancel_rate + request.modify_rate:
            booking_id = rng.choice(live)
            current = date.fromisoformat(latest(state, booking_id).attributes["departure_date"])
            change = BookingChange(departure_date=current + timedelta(days=1))
            created.append(modify_booking(state, booking_id, change))
        else:
            plan = rng.choice(plans)
            room_type = state.room_types[plan.attributes["room_type_id"]]
            arrival = state.today_at(plan.attributes["property_id"]) + timedelta(
                days=rng.randint(1, 180)
            )
            spec = NewBooking(
                property_id=plan.attributes["property_id"],
                room_type_id=room_type.id,
                rate_plan_id=plan.id,
                arrival_date=arrival,
                departure_date=arrival + timedelta(days=rng.randint(1, 7)),
                adults=rng.randint(1, room_type.attributes["occ_adults"]),
                ota_name=rng.choice(("Booking.com", "Expedia", "Airbnb")),
                customer_name=rng.choice(_FIRST_NAMES),
                customer_surname=rng.choice(_SURNAMES),
            )
            created.append(create_booking(state, spec))
    return created
