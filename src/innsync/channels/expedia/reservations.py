"""Pure translations of EQC booking retrieval (BR) and confirmation (BC) messages.

BR returns transactions (Book, Modify, Cancel) of bookings; each becomes one neutral revision
whose id names the booking, the transaction type and its time, so BC can name them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from innsync.channels.expedia.mapping import request_root
from innsync.channels.types import (
    BookedRoom,
    BookingRevision,
    BookingStatus,
    Guarantee,
    GuestDetails,
    PaymentCollect,
    UnreadableMessage,
)
from innsync.xmlkit.parsing import (
    Element,
    attribute,
    child,
    children,
    first,
    to_bytes,
)

BR_NAMESPACE = "http://www.expediaconnect.com/EQC/BR/2014/01"
BC_NAMESPACE = "http://www.expediaconnect.com/EQC/BC/2007/09"
# BR definition: at most 125 bookings per response.
MAX_BOOKINGS_PER_RESPONSE = 125
_STATUS: dict[str, BookingStatus] = {"Book": "new", "Modify": "modified", "Cancel": "cancelled"}
_SEPARATOR = "/"


@dataclass(frozen=True, slots=True)
class TransactionKey:
    """What BC needs of a revision: the booking id and the transaction type."""

    booking_id: str
    booking_type: str

    @classmethod
    def parse(cls, revision_id: str) -> TransactionKey:
        parts = revision_id.split(_SEPARATOR)
        if len(parts) != 3 or parts[1] not in _STATUS or not parts[0].isdigit():
            raise ValueError(f"not an Expedia revision id: {revision_id!r}")
        return cls(parts[0], parts[1])


def revision_id(booking_id: str, booking_type: str, created: str) -> str:
    """``<booking id>/<Book|Modify|Cancel>/<createDateTime>``: one per transaction."""
    return _SEPARATOR.join((booking_id, booking_type, created))


def br_request(username: str, password: str, hotel_id: str, statuses: Sequence[str]) -> bytes:
    """BR RQ for the hotel's transactions in ``statuses`` (BR definition: up to 3)."""
    builder, root = request_root(BR_NAMESPACE, "BookingRetrievalRQ", username, password, hotel_id)
    params = builder.sub(root, "ParamSet")
    for status in statuses:
        builder.sub(params, "Status", {"value": status})
    return to_bytes(root)


