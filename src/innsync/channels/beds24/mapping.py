"""Pure translations between innsync's neutral types and Beds24 V2 payloads (beds24.md §2.5, §2.6).

- Calendar entries are inclusive ``from``/``to`` ranges (§2.6); innsync's ranges are half-open.
- Prices are major units (§2.5, "not cents"); a rate plan is one of the room's price slots.
- Restrictions are per room: ``minStay``, ``maxStay`` and ``override``, whose values stand for
  closed to arrival (``noCheckIn``), closed to departure (``noCheckOut``), both
  (``noCheckInOrCheckOut``) and stop sell (``blackout``) (§2.6, Part 3 #9).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from innsync.channels.beds24.config import Beds24Config
from innsync.channels.types import (
    AvailabilityUpdate,
    BookedRoom,
    BookingRevision,
    BookingStatus,
    EntryResult,
    GuestDetails,
    RatePlanKey,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange, runs_of_equal_values

# §2.5: statuses a booking can have; innsync asks for all of them, cancelled included.
ALL_STATUSES = ("confirmed", "request", "new", "cancelled", "black", "inquiry")
# §2.6: the override values and the restriction flags they stand for (CTA, CTD, stop sell).
OVERRIDE_FLAGS: dict[str, tuple[bool, bool, bool]] = {
    "none": (False, False, False),
    "noCheckIn": (True, False, False),
    "noCheckOut": (False, True, False),
    "noCheckInOrCheckOut": (True, True, False),
    "blackout": (False, False, True),
}
# §2.6: minStay 1-365, maxStay 1-364.
MAX_MIN_STAY = 365
MAX_MAX_STAY = 364
# Fields Beds24's calendar cannot hold: they are left out, and the entry is marked partly sent.
_UNSENDABLE = ("occupancy_prices", "min_advance", "max_advance")
# The apiReference prefix of bookings innsync pushes, so they are told apart when they come back.
OWN_REFERENCE_PREFIX = "innsync-"


def room_id(code: str) -> int | None:
    """A room type code as Beds24's numeric roomId, or ``None`` when it cannot be one."""
    return int(code) if code.isdigit() and 0 < len(code) < 19 else None


def money(amount: Decimal) -> float | int:
    """A price as a JSON number in major units (§2.5)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def override_of(values: RateValues) -> str | None:
    """The ``override`` that says the values' CTA/CTD/stop-sell, or ``None`` when none is set."""
    flags = (values.closed_to_arrival, values.closed_to_departure, values.stop_sell)
    if all(flag is None for flag in flags):
        return None
    cta, ctd, stop = (bool(flag) for flag in flags)
    if stop:
        return "blackout"
    if cta and ctd:
        return "noCheckInOrCheckOut"
    if cta:
        return "noCheckIn"
    return "noCheckOut" if ctd else "none"


@dataclass
class CalendarBatch:
    """One POST /inventory/rooms/calendar body and which request entries each item carries."""

    items: list[dict[str, Any]] = field(default_factory=list)
    entries_of_item: list[list[int]] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    partial: set[int] = field(default_factory=set)
    _item_of_room: dict[int, int] = field(default_factory=dict)

    def add(self, index: int, room: int, entry: dict[str, Any]) -> None:
        position = self._item_of_room.get(room)
        if position is None:
            position = self._item_of_room[room] = len(self.items)
            self.items.append({"roomId": room, "calendar": []})
            self.entries_of_item.append([])
        self.items[position]["calendar"].append(entry)
        if index not in self.entries_of_item[position]:
            self.entries_of_item[position].append(index)


def _span(dates: DateRange) -> dict[str, str]:
    """§2.6: inclusive ``from``/``to``; innsync's range is half-open."""
    return {"from": dates.start.isoformat(), "to": (dates.end - timedelta(days=1)).isoformat()}


def availability_batch(updates: Sequence[AvailabilityUpdate]) -> CalendarBatch:
    """One item per room, one ``numAvail`` range per update (weekdays expanded by the planner)."""
    batch = CalendarBatch()
    for index, update in enumerate(updates):
        room = room_id(update.room_type_code)
        if room is None:
            batch.refused[index] = f"{update.room_type_code!r} is not a Beds24 roomId"
            continue
        for dates in _runs(update.dates, update.weekdays):
            batch.add(index, room, {**_span(dates), "numAvail": update.availability})
    return batch


