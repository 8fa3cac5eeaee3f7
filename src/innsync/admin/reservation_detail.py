"""The reservation page: the booking as the API reads it, with its revision history, the raw
body each channel revision came in, its pushes to channels and its conflicts.

A revision's ``origin`` names its source: ``inbox:<item id>`` is the inbox item whose body
(kept encrypted as received, ``inbox/models.py``) carried it, ``conflict:<id>`` a resolution.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.admin.reservation_search import guest_name
from innsync.connections.models import Connection
from innsync.inbox.models import InboxItem
from innsync.properties.models import Property, RoomType
from innsync.properties.service import get_owned
from innsync.reservations.models import Guest, Reservation, ReservationConflict
from innsync.reservations.schemas import ReservationRead
from innsync.reservations.service import list_changes, reservation_read

INBOX_ORIGIN = "inbox:"
CONFLICT_ORIGIN = "conflict:"
# Raw bodies longer than this are cut on the page (a pull may carry many bookings).
MAX_PAYLOAD_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Payload:
    """The raw body an inbox item kept, or why there is none to show."""

    item_id: int
    received_at: datetime | None
    source: str
    text: str
    note: str


@dataclass(frozen=True, slots=True)
class Revision:
    revision: int
    action: str
    origin: str
    created_at: datetime
    changes: list[tuple[str, str, str]]  # (field, before, after)
    payload: Payload | None
    conflict_id: str | None


@dataclass(frozen=True, slots=True)
class Detail:
    reservation: ReservationRead
    property_name: str
    room_type_names: dict[uuid.UUID, str]
    connection_names: dict[uuid.UUID, str]
    guest: str
    guest_erased_at: datetime | None
    revisions: list[Revision]
    conflicts: list[ReservationConflict]


def reservation_detail(session: Session, tenant_id: uuid.UUID, reservation_id: uuid.UUID) -> Detail:
    """Everything the page shows; another tenant's reservation is not found."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    read = reservation_read(session, reservation)
    guest = session.get(Guest, reservation.guest_id) if reservation.guest_id else None
    prop = session.get_one(Property, reservation.property_id)
    room_types = {
        room_type_id: name
        for room_type_id, name in session.execute(
            select(RoomType.id, RoomType.name).where(RoomType.property_id == prop.id)
        )
    }
    connections = {
        connection_id: name
        for connection_id, name in session.execute(
            select(Connection.id, Connection.name).where(Connection.tenant_id == tenant_id)
        )
    }
    changes = list_changes(session, tenant_id, reservation_id)
    payloads = _payloads(session, tenant_id, [change.origin for change in changes])
    revisions = [
        Revision(
            revision=change.revision,
            action=change.action,
            origin=change.origin,
            created_at=change.created_at,
            changes=[(name, _shown(old), _shown(new)) for name, old, new in _pairs(change.changes)],
            payload=payloads.get(_item_id(change.origin) or -1),
            conflict_id=change.origin.removeprefix(CONFLICT_ORIGIN)
            if change.origin.startswith(CONFLICT_ORIGIN)
            else None,
        )
        for change in changes
    ]
    conflicts = list(
        session.scalars(
            select(ReservationConflict)
            .where(
                ReservationConflict.tenant_id == tenant_id,
                ReservationConflict.reservation_id == reservation_id,
            )
            .order_by(ReservationConflict.created_at, ReservationConflict.id)
        )
    )
    return Detail(
        reservation=read,
        property_name=prop.name,
        room_type_names=room_types,
        connection_names=connections,
        guest=guest_name(guest),
        guest_erased_at=guest.erased_at if guest else None,
        revisions=revisions,
        conflicts=conflicts,
    )


def _item_id(origin: str) -> int | None:
    number = origin.removeprefix(INBOX_ORIGIN)
    if origin.startswith(INBOX_ORIGIN) and number.isascii() and number.isdigit():
        return int(number)
    return None


def _payloads(session: Session, tenant_id: uuid.UUID, origins: list[str]) -> dict[int, Payload]:
    """The inbox items behind these origins, in one query; the tenant's own only."""
    ids = sorted({item_id for origin in origins if (item_id := _item_id(origin)) is not None})
    if not ids:
        return {}
    found = {
        item.id: item
        for item in session.scalars(
            select(InboxItem).where(InboxItem.tenant_id == tenant_id, InboxItem.id.in_(ids))
        )
    }
    payloads: dict[int, Payload] = {}
    for item_id in ids:
        item = found.get(item_id)
        if item is None:
            # The retention job deletes finished items after their period (docs/operations.md).
            payloads[item_id] = Payload(item_id, None, "", "", "No longer kept (inbox retention).")
        elif not item.body:
            payloads[item_id] = Payload(
                item_id, item.received_at, item.source, "", "The body was erased with the guest."
            )
        else:
            payloads[item_id] = Payload(
                item_id, item.received_at, item.source, _readable(item.body), ""
            )
    return payloads


def _readable(body: bytes) -> str:
    """The body as text: indented when it is JSON, as received otherwise (XML, form data)."""
    text = body.decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if len(text) > MAX_PAYLOAD_CHARS:
        return text[:MAX_PAYLOAD_CHARS] + f"\n… ({len(text) - MAX_PAYLOAD_CHARS} more characters)"
    return text


def _pairs(changes: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``{field: [old, new]}`` as triples; another shape shows whole as the new value."""
    return [
        (name, value[0], value[1])
        if isinstance(value, list) and len(value) == 2
        else (name, None, value)
        for name, value in changes.items()
    ]


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
