"""The reservations page's search: the form's values checked, and one page of matching rows.

The filters are the JSON list's (``reservations/listing.py``), applied across the tenant's
properties; a page costs the same few queries whatever its size (the rows come with their guest
and property in one query, rooms are not loaded).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session, raiseload

from innsync.connections.models import Connection
from innsync.properties.models import Property
from innsync.reservations.listing import ReservationFilter, SelectT, filtered
from innsync.reservations.models import STATUSES, Guest, Reservation
from innsync.stay_dates import DateRange

# Rows per page: a screenful on a laptop, and the most a page ever loads.
PER_PAGE = 25
# The longest values the form takes, as the JSON list's query parameters allow.
LIMITS = {"channel": 32, "guest": 400, "reference": 128}
# Stays searched must lie within these years (MariaDB stores no date before 1000).
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


@dataclass
class Search:
    """The form as typed (to show it again) and what it means, or why it means nothing."""

    values: dict[str, str]
    where: ReservationFilter = field(default_factory=ReservationFilter)
    property_id: uuid.UUID | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def link(self, page: int) -> str:
        """The query string of another page of the same search."""
        kept = {name: value for name, value in self.values.items() if value}
        return "?" + urlencode({**kept, "page": page})


@dataclass(frozen=True, slots=True)
class Row:
    id: uuid.UUID
    property_name: str
    status: str
    channel: str
    reference: str
    arrival: date
    departure: date
    guest: str
    is_guest_erased: bool
    currency: str
    total_amount: Decimal
    is_overbooked: bool


@dataclass(frozen=True, slots=True)
class Results:
    rows: list[Row]
    total: int
    pages: int


def parse_search(params: Mapping[str, str]) -> Search:
    """The search a query string asks for; every bad value gets a message by its field."""
    names = ("property", "status", "channel", "stay_from", "stay_to", "guest", "reference", "page")
    values = {name: (params.get(name) or "").strip() for name in names}
    search = Search(values)
    errors = search.errors
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = f"At most {limit} characters."
    if values["property"]:
        try:
            search.property_id = uuid.UUID(values["property"])
        except ValueError:
            errors["property"] = "Choose a property from the list."
    if values["status"] and values["status"] not in STATUSES:
        errors["status"] = "Choose a status from the list."
    stay_from = _date(values, "stay_from", errors)
    stay_to = _date(values, "stay_to", errors)
    stay = None
    if stay_from is not None or stay_to is not None:
        if stay_from is None or stay_to is None:
            missing = "stay_to" if stay_from is not None else "stay_from"
            errors.setdefault(missing, "Give both dates of the stay.")
        elif stay_to <= stay_from:
            errors["stay_to"] = "The last date must come after the first."
        else:
            stay = DateRange(stay_from, stay_to)
    if values["page"]:
        if not values["page"].isdigit() or not 1 <= int(values["page"]) <= 100_000:
            errors["page"] = "Not a page of this list."
        else:
            search.page = int(values["page"])
    if not errors:
        search.where = ReservationFilter(
            statuses=[values["status"]] if values["status"] else None,
            channel=values["channel"] or None,
            reference=values["reference"] or None,
            staying=stay,
            guest_name=values["guest"] or None,
        )
    return search


def _date(values: dict[str, str], name: str, errors: dict[str, str]) -> date | None:
    if not values[name]:
        return None
    try:
        found = date.fromisoformat(values[name])
    except ValueError:
        errors[name] = "A date as YYYY-MM-DD."
        return None
    if not EARLIEST <= found <= LATEST:
        errors[name] = f"A date between {EARLIEST.year} and {LATEST.year}."
        return None
    return found


def search_reservations(session: Session, tenant_id: uuid.UUID, search: Search) -> Results:
    """One page of the tenant's reservations that pass the search, latest changed first."""
    count = session.scalar(_scoped(select(func.count(Reservation.id)), tenant_id, search)) or 0
    query = _scoped(
        select(Reservation, Guest, Property.name).outerjoin(
            Guest, (Guest.id == Reservation.guest_id) & (Guest.tenant_id == tenant_id)
        ),
        tenant_id,
        search,
    )
    found = session.execute(
        query.options(raiseload(Reservation.rooms))
        .order_by(Reservation.updated_at.desc(), Reservation.id)
        .offset((search.page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    )
    rows = [
        Row(
            id=reservation.id,
            property_name=property_name,
            status=reservation.status,
            channel=reservation.channel,
            reference=reservation.ota_reservation_code
            or reservation.channel_reference
            or reservation.channel_booking_id
            or "",
            arrival=reservation.arrival,
            departure=reservation.departure,
            guest=guest_name(guest),
            is_guest_erased=guest is not None and guest.erased_at is not None,
            currency=reservation.currency,
            total_amount=reservation.total_amount,
            is_overbooked=reservation.is_overbooked,
        )
        for reservation, guest, property_name in found
    ]
    return Results(rows, count, max(1, -(-count // PER_PAGE)))


def _scoped(query: SelectT, tenant_id: uuid.UUID, search: Search) -> SelectT:
    query = query.join(Property, Property.id == Reservation.property_id).where(
        Reservation.tenant_id == tenant_id, Property.tenant_id == tenant_id
    )
    if search.property_id is not None:
        query = query.where(Reservation.property_id == search.property_id)
    return filtered(query, search.where)


def guest_name(guest: Guest | None) -> str:
    """The guest as the pages show them; an erased guest never shows what was kept before."""
    if guest is None:
        return ""
    if guest.erased_at is not None:
        return "Erased guest"
    return f"{guest.first_name} {guest.last_name}".strip()


def choices(session: Session, tenant_id: uuid.UUID) -> tuple[list[tuple[str, str]], list[str]]:
    """The tenant's properties (id, name) and the channels its bookings can come from."""
    properties = [
        (str(prop_id), name)
        for prop_id, name in session.execute(
            select(Property.id, Property.name)
            .where(Property.tenant_id == tenant_id)
            .order_by(Property.name, Property.id)
        )
    ]
    kinds = session.scalars(
        select(Connection.channel).where(Connection.tenant_id == tenant_id).distinct()
    )
    return properties, ["direct", *sorted(set(kinds))]
