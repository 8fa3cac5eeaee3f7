"""Channex booking revisions in neutral terms (channex.md §1.6); webhooks are in webhooks.py.

- A revision (``GET /booking_revisions/:id``, the feed) becomes a neutral ``BookingRevision``:
  the booking id is Channex's ``booking_id`` (stable across new / modified / cancelled), the
  revision id is the revision's ``id``, and revisions are ordered by ``inserted_at`` (naive UTC).
  Room and rate codes are Channex's room type and rate plan UUIDs, which is what mappings hold;
  an unmapped room or rate (``room_type_id`` / ``rate_plan_id`` null) gets the code
  ``unmapped``, so innsync parks the booking and asks for a person.
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
    BookedRoom,
    BookingRevision,
    BookingStatus,
    GuestDetails,
)

logger = logging.getLogger(__name__)

UNMAPPED = "unmapped"
_STATUSES: dict[str, BookingStatus] = {
    "new": "new",
    "modified": "modified",
    "cancelled": "cancelled",
}


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Occupancy(_Vendor):
    adults: int = 0
    children: int = 0
    infants: int = 0


class _Customer(_Vendor):
    name: str | None = None
    surname: str | None = None
    mail: str | None = None
    phone: str | None = None


class _Room(_Vendor):
    room_type_id: str | None = None
    rate_plan_id: str | None = None
    days: dict[date, Decimal] = {}
    occupancy: _Occupancy = _Occupancy()


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
        return BookingRevision(
            channel_booking_id=vendor.booking_id,
            revision_id=vendor.id,
            status=status,
            arrival=vendor.arrival_date,
            departure=vendor.departure_date,
            rooms=tuple(_room(room) for room in vendor.rooms),
            guest=_guest(vendor.customer),
            total_amount=vendor.amount if vendor.amount is not None else Decimal(0),
            currency=vendor.currency.upper(),
            received_at=received_at,
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise ChannelRejectedError(f"not a Channex booking revision: {brief(exc)}") from exc


def _room(room: _Room) -> BookedRoom:
    adults = max(room.occupancy.adults, 0)
    children = max(room.occupancy.children, 0)
    return BookedRoom(
        room_type_code=room.room_type_id or UNMAPPED,
        # §1.6: a null rate plan is one Channex could not map; innsync parks it as unmapped
        # rather than book the room without knowing its rate.
        rate_plan_code=room.rate_plan_id or UNMAPPED,
        # innsync counts children in the occupancy; a room always holds someone.
        occupancy=max(adults + children, 1),
        children=children,
        nightly_prices=tuple(sorted(room.days.items())),
    )


def _guest(customer: _Customer | None) -> GuestDetails:
    if customer is None:
        return GuestDetails()
    name = " ".join(part for part in (customer.name, customer.surname) if part) or None
    return GuestDetails(name=name, email=customer.mail or None, phone=customer.phone or None)


def brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        fields = sorted(
            {".".join(str(p) for p in error["loc"]) or "body" for error in exc.errors()}
        )
        return "invalid " + ", ".join(fields[:5])
    return str(exc)[:300]


def revisions_from_page(answer: Any) -> tuple[list[BookingRevision], int, int | None]:
    """The revisions of a feed page, how many resources it held and the feed's total.

    A revision innsync cannot read is left out with a warning rather than failing the page
    (which would stop every later booking); it stays unacknowledged in the feed, its
    ``booking`` webhook is kept as a rejected inbox item, and Channex reports it as
    ``non_acked_booking``.
    """
    data = answer.get("data") if isinstance(answer, Mapping) else None
    if not isinstance(data, list):
        raise ChannelUnavailableError("the Channex feed answer holds no data list")
    meta = answer.get("meta") if isinstance(answer.get("meta"), Mapping) else {}
    total = meta.get("total") if isinstance(meta.get("total"), int) else None
    revisions = []
    for resource in data:
        try:
            revisions.append(revision_from_channex(resource))
        except ChannelRejectedError as exc:
            logger.warning("unreadable Channex revision in the feed", extra={"error": str(exc)})
    return revisions, len(data), total