def bc_request(
    username: str,
    password: str,
    hotel_id: str,
    key: TransactionKey,
    confirm_number: str,
    confirmed_at: datetime,
) -> bytes:
    """BC RQ confirming one transaction with innsync's confirmation number."""
    builder, root = request_root(BC_NAMESPACE, "BookingConfirmRQ", username, password, hotel_id)
    numbers = builder.sub(root, "BookingConfirmNumbers")
    builder.sub(
        numbers,
        "BookingConfirmNumber",
        {
            "bookingID": key.booking_id,
            "bookingType": key.booking_type,
            "confirmNumber": confirm_number,
            "confirmTime": confirmed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return to_bytes(root)


class UnreadableBookingError(ValueError):
    """A Booking element innsync cannot turn into a revision."""


def _money(element: Element | None, name: str, default: str | None = None) -> Decimal:
    value = attribute(element, name) or default
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        raise UnreadableBookingError(f"{name} is not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise UnreadableBookingError(f"{name} is not an amount: {value!r}")
    return amount


def _day(value: str | None, what: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise UnreadableBookingError(f"{what} is not a date: {value!r}") from None


def _created(value: str | None) -> datetime:
    try:
        found = datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        raise UnreadableBookingError(f"createDateTime is not a time: {value!r}") from None
    return found if found.utcoffset() is not None else found.replace(tzinfo=UTC)


def _room(stay: Element, kind: str) -> tuple[BookedRoom, ...]:
    if kind == "Cancel":
        # A Cancel names room type and rate plan 0 with zero rates (BR examples): no room.
        return ()
    count = child(stay, "GuestCount")
    adults = int(attribute(count, "adult") or "0")
    kids = int(attribute(count, "child") or "0")
    ages = (
        tuple(int(attribute(c, "age") or "0") for c in children(count, "Child"))
        if count is not None
        else ()
    )
    nightly = []
    for rate in (
        children(child(stay, "PerDayRates"), "PerDayRate")
        if child(stay, "PerDayRates") is not None
        else ()
    ):
        # What the guest pays per night before taxes: the base rate plus the extra-person
        # and service fees the BR definition itemises beside it.
        amount = _money(rate, "baseRate")
        amount += _money(rate, "extraPersonFees", "0") + _money(rate, "hotelServiceFees", "0")
        nightly.append((_day(attribute(rate, "stayDate"), "stayDate"), amount))
    return (
        BookedRoom(
            room_type_code=attribute(stay, "roomTypeID") or "",
            rate_plan_code=attribute(stay, "ratePlanID"),
            occupancy=max(adults + kids, 1),
            nightly_prices=tuple(nightly),
            children=kids,
            child_ages=tuple(age for age in ages if age < 18)[:kids],
        ),
    )


def _guarantee(card: Element | None) -> Guarantee | None:
    if card is None:
        return None
    number = attribute(card, "cardNumber") or ""
    digits = "".join(ch for ch in number if ch.isdigit())
    expiry = attribute(card, "expireDate") or ""
    holder = attribute(child(card, "CardHolder"), "name")
    return Guarantee(
        card_type=attribute(card, "cardCode"),
        card_last_four=digits[-4:] if len(digits) >= 4 else None,
        cardholder_name=holder,
        # BR examples: MMYY.
        expires=f"{expiry[:2]}/20{expiry[2:]}" if len(expiry) == 4 and expiry.isdigit() else None,
        is_virtual=holder is not None and "virtualcard" in holder.replace(" ", "").lower(),
    )


def booking_revision(element: Element, received_at: datetime, currency: str) -> BookingRevision:
    """One BR ``Booking`` as a neutral revision (``UnreadableBookingError`` when it cannot be)."""
    booking_id = attribute(element, "id") or ""
    kind = attribute(element, "type") or ""
    if not booking_id.isdigit() or kind not in _STATUS:
        raise UnreadableBookingError(f"booking {booking_id!r} of type {kind!r}")
    created_text = attribute(element, "createDateTime") or ""
    created = _created(created_text)
    stay = child(element, "RoomStay")
    if stay is None:
        raise UnreadableBookingError(f"booking {booking_id} has no RoomStay")
    dates = child(stay, "StayDate")
    total = child(stay, "Total")
    after_tax = _money(total, "amountAfterTaxes", "0")
    taxes = _money(total, "amountOfTaxes", "0")
    rates = child(stay, "PerDayRates")
    name = (
        child(child(element, "PrimaryGuest"), "Name")
        if child(element, "PrimaryGuest") is not None
        else None
    )
    phone = first(element, "PrimaryGuest", "Phone")
    phone_text = None
    if phone is not None:
        parts = [attribute(phone, p) for p in ("countryCode", "cityAreaCode", "number")]
        phone_text = "+" + " ".join(part for part in parts if part) if any(parts) else None
    guest_name = " ".join(
        part for part in (attribute(name, "givenName"), attribute(name, "surname")) if part
    )
    requests = [(request.text or "").strip() for request in children(element, "SpecialRequest")]
    source = attribute(element, "source")
    # BR definition: "A-" sources are Hotel Collect bookings; the others Expedia Collect.
    collect: PaymentCollect = "property" if (source or "").startswith("A-") else "ota"
    try:
        return BookingRevision(
            channel_booking_id=booking_id,
            revision_id=revision_id(booking_id, kind, created_text),
            status=_STATUS[kind],
            arrival=_day(attribute(dates, "arrival"), "arrival"),
            departure=_day(attribute(dates, "departure"), "departure"),
            rooms=_room(stay, kind),
            guest=GuestDetails(name=guest_name or None, phone=phone_text),
            total_amount=after_tax,
            currency=attribute(total, "currency") or attribute(rates, "currency") or currency,
            # The transaction's own time orders a booking's revisions (Book, Modify, Cancel).
            received_at=created,
            ota_name=source,
            ota_reservation_code=booking_id,
            booked_at=created,
            special_requests="; ".join(r for r in requests if r) or None,
            total_before_tax=max(after_tax - taxes, Decimal(0)),
            payment_collect=collect,
            payment_type="credit_card" if child(stay, "PaymentCard") is not None else None,
            guarantee=_guarantee(child(stay, "PaymentCard")),
        )
    except ValueError as exc:
        raise UnreadableBookingError(f"booking {booking_id}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Retrieved:
    """One BR answer: the revisions read, the bookings that could not be, and the page size."""

    revisions: tuple[BookingRevision, ...]
    unreadable: tuple[UnreadableMessage, ...]
    count: int


def retrieved(root: Element, received_at: datetime, currency: str) -> Retrieved:
    """The bookings of a BR RS (the caller has already checked it is no ``Error``)."""
    bookings = (
        list(children(child(root, "Bookings"), "Booking"))
        if child(root, "Bookings") is not None
        else []
    )
    revisions = []
    unreadable = []
    for element in bookings:
        try:
            revisions.append(booking_revision(element, received_at, currency))
        except UnreadableBookingError as exc:
            unreadable.append(
                UnreadableMessage(
                    key=f"expedia-booking-{attribute(element, 'id')}-{attribute(element, 'type')}",
                    body=to_bytes(element),
                    reason=str(exc),
                )
            )
    return Retrieved(tuple(revisions), tuple(unreadable), len(bookings))
