"""Pure translations between innsync's neutral types and Aiosell payloads (aiosell.md §1.5+).

Aiosell date ranges are inclusive at both ends (§1.5, §1.13); innsync's are half-open, so a
range goes out as ``startDate = start`` and ``endDate = last``. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from innsync.channels.aiosell.client import AiosellReply
from innsync.channels.errors import (
    ChannelRejectedError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    BookedRoom,
    BookingCancellation,
    BookingRevision,
    BookingStatus,
    Charge,
    EntryResult,
    GuestDetails,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange, ranges_from_dates

# §1.8: the restriction keys, the same at room and rate level, by innsync's field name.
RESTRICTION_KEYS: dict[str, str] = {
    "stop_sell": "stopSell",
    "min_stay_through": "minimumStay",
    "max_stay": "maximumStay",
    "closed_to_arrival": "closeOnArrival",
    "closed_to_departure": "closeOnDeparture",
    "min_stay_arrival": "minimumStayArrival",
    "min_advance": "minimumAdvanceReservation",
    "max_advance": "maximumAdvanceReservation",
}
# §1.10: the actions of a reservation push.
STATUS_OF_ACTION: dict[str, BookingStatus] = {
    "book": "new",
    "modify": "modified",
    "cancel": "cancelled",
}

Ranges = tuple[tuple[str, str], ...]


def inclusive_ranges(dates: DateRange, weekdays: frozenset[int] | None) -> Ranges:
    """The inclusive ``(startDate, endDate)`` pairs an update covers (weekdays spelled out)."""
    ranges = [dates] if weekdays is None else ranges_from_dates(dates.dates_on(weekdays))
    return tuple((r.start.isoformat(), r.last.isoformat()) for r in ranges)


def _group(entries: Sequence[tuple[Ranges, dict[str, Any]]], key: str) -> list[dict[str, Any]]:
    """``updates[]``: one element per date range, its entries in request order."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for ranges, entry in entries:
        for pair in ranges:
            grouped.setdefault(pair, []).append(entry)
    return [
        {"startDate": start, "endDate": end, key: items} for (start, end), items in grouped.items()
    ]


def availability_body(hotel_code: str, updates: Sequence[AvailabilityUpdate]) -> dict[str, Any]:
    """§1.5: the inventory push of ``updates`` (rooms left to sell per room code)."""
    entries = [
        (
            inclusive_ranges(update.dates, update.weekdays),
            {"roomCode": update.room_type_code, "available": update.availability},
        )
        for update in updates
    ]
    return {"hotelCode": hotel_code, "updates": _group(entries, "rooms")}


def restrictions_of(values: RateValues) -> dict[str, Any]:
    """§1.8: the restriction object of ``values``, only the keys that are set."""
    return {
        key: getattr(values, name)
        for name, key in RESTRICTION_KEYS.items()
        if getattr(values, name) is not None
    }


def rate_plan_codes(
    update: RateUpdate, occupancy_rate_plans: Mapping[str, Mapping[int, str]]
) -> tuple[str, ...]:
    """Every Aiosell rateplanCode the plan is sold under: its occupancy codes, or itself."""
    by_occupancy = occupancy_rate_plans.get(update.rate_plan_code)
    if by_occupancy:
        return tuple(by_occupancy[occupancy] for occupancy in sorted(by_occupancy))
    return (update.rate_plan_code,)


def _price_entries(
    update: RateUpdate, occupancy_rate_plans: Mapping[str, Mapping[int, str]]
) -> list[dict[str, Any]]:
    room = update.room_type_code
    values = update.values
    found: list[dict[str, Any]] = []
    if values.price is not None:
        found.append(
            {"roomCode": room, "rateplanCode": update.rate_plan_code, "rate": values.price}
        )
    by_occupancy = occupancy_rate_plans.get(update.rate_plan_code, {})
    for occupancy, amount in values.occupancy_prices or ():
        code = by_occupancy.get(occupancy)
        if code is None:
            raise MappingMissingError(
                f"rate plan {update.rate_plan_code} has no Aiosell rateplanCode for "
                f"occupancy {occupancy}"
            )
        found.append({"roomCode": room, "rateplanCode": code, "rate": amount})
    for entry in found:
        entry["rate"] = float(entry["rate"])  # §1.7: a JSON number
    return found


