"""Pure functions between Booking.com's reservation messages and innsync's booking revisions.

Booking.com never pushes: the provider pulls ``OTA_HotelResNotifRQ`` (new reservations) and
``OTA_HotelResModifyNotifRQ`` (modifications and cancellations) and acknowledges each with the
matching ``…RS`` naming the reservation id (§3.1 Reservations). A revision id is
``<queue>:<reservation id>:<last modification>``: stable while the same message waits in the
queue (so pulling it again stores nothing new), different for the next change of the booking,
and enough to send its acknowledgement to the right endpoint. Card numbers are never read.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from innsync.channels.booking_com.mapping import OTA, PAYLOAD_VERSION
from innsync.channels.errors import ChannelRejectedError, ChannelUnavailableError
from innsync.channels.types import (
    BookedRoom,
    BookingRevision,
    BookingStatus,
    Charge,
    ChargeKind,
    Guarantee,
    GuestDetails,
    PaymentCollect,
    PaymentType,
    UnreadableMessage,
)
from innsync.xmlkit.parsing import (
    Element,
    attribute,
    child,
    children,
    first,
    local_name,
    path,
    text_of,
    to_bytes,
)

Queue = Literal["new", "modify"]
QUEUE_PREFIX: dict[Queue, str] = {"new": "n", "modify": "m"}
# OTA UniqueID/HotelReservationID type 14: "Reservation" (OTA code list UIT).
RESERVATION_ID_TYPE = "14"
# [UNCONFIRMED] where the `ota_res_response_token` feature puts its token: a reservation id of
# this source context, echoed back in the acknowledgement (§3.1 error 409).
RESPONSE_TOKEN_CONTEXT = "ResponseToken"  # noqa: S105 (a label, not a secret)
# OTA AgeQualifyingCode (AQC): 10 adult, 8 child.
ADULT, CHILD = "10", "8"
_ROOT_OF: dict[Queue, tuple[str, str, str]] = {
    "new": ("OTA_HotelResNotifRQ", "HotelReservations", "HotelReservation"),
    "modify": ("OTA_HotelResModifyNotifRQ", "HotelResModifies", "HotelResModify"),
}
_ACK_OF: dict[Queue, tuple[str, str, str]] = {
    "new": ("OTA_HotelResNotifRS", "HotelReservations", "HotelReservation"),
    "modify": ("OTA_HotelResModifyNotifRS", "HotelResModifies", "HotelResModify"),
}


@dataclass(frozen=True, slots=True)
class PulledReservation:
    """One reservation message of a queue: the revision, and what its acknowledgement needs."""

    revision: BookingRevision
    queue: Queue
    reservation_id: str
    response_token: str | None
    hotel_code: str | None


@dataclass(frozen=True, slots=True)
class RevisionKey:
    """What a revision id says: the queue to acknowledge on and the reservation id."""

    queue: Queue
    reservation_id: str

    @classmethod
    def parse(cls, revision_id: str) -> RevisionKey:
        prefix, _, rest = revision_id.partition(":")
        reservation_id = rest.partition(":")[0]
        queue = next((q for q, p in QUEUE_PREFIX.items() if p == prefix), None)
        if queue is None or not reservation_id:
            raise ChannelRejectedError(f"{revision_id!r} is not a Booking.com revision id")
        return cls(queue, reservation_id)


# Tokens of messages still waiting to be acknowledged; more than any queue holds at once, so
# only tokens of messages long gone are dropped (their acks pull again, §3.1 409).
RESPONSE_TOKENS_KEPT = 10_000


class ResponseTokens:
    """The latest response token per revision, shared by the adapters of one process.

    The reconciler pulls with one adapter and the processor acknowledges with another; the
    token the pull handed out is what the acknowledgement must carry (§3.1 409).
    """

    def __init__(self, kept: int = RESPONSE_TOKENS_KEPT) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._kept = kept

    def remember(self, hotel_id: str, revision: str, token: str) -> None:
        with self._lock:
            self._tokens[(hotel_id, revision)] = token
            self._tokens.move_to_end((hotel_id, revision))
            while len(self._tokens) > self._kept:
                self._tokens.popitem(last=False)

    def get(self, hotel_id: str, revision: str) -> str | None:
        with self._lock:
            return self._tokens.get((hotel_id, revision))

    def forget(self, hotel_id: str, revision: str) -> None:
        with self._lock:
            self._tokens.pop((hotel_id, revision), None)


RESPONSE_TOKENS = ResponseTokens()


def revision_id(queue: Queue, reservation_id: str, modified: datetime | None) -> str:
    stamp = "0" if modified is None else modified.strftime("%Y%m%dT%H%M%S%z")
    return f"{QUEUE_PREFIX[queue]}:{reservation_id}:{stamp}"


@dataclass(frozen=True, slots=True)
class PulledQueue:
    """What one pull of a queue held: reservations innsync reads, and messages it cannot."""

    reservations: list[PulledReservation]
    unreadable: list[tuple[UnreadableMessage, str | None]]
    """Each with the hotel code it names, so another hotel's message is left to its own."""