def rates_batch(
    updates: Sequence[RateUpdate],
    config: Beds24Config,
    held: Mapping[str, Mapping[date, int]] | None = None,
) -> CalendarBatch:
    """One item per room; each update is a range with its price slot and, for the room's
    restriction plan, ``minStay``, ``maxStay`` and ``override``.

    §2.6: an override switched from blackout to none without ``numAvail`` in the same entry
    sets numAvail to the room's maximum, so an entry that opens dates for which ``held`` gives
    the units carries them, split into runs of equal units.
    """
    batch = CalendarBatch()
    for index, update in enumerate(updates):
        room = room_id(update.room_type_code)
        slot = config.slot_of(update.rate_plan_code)
        if room is None:
            batch.refused[index] = f"{update.room_type_code!r} is not a Beds24 roomId"
            continue
        if slot is None:
            batch.refused[index] = (
                f"rate plan {update.rate_plan_code!r} is no price slot (price1..price16 or "
                f"rate_plan_slots)"
            )
            continue
        values = update.values
        fields: dict[str, Any] = {}
        if values.price is not None:
            fields[f"price{slot}"] = money(values.price)
        restriction_plan = config.restriction_plans.get(str(room))
        owns_restrictions = restriction_plan in (None, update.rate_plan_code)
        restrictions = _restriction_fields(values)
        if owns_restrictions:
            fields.update(restrictions)
        dropped = any(getattr(values, name) is not None for name in _UNSENDABLE) or (
            bool(restrictions) and not owns_restrictions
        )
        if dropped:
            batch.partial.add(index)
        if not fields:
            continue
        units = (held or {}).get(update.room_type_code, {})
        opens = fields.get("override", "blackout") != "blackout"
        for dates in _runs(update.dates, update.weekdays):
            for run, available in _with_units(dates, units if opens else {}):
                extra = {} if available is None else {"numAvail": available}
                batch.add(index, room, {**_span(run), **fields, **extra})
    return batch


def _with_units(
    dates: DateRange, units: Mapping[date, int]
) -> Iterable[tuple[DateRange, int | None]]:
    """The range split into runs of equal units (``None`` where none is given)."""
    if not units:
        yield dates, None
        return
    for run in runs_of_equal_values([(day, units.get(day)) for day in dates]):
        yield run.dates, run.value


def _restriction_fields(values: RateValues) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    # Beds24 has one minStay; whether it counts from arrival or through the stay is the room's
    # restrictionStrategy (§2.7), so either innsync field is sent as minStay.
    min_stay = values.min_stay_arrival or values.min_stay_through
    if min_stay is not None:
        fields["minStay"] = min_stay
    if values.max_stay is not None:
        # §2.6: maxStay is 1-364; innsync's 0 means "no maximum", which is Beds24's null.
        fields["maxStay"] = values.max_stay or None
    override = override_of(values)
    if override is not None:
        fields["override"] = override
    return fields


def _runs(dates: DateRange, weekdays: frozenset[int] | None) -> Iterable[DateRange]:
    """The range, or its runs of consecutive dates on the given weekdays."""
    if weekdays is None:
        yield dates
        return
    start: date | None = None
    previous: date | None = None
    for day in dates:
        if day.weekday() in weekdays:
            if start is None:
                start = day
            previous = day
        elif start is not None and previous is not None:
            yield DateRange(start, previous + timedelta(days=1))
            start = previous = None
    if start is not None and previous is not None:
        yield DateRange(start, previous + timedelta(days=1))


def entry_results(
    count: int, batch: CalendarBatch, answers: Sequence[tuple[bool, str]]
) -> tuple[EntryResult, ...]:
    """One result per request entry from the per-item answers (success, reason)."""
    verdict: dict[int, tuple[bool, str | None]] = {
        index: (False, reason) for index, reason in batch.refused.items()
    }
    for entries, (success, reason) in zip(batch.entries_of_item, answers, strict=True):
        for index in entries:
            if not success:
                verdict[index] = (False, reason)
            else:
                verdict.setdefault(index, (True, None))
    results = []
    for index in range(count):
        accepted, why = verdict.get(index, (True, None))
        sent = index not in batch.partial and index not in batch.refused
        results.append(EntryResult(index, accepted, None if accepted else why, sent=sent))
    return tuple(results)


# Read-back (§2.6 GET /inventory/rooms/calendar): ranges back to stay dates.


def _days(entry: Mapping[str, Any], window: DateRange) -> Iterable[date]:
    try:
        first = date.fromisoformat(str(entry["from"]))
        last = date.fromisoformat(str(entry.get("to") or entry["from"]))
    except (KeyError, ValueError):
        return ()
    start, end = max(first, window.start), min(last + timedelta(days=1), window.end)
    return DateRange(start, end) if start < end else ()