def rates_bodies(
    hotel_code: str,
    updates: Sequence[RateUpdate],
    occupancy_rate_plans: Mapping[str, Mapping[int, str]],
    to_channels: Sequence[str] = (),
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, tuple[set[int], set[int]]]:
    """§1.7 and §1.8: the rates body and the rate-restrictions body (``None`` when empty).

    Both go to the same URL; each body carries one kind (``rate`` or ``restrictions``) since
    the notes document them apart. Also returns which update indexes each body carries.
    ``toChannels`` goes on the restrictions body only, when the connection names OTAs (§1.6).
    """
    price_entries: list[tuple[Ranges, dict[str, Any]]] = []
    restriction_entries: list[tuple[Ranges, dict[str, Any]]] = []
    in_rates: set[int] = set()
    in_restrictions: set[int] = set()
    for index, update in enumerate(updates):
        ranges = inclusive_ranges(update.dates, update.weekdays)
        for entry in _price_entries(update, occupancy_rate_plans):
            price_entries.append((ranges, entry))
            in_rates.add(index)
        restrictions = restrictions_of(update.values)
        if restrictions:
            for code in rate_plan_codes(update, occupancy_rate_plans):
                entry = {
                    "roomCode": update.room_type_code,
                    "rateplanCode": code,
                    "restrictions": restrictions,
                }
                restriction_entries.append((ranges, entry))
            in_restrictions.add(index)
    rates = (
        {"hotelCode": hotel_code, "updates": _group(price_entries, "rates")}
        if price_entries
        else None
    )
    restricted: dict[str, Any] | None = None
    if restriction_entries:
        restricted = {"hotelCode": hotel_code}
        if to_channels:
            restricted["toChannels"] = list(to_channels)
        restricted["updates"] = _group(restriction_entries, "rates")
    return rates, restricted, (in_rates, in_restrictions)


def entry_results(
    count: int, answers: Sequence[tuple[set[int], AiosellReply]]
) -> tuple[EntryResult, ...]:
    """§1.4: each call's ``success`` decides for every entry it carried.

    Aiosell answers one verdict per call, never per entry, so a refused call refuses all of
    its entries with its message; an entry carried by no call is not sent.
    """
    results: list[EntryResult] = []
    for index in range(count):
        carried = [reply for indexes, reply in answers if index in indexes]
        refused = [reply for reply in carried if not reply.success]
        if not carried:
            results.append(EntryResult(index, accepted=False, reason="not sent", sent=False))
        elif refused:
            reason = "; ".join(reply.message or "refused by Aiosell" for reply in refused)
            results.append(EntryResult(index, accepted=False, reason=reason))
        else:
            results.append(EntryResult(index, accepted=True))
    return tuple(results)


# Reservations (§1.10 and §1.11). Vendor models ignore unknown keys and allow nulls (§1.9).


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Address(_Vendor):
    line1: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zipCode: str | None = None


class _Guest(_Vendor):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    phone: str | None = None
    address: _Address | None = None


class _Occupancy(_Vendor):
    adults: int = 0
    children: int = 0


class _Price(_Vendor):
    date: date
    sellRate: Decimal | None = None
    tax: Decimal | None = None


class _Room(_Vendor):
    roomCode: str
    rateplanCode: str | None = None
    guestName: str | None = None
    occupancy: _Occupancy | None = None
    prices: list[_Price] | None = None


class _Amount(_Vendor):
    amountAfterTax: Decimal | None = None
    amountBeforeTax: Decimal | None = None
    tax: Decimal | None = None
    commission: Decimal | None = None
    currency: str | None = None


class _Reservation(_Vendor):
    action: str
    hotelCode: str | None = None
    channel: str | None = None
    bookingId: str
    cmBookingId: str | None = None
    bookedOn: str | None = None
    checkin: date | None = None
    checkout: date | None = None
    segment: str | None = None
    specialRequests: str | None = None
    pah: bool | None = None
    amount: _Amount | None = None
    guest: _Guest | None = None
    rooms: list[_Room] = []


class _NamedId(_Vendor):
    id: str
    name: str | None = None


class _NewRoom(_Vendor):
    id: str
    name: str | None = None
    rateplan: _NamedId | None = None
    occupancy: _Occupancy | None = None
    currency: str | None = None
    guest: _Guest | None = None
    prices: list[_Price] = []


class _NewAmount(_Vendor):
    amountBeforeTax: Decimal | None = None
    netOfCommissionAfterTax: Decimal | None = None
    amountToBePaidByCustomer: Decimal | None = None


class _NewReservation(_Vendor):
    bookingId: str
    CMBookingId: str | None = None
    rooms: list[_NewRoom] = []
    amount: _NewAmount | None = None


class _NewBooking(_Vendor):
    hotelId: str | None = None
    hotelCountryCode: str | None = None
    operation: str
    reservation: _NewReservation