def pulled_reservations(root: Element, queue: Queue, now: datetime) -> PulledQueue:
    """Every reservation of a pulled ``…NotifRQ`` (an empty queue holds none).

    One message innsync cannot read does not hold back the others: it is handed back as
    unreadable (kept for audit, a person told) and stays unacknowledged in Booking.com's
    queue, which falls back to e-mailing it to the hotel (§3.1).
    """
    root_name, holder, item = _ROOT_OF[queue]
    if local_name(root) != root_name:
        raise ChannelUnavailableError(f"Booking.com answered {local_name(root)}, not {root_name}")
    found = PulledQueue([], [])
    for reservation in path(root, holder, item):
        try:
            found.reservations.append(_pulled(reservation, queue, now))
        except (ValueError, InvalidOperation) as exc:
            hotel = attribute(first(reservation, "ResGlobalInfo", "BasicPropertyInfo"), "HotelCode")
            found.unreadable.append((_unreadable(reservation, queue, exc), hotel))
    return found


def _unreadable(reservation: Element, queue: Queue, error: Exception) -> UnreadableMessage:
    body = to_bytes(reservation)
    reservation_id = attribute(child(reservation, "UniqueID"), "ID")
    modified = attribute(reservation, "LastModifyDateTime")
    # The id and modification as sent name the message across pulls (its response token
    # changes with each pull); without them, its bytes do.
    key = (
        f"{QUEUE_PREFIX[queue]}:{reservation_id}:{modified}"
        if reservation_id and modified
        else f"{QUEUE_PREFIX[queue]}:sha256:{hashlib.sha256(body).hexdigest()}"
    )
    what = f"reservation {reservation_id}" if reservation_id else "a reservation"
    return UnreadableMessage(key, body, f"Booking.com sent {what} innsync cannot read: {error}")


def _ids(reservation: Element) -> tuple[str | None, str | None]:
    reservation_id = attribute(child(reservation, "UniqueID"), "ID")
    token = None
    for held in path(reservation, "ResGlobalInfo", "HotelReservationIDs", "HotelReservationID"):
        if attribute(held, "ResID_SourceContext") == RESPONSE_TOKEN_CONTEXT:
            token = attribute(held, "ResID_Value")
        elif reservation_id is None:
            reservation_id = attribute(held, "ResID_Value")
    return reservation_id, token


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.utcoffset() is not None else None


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _status(queue: Queue, reservation: Element) -> BookingStatus:
    if queue == "new":
        return "new"
    state = (attribute(reservation, "ResStatus") or "").lower()
    return "cancelled" if state.startswith("cancel") else "modified"


def _pulled(reservation: Element, queue: Queue, now: datetime) -> PulledReservation:
    reservation_id, token = _ids(reservation)
    if not reservation_id:
        raise ValueError("a reservation without an id")
    created = _moment(attribute(reservation, "CreateDateTime"))
    modified = _moment(attribute(reservation, "LastModifyDateTime")) or created
    info = child(reservation, "ResGlobalInfo")
    total = first(reservation, "ResGlobalInfo", "Total")
    rooms = [_room(stay) for stay in path(reservation, "RoomStays", "RoomStay")]
    spans = [
        (
            date.fromisoformat(str(attribute(span, "Start"))),
            date.fromisoformat(str(attribute(span, "End"))),
        )
        for span in path(reservation, "RoomStays", "RoomStay", "TimeSpan")
    ]
    if not spans:
        raise ValueError("a reservation without a stay")
    fees = tuple(_fees(info))
    if rooms and fees:
        rooms[0] = _with_charges(rooms[0], fees)
    currency = attribute(total, "CurrencyCode") or _first_currency(reservation)
    status = _status(queue, reservation)
    payment = _payment(info)
    revision = BookingRevision(
        channel_booking_id=reservation_id,
        revision_id=revision_id(queue, reservation_id, modified),
        status=status,
        arrival=min(start for start, _ in spans),
        departure=max(end for _, end in spans),
        rooms=tuple(rooms),
        guest=_guest(reservation),
        total_amount=_money(attribute(total, "AmountAfterTax")) or Decimal(0),
        total_before_tax=_money(attribute(total, "AmountBeforeTax")),
        currency=currency,
        received_at=modified or now,
        ota_name="Booking.com",
        ota_reservation_code=reservation_id,
        booked_at=created,
        arrival_time=_arrival_time(first(reservation, "ResGuests", "ResGuest")),
        special_requests=_requests(reservation),
        commission=_money(
            attribute(first(info, "TotalCommissions", "CommissionPayableAmount"), "Amount")
            if info is not None
            else None
        ),
        payment_collect=payment.collect,
        payment_type=payment.kind,
        guarantee=payment.guarantee,
    )
    hotel = attribute(first(reservation, "ResGlobalInfo", "BasicPropertyInfo"), "HotelCode")
    return PulledReservation(revision, queue, reservation_id, token, hotel)


