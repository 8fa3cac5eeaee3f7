"""Pure functions for Agoda's booking pull (§3.3): GetBookingList and GetBookingDetail
requests, and a detail read as one innsync booking revision.

Agoda keeps one state per booking: the list and the detail show it as of its ``last_action``,
so a revision is (booking id, last action). Times are ICT with their offset (§3.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from innsync.channels.agoda.mapping import YCS
from innsync.channels.types import (
    BookedRoom,
    BookingRevision,
    BookingStatus,
    GuestDetails,
    PaymentCollect,
)
from innsync.xmlkit.parsing import Element, attribute, child, path, text_of, to_bytes

LIST_TYPE = 3
DETAIL_TYPE = 4
# §3.3 GetBookingDetail: at most 50 booking ids (and one property) per call.
DETAIL_IDS_PER_CALL = 50
LIST_STATUSES = ("ConfirmBooking", "AmendBooking", "CancelBooking")
STATUSES: dict[str, BookingStatus] = {
    "ConfirmBooking": "new",
    "AmendBooking": "modified",
    "CancelBooking": "cancelled",
}
# paymentmodel [INFERRED]: 1 Agoda collects (merchant), 2 the property collects.
PAYMENT_COLLECT: dict[str, PaymentCollect] = {"1": "ota", "2": "property"}
CENT = Decimal("0.01")


def wire_time(moment: datetime) -> str:
    """A criteria time as §3.3 writes them: seconds, with the UTC offset."""
    return moment.isoformat(timespec="seconds")


def list_request(
    property_id: str, start: datetime, end: datetime, status: str | None, timestamp: int
) -> bytes:
    """One GetBookingList (type 3) of the property's bookings whose last action is in the window."""
    root = YCS.root("request", {"timestamp": timestamp, "type": LIST_TYPE})
    criteria = YCS.sub(
        root, "criteria", {"from": wire_time(start), "to": wire_time(end), "status": status}
    )
    YCS.sub(criteria, "property", {"id": property_id})
    return to_bytes(root)


def detail_request(property_id: str, booking_ids: Sequence[str], timestamp: int) -> bytes:
    """One GetBookingDetail (type 4): one property, at most 50 bookings (§3.3)."""
    if not 0 < len(booking_ids) <= DETAIL_IDS_PER_CALL:
        raise ValueError(f"a detail call names 1 to {DETAIL_IDS_PER_CALL} bookings")
    root = YCS.root("request", {"timestamp": timestamp, "type": DETAIL_TYPE})
    criteria = YCS.sub(root, "criteria", {"language": "EN"})
    holder = YCS.sub(criteria, "property", {"id": property_id})
    for booking_id in booking_ids:
        YCS.sub(holder, "booking", {"id": booking_id})
    return to_bytes(root)


def chunks(ids: Iterable[str], size: int = DETAIL_IDS_PER_CALL) -> list[list[str]]:
    """The ids, each once in first-seen order, cut into calls of at most ``size``."""
    unique = list(dict.fromkeys(ids))
    return [unique[at : at + size] for at in range(0, len(unique), size)]


@dataclass(frozen=True, slots=True)
class Listed:
    """A booking the list names, with its property."""

    property_id: str
    booking_id: str


def listed_bookings(root: Element) -> list[Listed]:
    """Every booking of a GetBookingList ``<result>``."""
    return [
        Listed(str(attribute(holder, "id")), str(attribute(booking, "booking_id")))
        for holder in path(root, "properties", "property")
        for booking in path(holder, "bookings", "booking")
        if attribute(booking, "booking_id")
    ]


def detail_bookings(root: Element) -> list[Element]:
    """The ``<booking>`` elements of a GetBookingDetail ``<result>``."""
    return list(path(root, "bookings", "booking"))


def revision_id(booking_id: str, last_action: datetime) -> str:
    """One revision per booking and last action; equal instants give equal ids."""
    return f"{booking_id}@{int(last_action.timestamp())}"


def _moment(text: str | None, what: str) -> datetime:
    if not text:
        raise ValueError(f"the booking has no {what}")
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError(f"the booking's {what} has no UTC offset")
    return moment