def revision_id_of(booking_id: str, payload: object) -> str:
    """A revision id from the content itself: Aiosell sends none, and a redelivery of the same
    push, or the same reservation read from the fetch (§1.9), must be the same revision. The
    digest is over canonical JSON, so key order and spacing do not count."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return f"{booking_id}:{hashlib.sha256(canonical).hexdigest()[:32]}"


def revision_from_body(
    body: bytes, *, received_at: datetime, currency: str, zone: tzinfo
) -> BookingRevision | BookingCancellation:
    """The revision a reservation push stands for, either payload variant (§1.10, §1.11).

    A cancel without checkin/checkout (§1.10, 3P) is a ``BookingCancellation``. Aiosell gives
    no time of a revision, so ``received_at`` (when innsync reads the push) orders them, except
    that a ``book`` is dated when it was booked (``bookedOn``, when earlier): a booking
    delivered after its modification is then older than it, as it really is.
    Anything that is not one raises ``ChannelRejectedError``, never another exception.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ChannelRejectedError("the Aiosell reservation push is not JSON") from exc
    if not isinstance(payload, dict):
        raise ChannelRejectedError("the Aiosell reservation push is not a JSON object")
    try:
        if "operation" in payload:
            return _from_new_booking(
                _NewBooking.model_validate(payload), payload, received_at, currency
            )
        return _from_reservation(
            _Reservation.model_validate(payload), payload, received_at, currency, zone
        )
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise ChannelRejectedError(
            f"the Aiosell reservation push does not fit (fields: {', '.join(fields[:5])})"
        ) from exc
    except ValueError as exc:  # the neutral types refusing a value (DateRangeError included)
        raise ChannelRejectedError(f"the Aiosell reservation push is invalid: {exc}") from exc


def _guest(guest: _Guest | None, fallback_name: str | None) -> GuestDetails:
    if guest is None:
        return GuestDetails(name=fallback_name)
    name = " ".join(part for part in (guest.firstName, guest.lastName) if part) or fallback_name
    address = guest.address or _Address()
    country = (address.country or "").strip()
    iso = country.upper() if len(country) == 2 and country.isalpha() else None
    # GuestDetails has no state and takes ISO countries only: a state or a country name is
    # kept in the address line rather than dropped.
    lines = [address.line1, address.state, None if iso or not country else country]
    return GuestDetails(
        name=name,
        email=guest.email,
        phone=guest.phone,
        address=", ".join(line for line in lines if line) or None,
        city=address.city,
        postal_code=address.zipCode,
        country=iso,
    )


def _room(room: _Room) -> BookedRoom:
    occupancy = room.occupancy or _Occupancy(adults=1)
    return BookedRoom(
        room_type_code=room.roomCode,
        rate_plan_code=room.rateplanCode,
        occupancy=occupancy.adults + occupancy.children,
        children=occupancy.children,
        nightly_prices=tuple(
            (price.date, price.sellRate)
            for price in room.prices or ()
            if price.sellRate is not None
        ),
    )


def _currency(code: str | None, default: str) -> str:
    return (code or default).strip().upper()


def _from_reservation(
    reservation: _Reservation,
    body: dict[str, Any],
    received_at: datetime,
    currency: str,
    zone: tzinfo,
) -> BookingRevision | BookingCancellation:
    status = STATUS_OF_ACTION.get(reservation.action.lower())
    if status is None:
        raise ChannelRejectedError(f"unknown Aiosell action {reservation.action!r}")
    if reservation.checkin is None or reservation.checkout is None:
        if status != "cancelled":
            raise ChannelRejectedError("the Aiosell reservation push has no checkin/checkout")
        # §1.10 (3P): a cancel may carry only action, hotelCode, channel and bookingId.
        return BookingCancellation(
            channel_booking_id=reservation.bookingId,
            revision_id=revision_id_of(reservation.bookingId, body),
            received_at=received_at,
            currency=_currency((reservation.amount or _Amount()).currency, currency),
            ota_name=reservation.channel,
        )
    booked_at = _booked_at(reservation.bookedOn, zone)
    if status == "new" and booked_at is not None:
        received_at = min(received_at, booked_at)
    amount = reservation.amount or _Amount()
    rooms = tuple(_room(room) for room in reservation.rooms)
    if rooms and amount.tax is not None:
        # §1.10 gives one tax for the booking, already in amountAfterTax: kept on the first room.
        first = rooms[0]
        rooms = (
            BookedRoom(
                room_type_code=first.room_type_code,
                rate_plan_code=first.rate_plan_code,
                occupancy=first.occupancy,
                nightly_prices=first.nightly_prices,
                children=first.children,
                charges=(Charge("tax", "tax", amount.tax, is_inclusive=True),),
            ),
            *rooms[1:],
        )
    guest_name = next((room.guestName for room in reservation.rooms if room.guestName), None)
    requests = [
        reservation.specialRequests,
        f"segment: {reservation.segment}" if reservation.segment else None,
    ]
    return BookingRevision(
        channel_booking_id=reservation.bookingId,
        revision_id=revision_id_of(reservation.bookingId, body),
        status=status,
        arrival=reservation.checkin,
        departure=reservation.checkout,
        rooms=rooms,
        guest=_guest(reservation.guest, guest_name),
        total_amount=amount.amountAfterTax if amount.amountAfterTax is not None else Decimal(0),
        currency=_currency(amount.currency, currency),
        received_at=received_at,
        ota_name=reservation.channel,
        ota_reservation_code=reservation.bookingId,
        channel_reference=reservation.cmBookingId,
        booked_at=booked_at,
        special_requests="\n".join(text for text in requests if text) or None,
        total_before_tax=amount.amountBeforeTax,
        commission=amount.commission,
        payment_collect=None
        if reservation.pah is None
        else ("property" if reservation.pah else "ota"),
    )