def availability_from_calendar(
    rooms: Iterable[Mapping[str, Any]], window: DateRange
) -> dict[str, dict[date, int]]:
    held: dict[str, dict[date, int]] = {}
    for room in rooms:
        days = held.setdefault(str(room.get("roomId")), {})
        for entry in room.get("calendar") or ():
            units = entry.get("numAvail")
            if isinstance(units, int) and not isinstance(units, bool):
                for day in _days(entry, window):
                    days[day] = max(units, 0)
    return held


def rates_from_calendar(
    rooms: Iterable[Mapping[str, Any]],
    plans: Sequence[RatePlanKey],
    window: DateRange,
    config: Beds24Config,
) -> dict[RatePlanKey, dict[date, RateValues]]:
    by_room = {str(room.get("roomId")): room for room in rooms}
    shown: dict[RatePlanKey, dict[date, RateValues]] = {}
    for plan in plans:
        room_code, plan_code = plan
        slot = config.slot_of(plan_code)
        room = by_room.get(room_code)
        days: dict[date, RateValues] = {}
        if room is not None and slot is not None:
            restriction_plan = config.restriction_plans.get(room_code)
            owns = restriction_plan in (None, plan_code)
            for entry in room.get("calendar") or ():
                values = _values(entry, slot, owns=owns)
                for day in _days(entry, window):
                    days[day] = days.get(day, RateValues()).updated_with(values)
        shown[plan] = {day: values for day, values in days.items() if not values.is_empty}
    return shown


def _values(entry: Mapping[str, Any], slot: int, *, owns: bool) -> RateValues:
    price = _decimal(entry.get(f"price{slot}"))
    if not owns:
        return RateValues(price=price)
    min_stay = entry.get("minStay")
    max_stay = entry.get("maxStay")
    flags = OVERRIDE_FLAGS.get(str(entry.get("override")))
    return RateValues(
        price=price,
        min_stay_arrival=min_stay if isinstance(min_stay, int) and min_stay >= 1 else None,
        max_stay=max_stay if isinstance(max_stay, int) and max_stay >= 0 else None,
        closed_to_arrival=None if flags is None else flags[0],
        closed_to_departure=None if flags is None else flags[1],
        stop_sell=None if flags is None else flags[2],
    )


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and amount >= 0 else None


# Bookings in (§2.5 booking object, §2.8 webhook body).


class BookingShapeError(ValueError):
    """A booking object lacks what a revision needs (ids, dates)."""


