"""Channex booking revisions in neutral terms (channex.md §1.6); webhooks are in webhooks.py.

- A revision (``GET /booking_revisions/:id``, the feed) becomes a neutral ``BookingRevision``:
  the booking id is Channex's ``booking_id`` (stable across new / modified / cancelled), the
  revision id is the revision's ``id``, and revisions are ordered by ``inserted_at`` (naive UTC).
  Room and rate codes are Channex's room type and rate plan UUIDs, which is what mappings hold;
  an unmapped room or rate (``room_type_id`` / ``rate_plan_id`` null) gets the code
  ``unmapped``, so innsync parks the booking and asks for a person.
- Everything else a hotel works with is kept: the OTA's name and reservation code, ``unique_id``
  (the channel reference), arrival hour, notes (special requests), commission, who collects
  payment, children's ages, each room's taxes and fees, the guest's address and language. A
  guarantee keeps the card's brand, last four digits, holder and expiry, never its number or cvv.
- The feed holds unacknowledged revisions, oldest first, 10 a page by default; a revision
  leaves it once acknowledged (``POST /booking_revisions/:id/ack``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from innsync.channels.errors import (
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.types import (
    MAX_CHILD_AGE,
    BookedRoom,
    BookingRevision,
    BookingStatus,
    Charge,
    ChargeKind,
    Guarantee,
    GuestDetails,
    PaymentCollect,
    PaymentType,
)

logger = logging.getLogger(__name__)

UNMAPPED = "unmapped"
_STATUSES: dict[str, BookingStatus] = {
    "new": "new",
    "modified": "modified",
    "cancelled": "cancelled",
}
_PAYMENT_COLLECT: dict[str, PaymentCollect] = {"property": "property", "ota": "ota"}
_PAYMENT_TYPES: dict[str, PaymentType] = {
    "credit_card": "credit_card",
    "bank_transfer": "bank_transfer",
}
_CHARGE_KINDS: dict[str, ChargeKind] = {"tax": "tax", "city_tax": "city_tax", "fee": "fee"}


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Occupancy(_Vendor):
    adults: int = 0
    children: int = 0
    infants: int = 0
    ages: list[int] | None = None


class _Customer(_Vendor):
    name: str | None = None
    surname: str | None = None
    mail: str | None = None
    phone: str | None = None
    country: str | None = None
    city: str | None = None
    address: str | None = None
    zip: str | None = None
    language: str | None = None


class _Tax(_Vendor):
    type: str | None = None
    name: str | None = None
    total_price: Decimal | None = None
    is_inclusive: bool = False


class _Room(_Vendor):
    room_type_id: str | None = None
    rate_plan_id: str | None = None
    days: dict[date, Decimal] = {}
    occupancy: _Occupancy = _Occupancy()
    taxes: list[_Tax] | None = None


class _Guarantee(_Vendor):
    # The card number (masked without PCI access, whole with it) is read only to keep its last
    # four digits; the cvv is never read.
    card_number: str | None = None
    card_type: str | None = None
    cardholder_name: str | None = None
    expiration_date: str | None = None
    is_virtual: bool | None = None


class _Revision(_Vendor):
    id: str
    booking_id: str
    status: str
    arrival_date: date
    departure_date: date
    amount: Decimal | None = None
    currency: str
    customer: _Customer | None = None
    rooms: list[_Room] = []
    inserted_at: datetime
    unique_id: str | None = None
    ota_name: str | None = None
    ota_reservation_code: str | None = None
    arrival_hour: str | None = None
    notes: str | None = None
    ota_commission: Decimal | None = None
    payment_collect: str | None = None
    payment_type: str | None = None
    guarantee: _Guarantee | None = None


def revision_from_channex(resource: Any) -> BookingRevision:
    """A §1.6 ``booking_revision`` resource (``{"id", "attributes"}``) in neutral terms.

    ``ChannelRejectedError`` says what does not fit, so the inbox keeps the item as rejected.
    """
    try:
        if not isinstance(resource, Mapping) or not isinstance(resource.get("attributes"), dict):
            raise ValueError("a booking revision resource needs its attributes")
        attributes = {"id": resource.get("id"), **resource["attributes"]}
        vendor = _Revision.model_validate(attributes)
        status = _STATUSES.get(vendor.status)
        if status is None:
            raise ValueError(f"unknown status {vendor.status!r}")
        received_at = vendor.inserted_at
        received_at = (
            received_at.replace(tzinfo=UTC)
            if received_at.tzinfo is None
            else received_at.astimezone(UTC)
        )
        rooms = tuple(_room(room) for room in vendor.rooms)
        total = vendor.amount if vendor.amount is not None else Decimal(0)
        return BookingRevision(
            channel_booking_id=vendor.booking_id,
            revision_id=vendor.id,
            status=status,
            arrival=vendor.arrival_date,
            departure=vendor.departure_date,
            rooms=rooms,
            guest=_guest(vendor.customer),
            total_amount=total,
            currency=vendor.currency.upper(),
            received_at=received_at,
            ota_name=vendor.ota_name or None,
            ota_reservation_code=vendor.ota_reservation_code or None,
            channel_reference=vendor.unique_id or None,
            # Channex dates a revision, not the booking: the first revision is the booking.
            booked_at=received_at if status == "new" else None,
            arrival_time=_clock_time(vendor.arrival_hour),
            special_requests=vendor.notes or None,
            total_before_tax=_before_tax(total, vendor.rooms),
            commission=vendor.ota_commission,
            payment_collect=_PAYMENT_COLLECT.get(vendor.payment_collect or ""),
            payment_type=_PAYMENT_TYPES.get(vendor.payment_type or ""),
            guarantee=_guarantee(vendor.guarantee),
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise ChannelRejectedError(f"not a Channex booking revision: {brief(exc)}") from exc


def _room(room: _Room) -> BookedRoom:
    adults = max(room.occupancy.adults, 0)
    # Infants (cots) are not counted, as before; ``ages`` may name theirs too, after the
    # children's, so at most ``children`` ages are kept.
    children = max(room.occupancy.children, 0)
    ages = tuple(age for age in room.occupancy.ages or () if 0 <= age < MAX_CHILD_AGE)
    return BookedRoom(
        room_type_code=room.room_type_id or UNMAPPED,
        # §1.6: a null rate plan is one Channex could not map; innsync parks it as unmapped
        # rather than book the room without knowing its rate.
        rate_plan_code=room.rate_plan_id or UNMAPPED,
        # innsync counts children in the occupancy; a room always holds someone.
        occupancy=max(adults + children, 1),
        children=children,
        child_ages=ages[:children],
        nightly_prices=tuple(sorted(room.days.items())),
        charges=tuple(
            Charge(
                kind=_CHARGE_KINDS.get(tax.type or "", "fee"),
                name=tax.name or tax.type or "",
                amount=tax.total_price,
                is_inclusive=tax.is_inclusive,
            )
            for tax in room.taxes or ()
            if tax.total_price is not None
        ),
    )


def _before_tax(total: Decimal, rooms: list[_Room]) -> Decimal | None:
    """Channex's ``amount`` less the taxes counted in it; unknown when no room lists its taxes.

    Taxes that are not inclusive come on top of ``amount`` and do not lower it.
    """
    if not any(room.taxes is not None for room in rooms):
        return None
    included = sum(
        (
            tax.total_price
            for room in rooms
            for tax in room.taxes or ()
            if tax.is_inclusive and tax.total_price is not None and tax.type != "fee"
        ),
        Decimal(0),
    )
    return max(total - included, Decimal(0))


def _clock_time(text: str | None) -> str | None:
    """``HH:MM`` from Channex's arrival hour (``"14:00"``, sometimes ``"14:00:00"`` or ``"9:30"``);
    anything else is dropped rather than refusing the booking."""
    if not text:
        return None
    hours, _, rest = text.strip().partition(":")
    minutes = rest[:2]
    if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()):
        return None
    if int(hours) > 23 or int(minutes) > 59 or len(minutes) != 2:
        return None
    return f"{int(hours):02d}:{minutes}"


def _guarantee(vendor: _Guarantee | None) -> Guarantee | None:
    """The guarantee without the card: its brand, last four digits, holder, expiry and whether
    the OTA issued it as a virtual card. Never the number, never the cvv."""
    if vendor is None:
        return None
    digits = "".join(char for char in vendor.card_number or "" if char.isascii() and char.isdigit())
    expires = vendor.expiration_date
    return Guarantee(
        card_type=vendor.card_type or None,
        card_last_four=digits[-4:] if len(digits) >= 4 else None,
        cardholder_name=vendor.cardholder_name or None,
        expires=expires if expires and len(expires) <= 7 else None,
        is_virtual=bool(vendor.is_virtual),
    )


def _guest(customer: _Customer | None) -> GuestDetails:
    if customer is None:
        return GuestDetails()
    name = " ".join(part for part in (customer.name, customer.surname) if part) or None
    country = (customer.country or "").strip().upper()
    return GuestDetails(
        name=name,
        email=customer.mail or None,
        phone=customer.phone or None,
        address=customer.address or None,
        city=customer.city or None,
        postal_code=customer.zip or None,
        country=country if len(country) == 2 and country.isascii() and country.isalpha() else None,
        language=customer.language or None,
    )


def brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        fields = sorted(
            {".".join(str(p) for p in error["loc"]) or "body" for error in exc.errors()}
        )
        return "invalid " + ", ".join(fields[:5])
    return str(exc)[:300]


def revision_from_booking(resource: Any) -> BookingRevision:
    """A §1.6 ``booking`` resource (``GET /bookings…``): the booking's latest revision with
    the booking id as its id and the revision's id in ``revision_id``."""
    attributes = resource.get("attributes") if isinstance(resource, Mapping) else None
    if not isinstance(attributes, Mapping) or not isinstance(attributes.get("revision_id"), str):
        raise ChannelRejectedError("a Channex booking resource needs its revision_id")
    # The booking's attributes may repeat its own id; the revision's id is what is kept.
    revision_id = attributes["revision_id"]
    return revision_from_channex(
        {"id": revision_id, "attributes": {**attributes, "id": revision_id}}
    )