def _booked_at(text: str | None, zone: tzinfo) -> datetime | None:
    """§1.2: ``YYYY-MM-DD HH:MM:SS`` in the property's zone (Aiosell names none)."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError as exc:
        raise ChannelRejectedError(f"bookedOn {text[:40]!r} is not YYYY-MM-DD HH:MM:SS") from exc


def _from_new_booking(
    booking: _NewBooking, body: dict[str, Any], received_at: datetime, currency: str
) -> BookingRevision:
    """§1.11: the richer ``new_booking`` payload; the stay is read from the nightly prices."""
    if booking.operation != "new_booking":
        raise ChannelRejectedError(f"unknown Aiosell operation {booking.operation!r}")
    reservation = booking.reservation
    nights = [price.date for room in reservation.rooms for price in room.prices]
    if not nights:
        raise ChannelRejectedError("the Aiosell new_booking push has no nightly prices")
    rooms: list[BookedRoom] = []
    for room in reservation.rooms:
        occupancy = room.occupancy or _Occupancy(adults=1)
        taxes = [price.tax for price in room.prices if price.tax is not None]
        rooms.append(
            BookedRoom(
                room_type_code=room.id,
                rate_plan_code=room.rateplan.id if room.rateplan else None,
                occupancy=occupancy.adults + occupancy.children,
                children=occupancy.children,
                nightly_prices=tuple(
                    (p.date, p.sellRate) for p in room.prices if p.sellRate is not None
                ),
                charges=(Charge("tax", "tax", sum(taxes, Decimal(0)), is_inclusive=False),)
                if taxes
                else (),
            )
        )
    amount = reservation.amount or _NewAmount()
    total = amount.amountToBePaidByCustomer
    net = amount.netOfCommissionAfterTax
    commission = total - net if total is not None and net is not None and total >= net else None
    guest = next((room.guest for room in reservation.rooms if room.guest), None)
    return BookingRevision(
        channel_booking_id=reservation.bookingId,
        revision_id=revision_id_of(reservation.bookingId, body),
        status="new",
        arrival=min(nights),
        departure=max(nights) + timedelta(days=1),
        rooms=tuple(rooms),
        guest=_guest(guest, None),
        total_amount=total if total is not None else Decimal(0),
        currency=_currency(
            next((r.currency for r in reservation.rooms if r.currency), None), currency
        ),
        received_at=received_at,
        ota_reservation_code=reservation.bookingId,
        channel_reference=reservation.CMBookingId,
        total_before_tax=amount.amountBeforeTax,
        commission=commission,
    )


def revisions_from_fetch(
    answer: Any, *, received_at: datetime, currency: str, zone: tzinfo
) -> tuple[tuple[BookingRevision, ...], int]:
    """§1.9 ``type: reservation``: the latest state of each reservation, as revisions.

    Returns the revisions and how many entries were left out: ones that cannot be read, and
    cancels without dates (a pulled revision needs its stay; the webhook brings those).
    Raises ``ChannelUnavailableError`` when the answer is not the documented array.
    """
    if not isinstance(answer, list):
        raise ChannelUnavailableError("the Aiosell reservation fetch did not answer an array")
    revisions: list[BookingRevision] = []
    for entry in answer:
        try:
            read = revision_from_body(
                json.dumps(entry).encode(), received_at=received_at, currency=currency, zone=zone
            )
        except (ChannelRejectedError, TypeError, ValueError):
            continue
        if isinstance(read, BookingRevision):
            revisions.append(read)
    return tuple(revisions), len(answer) - len(revisions)