def _amount(text: str | None, what: str) -> Decimal:
    try:
        amount = Decimal(text or "")
    except InvalidOperation:
        raise ValueError(f"the booking's {what} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"the booking's {what} is not an amount")
    return amount


def _count(booking: Element, name: str, default: int) -> int:
    text = attribute(booking, name)
    if text is None:
        return default
    if not text.isdigit():
        raise ValueError(f"the booking's {name} is not a count")
    return int(text)


def _nights(
    booking: Element, arrival: date, departure: date, rooms: int
) -> list[tuple[date, Decimal]]:
    """Each night's price of one room: the detail's Room prices split between the rooms."""
    per_night: dict[date, Decimal] = {}
    for price in path(booking, "prices", "price"):
        if attribute(price, "type") not in (None, "Room"):
            continue
        night = date.fromisoformat(str(attribute(price, "date")))
        amount = _amount(attribute(price, "sell_inclusive_amt"), "nightly price")
        per_night[night] = per_night.get(night, Decimal(0)) + amount
    if any(not arrival <= night < departure for night in per_night):
        raise ValueError("a nightly price falls outside the stay")
    return [(night, (amount / rooms).quantize(CENT)) for night, amount in sorted(per_night.items())]


def _guest(booking: Element) -> GuestDetails:
    customer = child(booking, "customer")
    name = " ".join(
        part
        for part in (attribute(customer, "first_name"), attribute(customer, "last_name"))
        if part
    )
    # `nationality` is a country name ("Thailand"), not a code: kept out of the country field.
    return GuestDetails(name=name or None, email=attribute(customer, "email"))


def _requests(booking: Element) -> str | None:
    names = [attribute(item, "request_name") for item in path(booking, "requests", "request")]
    return "\n".join(name for name in names if name) or None


def revision_from_detail(booking: Element, currency_fallback: str) -> BookingRevision:
    """One GetBookingDetail ``<booking>`` as an innsync booking revision."""
    booking_id = attribute(booking, "booking_id")
    if not booking_id or not booking_id.isdigit():
        raise ValueError("the booking has no booking_id")
    status = STATUSES.get(attribute(booking, "status") or "")
    if status is None:
        raise ValueError(f"unknown booking status {attribute(booking, 'status')!r}")
    last_action = _moment(attribute(booking, "last_action"), "last_action")
    arrival = date.fromisoformat(str(attribute(booking, "arrival")))
    departure = date.fromisoformat(str(attribute(booking, "departure")))
    if departure <= arrival:
        raise ValueError("the booking's departure is not after its arrival")
    room_id = attribute(booking, "room_id")
    if not room_id:
        raise ValueError("the booking has no room_id")
    room_count = max(_count(booking, "room_count", 1), 1)
    adults = _count(booking, "adults", 1)
    children_count = _count(booking, "children", 0)
    # Adults and children are the booking's; spread over its rooms, at least one each.
    occupancy = max((adults + children_count + room_count - 1) // room_count, 1)
    kids = min(children_count // room_count, occupancy)
    nights = tuple(_nights(booking, arrival, departure, room_count))
    room = BookedRoom(room_id, attribute(booking, "rateplan_id"), occupancy, nights, kids)
    prices = child(booking, "prices")
    currency = attribute(prices, "currency") or currency_fallback
    total = _amount(attribute(prices, "sell_inclusive_amt") or "0", "total")
    payment = PAYMENT_COLLECT.get(text_of(child(booking, "paymentmodel")) or "")
    booked = attribute(booking, "booking_date")
    return BookingRevision(
        channel_booking_id=booking_id,
        revision_id=revision_id(booking_id, last_action),
        status=status,
        arrival=arrival,
        departure=departure,
        rooms=(room,) * room_count,
        guest=_guest(booking),
        total_amount=total,
        currency=currency,
        received_at=last_action,
        ota_name="Agoda",
        booked_at=_moment(booked, "booking_date") if booked else None,
        special_requests=_requests(booking),
        payment_collect=payment,
    )


def window(
    cursor: str | None, now: datetime, first_lookback: timedelta, overlap: timedelta, days: int
) -> tuple[datetime, datetime]:
    """The GetBookingList window of one pull: from the last pull's end (less the overlap), or
    the first lookback, for at most ``days`` (§3.3: 90), never past now."""
    start = now - first_lookback if cursor is None else datetime.fromisoformat(cursor) - overlap
    # §3.3: the list looks back at most 740 days.
    start = max(start, now - timedelta(days=740))
    return start, min(start + timedelta(days=days), now)


__all__ = [
    "DETAIL_IDS_PER_CALL",
    "LIST_STATUSES",
    "Listed",
    "chunks",
    "detail_bookings",
    "detail_request",
    "list_request",
    "listed_bookings",
    "revision_from_detail",
    "window",
]