def _first_currency(reservation: Element) -> str:
    for rate in reservation.iter(f"{{{OTA.namespace}}}Base"):
        found = attribute(rate, "CurrencyCode")
        if found:
            return found
    raise ValueError("a reservation without a currency")


def _nights(rate: Element) -> list[date]:
    start = date.fromisoformat(str(attribute(rate, "EffectiveDate")))
    expire = attribute(rate, "ExpireDate")
    end = date.fromisoformat(expire) if expire else start + timedelta(days=1)
    end = max(end, start + timedelta(days=1))
    return [start + timedelta(days=n) for n in range((end - start).days)]


def _room(stay: Element) -> BookedRoom:
    room_rate = first(stay, "RoomRates", "RoomRate")
    room_type = attribute(room_rate, "RoomTypeCode") or attribute(
        first(stay, "RoomTypes", "RoomType"), "RoomTypeCode"
    )
    if not room_type:
        raise ValueError("a room without a room type")
    plan = attribute(room_rate, "RatePlanCode") or attribute(
        first(stay, "RatePlans", "RatePlan"), "RatePlanCode"
    )
    prices: list[tuple[date, Decimal]] = []
    for rate in path(stay, "RoomRates", "RoomRate", "Rates", "Rate"):
        amount = _money(attribute(child(rate, "Base"), "AmountAfterTax"))
        nights = _nights(rate)
        if amount is not None:
            # A rate spanning several nights is the price of each of them (OTA RateTimeUnit Day).
            prices.extend((night, amount) for night in nights)
    adults = children_count = 0
    ages: list[int] = []
    for count in path(stay, "GuestCounts", "GuestCount"):
        number = int(attribute(count, "Count") or "0")
        if attribute(count, "AgeQualifyingCode") == CHILD:
            children_count += number
            age = attribute(count, "Age")
            if age is not None and age.isdigit():
                ages.extend([int(age)] * number)
        else:
            adults += number
    charges = tuple(
        Charge(
            _charge_kind(attribute(tax, "Code")),
            text_of(first(tax, "TaxDescription", "Text")) or attribute(tax, "Code") or "tax",
            Decimal(str(attribute(tax, "Amount"))),
            attribute(tax, "Type") == "Inclusive",
        )
        for tax in path(stay, "Total", "Taxes", "Tax")
    )
    return BookedRoom(
        room_type,
        plan,
        occupancy=max(adults + children_count, 1),
        nightly_prices=tuple(prices),
        children=children_count,
        child_ages=tuple(ages[:children_count]),
        charges=charges,
    )


def _charge_kind(code: str | None) -> ChargeKind:
    # OTA Fee Tax Type (FTT) 3 is "City tax", 35 "Occupancy tax"; the rest count as taxes.
    return "city_tax" if code in {"3", "35"} else "tax"


def _fees(info: Element | None) -> Iterator[Charge]:
    if info is None:
        return
    for fee in path(info, "Fees", "Fee"):
        name = attribute(first(fee, "Description"), "Name") or attribute(fee, "Code") or "fee"
        yield Charge(
            "fee",
            name,
            Decimal(str(attribute(fee, "Amount"))),
            attribute(fee, "Type") == "Inclusive",
        )


def _with_charges(room: BookedRoom, extra: tuple[Charge, ...]) -> BookedRoom:
    return BookedRoom(
        room.room_type_code,
        room.rate_plan_code,
        room.occupancy,
        room.nightly_prices,
        room.children,
        room.child_ages,
        room.charges + extra,
    )