def revisions_from_page(answer: Any) -> tuple[list[BookingRevision], int, int | None]:
    """The revisions of a feed page, how many resources it held and the feed's total.

    A revision innsync cannot read is left out with a warning rather than failing the page
    (which would stop every later booking); it stays unacknowledged in the feed, its
    ``booking`` webhook is kept as a rejected inbox item, and Channex reports it as
    ``non_acked_booking``.
    """
    owned, count, total = owned_revisions_from_page(answer)
    return [revision for _, revision in owned], count, total


def owned_revisions_from_page(
    answer: Any,
) -> tuple[list[tuple[str | None, BookingRevision]], int, int | None]:
    """:func:`revisions_from_page`, each revision with its ``property_id`` (``None`` when the
    resource names none), for a feed read across the account."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    if not isinstance(data, list):
        raise ChannelUnavailableError("the Channex feed answer holds no data list")
    meta = answer.get("meta") if isinstance(answer.get("meta"), Mapping) else {}
    total = meta.get("total") if isinstance(meta.get("total"), int) else None
    owned = []
    for resource in data:
        try:
            revision = revision_from_channex(resource)
        except ChannelRejectedError as exc:
            logger.warning("unreadable Channex revision in the feed", extra={"error": str(exc)})
            continue
        attributes = resource.get("attributes") if isinstance(resource, Mapping) else None
        owner = attributes.get("property_id") if isinstance(attributes, Mapping) else None
        owned.append((owner if isinstance(owner, str) else None, revision))
    return owned, len(data), total