def parse_time(value: Any) -> datetime | None:
    """A Beds24 date-time (``2024-01-01T12:00:00Z`` or without zone, read as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def is_own_booking(booking: Mapping[str, Any]) -> bool:
    """A booking innsync pushed (its apiReference carries innsync's prefix): never taken in."""
    reference = booking.get("apiReference")
    return isinstance(reference, str) and reference.startswith(OWN_REFERENCE_PREFIX)


def revision_id_of(booking: Mapping[str, Any]) -> str:
    """The same id for the same booking state, from a pull or a webhook."""
    return f"{booking.get('id')}@{booking.get('modifiedTime')}#{booking.get('status')}"


def revision_from_booking(
    booking: Mapping[str, Any], *, currency: str, fallback_time: datetime
) -> BookingRevision:
    """One booking object as a neutral revision (§2.5); the same object gives the same value."""
    try:
        booking_id = int(booking["id"])
        arrival = date.fromisoformat(str(booking["arrival"]))
        departure = date.fromisoformat(str(booking["departure"]))
        room = int(booking["roomId"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BookingShapeError(f"the booking lacks a readable {exc}") from exc
    if departure <= arrival:
        raise BookingShapeError("the booking's departure is not after its arrival")
    modified = parse_time(booking.get("modifiedTime"))
    booked = parse_time(booking.get("bookingTime"))
    status = _status(booking, booked, modified)
    price = _decimal(booking.get("price")) or Decimal("0.00")
    adults = _count(booking.get("numAdult"))
    children = _count(booking.get("numChild"))
    quantity = max(_count(booking.get("roomQty")), 1)
    stay = DateRange(arrival, departure)
    rooms = tuple(
        BookedRoom(
            room_type_code=str(room),
            rate_plan_code=None,
            occupancy=max(adults + children, 1),
            children=children,
            nightly_prices=_nightly(price / quantity, stay),
        )
        for _ in range(quantity)
    )
    return BookingRevision(
        channel_booking_id=str(booking_id),
        revision_id=revision_id_of(booking),
        status=status,
        arrival=arrival,
        departure=departure,
        rooms=rooms,
        guest=_guest(booking),
        total_amount=price,
        currency=currency,
        received_at=modified or booked or fallback_time,
        ota_name=_text(booking.get("apiSource")) or _text(booking.get("channel")),
        ota_reservation_code=_text(booking.get("apiReference")),
        channel_reference=_text(booking.get("reference")),
        booked_at=booked,
        arrival_time=_clock(booking.get("arrivalTime")),
        special_requests=_requests(booking),
        commission=_decimal(booking.get("commission")),
    )


def _status(
    booking: Mapping[str, Any], booked: datetime | None, modified: datetime | None
) -> BookingStatus:
    # §2.8: no event type is sent; a booking whose modified time is its creation time is new.
    if booking.get("status") == "cancelled":
        return "cancelled"
    return "new" if modified is None or booked is None or modified <= booked else "modified"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _nightly(total: Decimal, stay: DateRange) -> tuple[tuple[date, Decimal], ...]:
    """§2.5 gives the stay's price only: spread over the nights, the cents left on the first."""
    nights = list(stay)
    share = (total / len(nights)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    first = total - share * (len(nights) - 1)
    return tuple((night, first if i == 0 else share) for i, night in enumerate(nights))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _clock(value: Any) -> str | None:
    text = _text(value)
    if text is None or len(text) < 4:
        return None
    hours, _, minutes = text.partition(":")
    if hours.isdigit() and minutes[:2].isdigit() and int(hours) < 24 and int(minutes[:2]) < 60:
        return f"{int(hours):02d}:{minutes[:2]}"
    return None


def _guest(booking: Mapping[str, Any]) -> GuestDetails:
    name = " ".join(
        part for part in (_text(booking.get("firstName")), _text(booking.get("lastName"))) if part
    )
    country = _text(booking.get("country2"))
    language = _text(booking.get("lang"))
    return GuestDetails(
        name=name or None,
        email=_text(booking.get("email")),
        phone=_text(booking.get("phone")) or _text(booking.get("mobile")),
        address=_text(booking.get("address")),
        city=_text(booking.get("city")),
        postal_code=_text(booking.get("postcode")),
        country=country.upper() if country and len(country) == 2 and country.isalpha() else None,
        language=language,
    )


def _requests(booking: Mapping[str, Any]) -> str | None:
    parts = [_text(booking.get(name)) for name in ("comments", "message")]
    found = [part for part in parts if part]
    return "\n".join(found) if found else None


# Bookings out (§2.5 POST /bookings).


def own_reference(revision: BookingRevision) -> str:
    """The apiReference innsync's booking carries on Beds24: its idempotency key."""
    return f"{OWN_REFERENCE_PREFIX}{revision.channel_booking_id}"[:100]


def booking_body(revision: BookingRevision, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """A POST /bookings item: the booking as innsync holds it, keyed by the existing one's id.

    The OpenAPI file requires ``roomId``, ``arrival`` and ``departure`` on every item (its
    schema ``newBooking``), though its own examples modify with ``id`` alone; they are always
    sent, so the item is valid either way.
    """
    existing_id = None if existing is None else int(str(existing.get("id")))
    if revision.status == "cancelled":
        if existing is None or existing_id is None:
            raise ValueError("a cancellation needs the booking on Beds24")
        return {
            "id": existing_id,
            "status": "cancelled",
            "roomId": existing.get("roomId"),
            "arrival": existing.get("arrival"),
            "departure": existing.get("departure"),
        }
    room = revision.rooms[0]
    code = room_id(room.room_type_code)
    if code is None:
        raise ValueError(f"{room.room_type_code!r} is not a Beds24 roomId")
    first, _, last = (revision.guest.name or "").rpartition(" ")
    body: dict[str, Any] = {
        "roomId": code,
        "status": "confirmed",
        "arrival": revision.arrival.isoformat(),
        "departure": revision.departure.isoformat(),
        "numAdult": max(room.occupancy - room.children, 0),
        "numChild": room.children,
        "price": money(revision.total_amount),
        "apiReference": own_reference(revision),
    }
    guest = revision.guest
    optional = {
        "firstName": first or None,
        "lastName": last or None,
        "email": guest.email,
        "phone": guest.phone,
        "address": guest.address,
        "city": guest.city,
        "postcode": guest.postal_code,
        "country2": guest.country,
        "comments": revision.special_requests,
    }
    for name, value in optional.items():
        if value:
            limit = {"comments": 1000, "address": 250}.get(name, 100)
            body[name] = value[:limit]
    if existing_id is None:
        # §2.5: a new booking is refused rather than overbooking the room.
        body["actions"] = {"checkAvailability": True}
    else:
        body["id"] = existing_id
    return body
