"""The conflicts pages: the list, and both versions of a conflict side by side, field by field.

The fields are those a merge can take from the channel (``conflict_rules.MERGE_FIELDS``), so each
row of the comparison is also a choice in the resolve form. The channel's version is kept in
neutral revision JSON and the PMS's as a reservation snapshot; both are shown in the same terms
(room type names, dates, money) so that equal values look equal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.admin.reservation_search import guest_name
from innsync.channels.revision_json import revision_from_json
from innsync.connections.models import Connection
from innsync.properties.models import Property, RoomType
from innsync.properties.service import get_owned
from innsync.reservations.conflict_rules import MERGE_FIELDS
from innsync.reservations.conflicts import list_conflicts
from innsync.reservations.models import Guest, Reservation, ReservationConflict
from innsync.reservations.revision_checks import UnmappedCodeError, mapped_rooms

LABELS = {
    "status": "Status",
    "dates": "Dates",
    "rooms": "Rooms",
    "amount": "Amount",
    "guest": "Guest",
}
# The list shows this many conflicts, newest first (open ones rarely number more).
LIST_LIMIT = 100


@dataclass(frozen=True, slots=True)
class ListedConflict:
    conflict: ReservationConflict
    reference: str
    property_name: str
    arrival: date | None


@dataclass(frozen=True, slots=True)
class FieldRow:
    name: str
    label: str
    channel: str
    pms: str
    differs: bool
    contradicted: bool  # the conflict rules held the revision for this field


@dataclass(frozen=True, slots=True)
class ConflictView:
    conflict: ReservationConflict
    reservation: Reservation
    property_name: str
    rows: list[FieldRow]


def listed_conflicts(
    session: Session, tenant_id: uuid.UUID, status: str | None
) -> list[ListedConflict]:
    """The tenant's conflicts (by the API's service) with their bookings, in two queries."""
    found = list_conflicts(session, tenant_id, status, limit=LIST_LIMIT)
    ids = {conflict.reservation_id for conflict in found}
    bookings = {
        row.id: row
        for row in session.execute(
            select(
                Reservation.id,
                Reservation.ota_reservation_code,
                Reservation.channel_booking_id,
                Reservation.arrival,
                Property.name,
            )
            .join(Property, Property.id == Reservation.property_id)
            .where(Reservation.tenant_id == tenant_id, Reservation.id.in_(sorted(ids)))
        )
    }
    listed = []
    for conflict in found:
        booking = bookings.get(conflict.reservation_id)
        listed.append(
            ListedConflict(
                conflict=conflict,
                reference=(booking.ota_reservation_code or booking.channel_booking_id or "")
                if booking
                else "",
                property_name=booking.name if booking else "",
                arrival=booking.arrival if booking else None,
            )
        )
    return listed


def conflict_view(session: Session, tenant_id: uuid.UUID, conflict_id: uuid.UUID) -> ConflictView:
    """Both versions of one of the tenant's conflicts, field by field."""
    conflict = get_owned(session, ReservationConflict, tenant_id, conflict_id)
    reservation = session.get_one(Reservation, conflict.reservation_id)
    types = {
        room_type.id: room_type
        for room_type in session.scalars(
            select(RoomType).where(RoomType.property_id == conflict.property_id)
        )
    }
    names = {room_type_id: room_type.name for room_type_id, room_type in types.items()}
    channel, pms = conflict.channel_version, conflict.pms_version
    pms_guest = session.get(Guest, uuid.UUID(pms["guest_id"])) if pms.get("guest_id") else None
    channel_guest = (channel.get("guest") or {}).get("name") or ""
    shown_pms_guest = guest_name(pms_guest)
    pairs = {
        "status": (_channel_status(channel), str(pms.get("status", ""))),
        "dates": (_stay(channel), _stay(pms)),
        "rooms": (_channel_rooms(session, reservation, channel, types), _pms_rooms(pms, names)),
        "amount": (
            _money(channel.get("currency", ""), channel.get("total")),
            _money(reservation.currency, pms.get("total_amount")),
        ),
        "guest": (str(channel_guest), shown_pms_guest),
    }
    rows = []
    for name in MERGE_FIELDS:
        on_channel, on_pms = pairs[name]
        differs = on_channel != on_pms
        if name == "amount":
            differs = _amount(channel.get("total")) != _amount(pms.get("total_amount"))
        elif name == "guest":
            differs = " ".join(str(channel_guest).split()).casefold() != shown_pms_guest.casefold()
        rows.append(
            FieldRow(
                name=name,
                label=LABELS[name],
                channel=on_channel,
                pms=on_pms,
                differs=differs,
                contradicted=name in conflict.fields,
            )
        )
    prop = session.get_one(Property, conflict.property_id)
    return ConflictView(conflict, reservation, prop.name, rows)


def _channel_status(version: dict[str, Any]) -> str:
    # A channel says "new" or "modified" of a booking that stands: innsync calls it confirmed.
    return "cancelled" if version.get("status") == "cancelled" else "confirmed"


def _stay(version: dict[str, Any]) -> str:
    try:
        arrival = date.fromisoformat(str(version.get("arrival")))
        departure = date.fromisoformat(str(version.get("departure")))
    except ValueError:
        return "—"
    nights = (departure - arrival).days
    return f"{arrival.isoformat()} to {departure.isoformat()} ({nights} night{'s' * (nights != 1)})"


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _money(currency: str, value: Any) -> str:
    amount = _amount(value)
    return "—" if amount is None else f"{amount} {currency}".strip()


def _channel_rooms(
    session: Session,
    reservation: Reservation,
    version: dict[str, Any],
    types: dict[uuid.UUID, RoomType],
) -> str:
    """The channel's rooms by the names of the room types their codes are mapped to (codes
    without a mapping shown as they are)."""
    try:
        revision = revision_from_json(version)
        connection_id = reservation.connection_id
        connection = session.get(Connection, connection_id) if connection_id else None
        if connection is None or connection.tenant_id != reservation.tenant_id:
            raise ValueError("the connection is gone")
        rooms = mapped_rooms(session, connection, revision, types)
    except (ValueError, UnmappedCodeError):
        codes = [str(room.get("room_type", "?")) for room in version.get("rooms") or []]
        return ", ".join(f"{code} (not mapped)" for code in codes) or "—"
    shown = sorted(
        f"{types[room.room_type_id].name} · {room.booked.occupancy - room.booked.children} adults"
        for room in rooms
    )
    return ", ".join(shown) or "—"


def _pms_rooms(version: dict[str, Any], names: dict[uuid.UUID, str]) -> str:
    shown = sorted(
        f"{names.get(uuid.UUID(room['room_type_id']), room['room_type_id'])} · "
        f"{room.get('adults', '?')} adults"
        for room in version.get("rooms") or []
    )
    return ", ".join(shown) or "—"
