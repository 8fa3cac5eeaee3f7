"""The reservations list: a property's reservations in the order of their last change, paged by
a cursor, with filters.

The cursor is the change number (``Reservation.change_seq``) of the last reservation a page
showed; the next page shows those changed after it. Numbers are given at commit in commit order
(reservations/change_order.py), so paging on sees every booking made and every change committed
after the cursor, once, and never skips one committed earlier: no gaps and no repeats while
bookings come in. A reservation changed again after a page showed it comes again, later, with
its new state, which is what a PMS keeping up with changes needs. The last page's cursor is
returned even when empty, so a PMS polls with it for what changes next.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from innsync.errors import InvalidInputError
from innsync.properties.models import Property
from innsync.properties.service import get_owned
from innsync.reservations.guests import hashes_of, normalize_email, normalize_name
from innsync.reservations.models import Guest, Reservation
from innsync.stay_dates import DateRange

MAX_PAGE = 500
_CURSOR_PREFIX = "c1:"
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True, slots=True)
class ReservationFilter:
    """What the list keeps; every part left ``None`` keeps everything."""

    statuses: Sequence[str] | None = None
    channel: str | None = None
    """``direct`` or a channel kind (``channex``)."""
    connection_id: uuid.UUID | None = None
    ota_reservation_code: str | None = None
    reference: str | None = None
    """Any of the booking's references, exactly: the OTA's code, the channel's id or its code."""
    arrival_from: date | None = None
    arrival_before: date | None = None
    """Excluded, as every ``*_before``."""
    departure_from: date | None = None
    departure_before: date | None = None
    staying: DateRange | None = None
    """Stays overlapping these nights."""
    changed_since: datetime | None = None
    guest_email: str | None = None
    """The guest's e-mail, exactly (case aside): compared through its keyed hash."""
    guest_name: str | None = None
    """The guest's full name, "first last", exactly (case and spacing aside)."""


@dataclass(frozen=True, slots=True)
class ReservationPage:
    reservations: list[Reservation]
    next_cursor: str
    has_more: bool


def encode_cursor(change_seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{change_seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The change number a cursor stands for; 0 (the start) when there is none."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not number.isascii() or not number.isdigit():
        raise InvalidInputError("the cursor is not one this list gave")
    return int(number)


def list_reservations(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    where: ReservationFilter,
    cursor: str | None = None,
    limit: int = 100,
) -> ReservationPage:
    """One page of the property's reservations that pass ``where``, after ``cursor``."""
    get_owned(session, Property, tenant_id, property_id)
    after = decode_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    query = filtered(
        select(Reservation).where(
            Reservation.tenant_id == tenant_id,
            Reservation.property_id == property_id,
            Reservation.change_seq > after,
        ),
        where,
    )
    found = list(session.scalars(query.order_by(Reservation.change_seq).limit(limit + 1)))
    page = found[:limit]
    last = page[-1].change_seq if page else after
    return ReservationPage(page, encode_cursor(last or after), has_more=len(found) > limit)


def filtered(query: SelectT, where: ReservationFilter) -> SelectT:
    """``query`` (of reservations, perhaps with joined rows) narrowed to those ``where`` keeps."""
    if where.statuses:
        query = query.where(Reservation.status.in_(where.statuses))
    if where.channel is not None:
        query = query.where(Reservation.channel == where.channel)
    if where.connection_id is not None:
        query = query.where(Reservation.connection_id == where.connection_id)
    if where.ota_reservation_code is not None:
        query = query.where(Reservation.ota_reservation_code == where.ota_reservation_code)
    if where.reference is not None:
        query = query.where(
            or_(
                Reservation.ota_reservation_code == where.reference,
                Reservation.channel_booking_id == where.reference,
                Reservation.channel_reference == where.reference,
            )
        )
    if where.arrival_from is not None:
        query = query.where(Reservation.arrival >= where.arrival_from)
    if where.arrival_before is not None:
        query = query.where(Reservation.arrival < where.arrival_before)
    if where.departure_from is not None:
        query = query.where(Reservation.departure >= where.departure_from)
    if where.departure_before is not None:
        query = query.where(Reservation.departure < where.departure_before)
    if where.staying is not None:
        query = query.where(
            Reservation.arrival < where.staying.end, Reservation.departure > where.staying.start
        )
    if where.changed_since is not None:
        query = query.where(Reservation.updated_at >= where.changed_since)
    if where.guest_email is not None:
        query = query.where(_guest_with(Guest.email_hash, normalize_email(where.guest_email)))
    if where.guest_name is not None:
        query = query.where(_guest_with(Guest.name_hash, normalize_name(where.guest_name, "")))
    return query


def _guest_with(column: Any, normalized: str | None) -> ColumnElement[bool]:
    """The reservation's guest has this value: the details are encrypted, their keyed hashes
    are not, so only exact matches can be found (a text that normalizes to nothing finds none)."""
    return Reservation.guest_id.in_(select(Guest.id).where(column.in_(hashes_of(normalized))))