def _guest(reservation: Element) -> GuestDetails:
    customer = first(
        reservation, "ResGuests", "ResGuest", "Profiles", "ProfileInfo", "Profile", "Customer"
    )
    if customer is None:
        return GuestDetails()
    name = " ".join(
        part
        for part in (
            text_of(first(customer, "PersonName", "GivenName")),
            text_of(first(customer, "PersonName", "Surname")),
        )
        if part
    )
    address = child(customer, "Address")
    country = attribute(first(address, "CountryName"), "Code") if address is not None else None
    lines = (
        [text_of(line) for line in children(address, "AddressLine")] if address is not None else []
    )
    return GuestDetails(
        name=name or None,
        email=text_of(child(customer, "Email")),
        phone=attribute(child(customer, "Telephone"), "PhoneNumber"),
        address=", ".join(line for line in lines if line) or None,
        city=text_of(child(address, "CityName")) if address is not None else None,
        postal_code=text_of(child(address, "PostalCode")) if address is not None else None,
        country=country.upper() if country and len(country) == 2 and country.isalpha() else None,
        language=attribute(customer, "Language"),
    )


def _arrival_time(guest: Element | None) -> str | None:
    text = attribute(guest, "ArrivalTime")
    if text is None or len(text) < 5:
        return None
    return text[:5]


def _requests(reservation: Element) -> str | None:
    texts = [
        text_of(text)
        for text in path(
            reservation, "RoomStays", "RoomStay", "SpecialRequests", "SpecialRequest", "Text"
        )
    ]
    joined = "\n".join(text for text in texts if text)
    return joined or None


@dataclass(frozen=True, slots=True)
class _Payment:
    collect: PaymentCollect | None = None
    kind: PaymentType | None = None
    guarantee: Guarantee | None = None


def _payment(info: Element | None) -> _Payment:
    card = (
        first(info, "Guarantee", "GuaranteesAccepted", "GuaranteeAccepted", "PaymentCard")
        if info is not None
        else None
    )
    if card is None:
        return _Payment()
    # [UNCONFIRMED] how Booking.com marks a virtual card (Booking.com Payments); read from the
    # card's Remark, as the simulator writes it.
    is_virtual = "virtual" in (attribute(card, "Remark") or "").lower()
    expires = attribute(card, "ExpireDate")
    mask = attribute(child(card, "CardNumber"), "Mask") or ""
    last_four = mask[-4:] if len(mask) >= 4 and mask[-4:].isdigit() else None
    return _Payment(
        "ota" if is_virtual else "property",
        "credit_card",
        Guarantee(
            card_type=attribute(card, "CardCode"),
            card_last_four=last_four,
            cardholder_name=text_of(child(card, "CardHolderName")),
            expires=f"{expires[:2]}/20{expires[2:]}" if expires and len(expires) == 4 else None,
            is_virtual=is_virtual,
        ),
    )


def acknowledgement(
    queue: Queue,
    hotel_id: str,
    reservations: list[tuple[str, str | None]],
    now: datetime,
    target: str,
) -> bytes:
    """The ``…RS`` that acknowledges ``reservations`` (id, response token) as processed."""
    root_name, holder_name, item_name = _ACK_OF[queue]
    root = OTA.root(
        root_name,
        {
            "TimeStamp": now.isoformat(timespec="seconds"),
            "Target": target,
            "Version": PAYLOAD_VERSION,
        },
    )
    OTA.sub(root, "Success")
    holder = OTA.sub(root, holder_name)
    for reservation_id, token in reservations:
        item = OTA.sub(holder, item_name)
        info = OTA.sub(item, "ResGlobalInfo")
        ids = OTA.sub(info, "HotelReservationIDs")
        OTA.sub(
            ids,
            "HotelReservationID",
            {"ResID_Type": RESERVATION_ID_TYPE, "ResID_Value": reservation_id},
        )
        if token is not None:
            OTA.sub(
                ids,
                "HotelReservationID",
                {
                    "ResID_Type": RESERVATION_ID_TYPE,
                    "ResID_Value": token,
                    "ResID_SourceContext": RESPONSE_TOKEN_CONTEXT,
                },
            )
        # The schema wants one more child of ResGlobalInfo; the hotel is the natural one.
        OTA.sub(info, "BasicPropertyInfo", {"HotelCode": hotel_id})
    return to_bytes(root)
