"""Conflicts held between a channel revision and a PMS change: list, read and resolve them.

A resolution goes through the same code as a channel revision (``stay_ledger.set_stay`` moves
the ledger by the difference and marks availability dirty; ``channel.record_revision`` writes
the audit row and the event), with origin ``conflict:<id>`` and the resolving API key:

- ``channel``: the held revision is applied whole, as if it had not been held;
- ``pms``: the reservation stays as it is (an audit row ``resolved`` records the decision);
- ``merge``: the reservation as it is, with the chosen fields taken from the channel's version.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import BookingRevision
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.errors import ConflictError
from innsync.events import kinds
from innsync.events.service import emit
from innsync.money import round_money
from innsync.properties.models import Property, RoomType
from innsync.properties.service import get_owned
from innsync.reservations.assignment import assign_units
from innsync.reservations.channel import Outcome, apply_revision, record_revision, reservation_room
from innsync.reservations.conflict_rules import revision_from_json
from innsync.reservations.guests import match_or_create_guest
from innsync.reservations.models import (
    CANCELLED,
    CONFIRMED,
    OPEN,
    RESOLVED,
    Reservation,
    ReservationChange,
    ReservationConflict,
    ReservationRoom,
)
from innsync.reservations.revision_checks import (
    MappedRoom,
    UnmappedCodeError,
    guest_in,
    mapped_rooms,
)
from innsync.reservations.schemas import ConflictRead, ConflictResolve
from innsync.reservations.service import reservation_range, snapshot
from innsync.reservations.stay_ledger import (
    lock_property_room_types,
    report_overbooking,
    set_stay,
)
from innsync.stay_dates import DateRange


def list_conflicts(
    session: Session,
    tenant_id: uuid.UUID,
    status: str | None = None,
    property_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[ReservationConflict]:
    """The tenant's conflicts, newest first."""
    query = select(ReservationConflict).where(ReservationConflict.tenant_id == tenant_id)
    if property_id is not None:
        get_owned(session, Property, tenant_id, property_id)
        query = query.where(ReservationConflict.property_id == property_id)
    if status is not None:
        query = query.where(ReservationConflict.status == status)
    query = query.order_by(ReservationConflict.created_at.desc(), ReservationConflict.id)
    return list(session.scalars(query.limit(max(1, min(limit, 500)))))


def resolve_conflict(
    session: Session,
    tenant_id: uuid.UUID,
    conflict_id: uuid.UUID,
    data: ConflictResolve,
    actor_key_id: uuid.UUID | None,
) -> ReservationConflict:
    """Resolve an open conflict; 409 when it is resolved already (or was superseded)."""
    conflict = get_owned(session, ReservationConflict, tenant_id, conflict_id)
    # The property's room-type locks, as channel revisions take them: a resolution and a
    # revision of the same property (or two resolutions) apply one after the other.
    # Locking reads from here on: they see what committed meanwhile, also under MariaDB's
    # repeatable-read snapshots.
    room_types = lock_property_room_types(session, conflict.property_id)
    session.refresh(conflict, with_for_update=True)
    if conflict.status != OPEN:
        raise ConflictError(f"conflict {conflict.id} is already resolved ({conflict.resolution})")
    reservation = session.get_one(
        Reservation, conflict.reservation_id, populate_existing=True, with_for_update=True
    )
    connection = session.get_one(Connection, uuid.UUID(reservation.source))
    revision = revision_from_json(conflict.channel_version)
    origin = f"conflict:{conflict.id}"
    fields: list[str] = list(data.fields or [])
    outcome: Outcome = "unchanged"
    if data.accept == "channel":
        rooms = _channel_rooms(session, connection, revision, room_types)
        outcome = apply_revision(
            session, connection, room_types, reservation, revision, rooms, origin, actor_key_id
        ).outcome
    elif data.accept == "merge":
        outcome = _merge(
            session, connection, room_types, reservation, revision, fields, origin, actor_key_id
        )
    if outcome == "unchanged":
        _audit_kept(session, reservation, origin, actor_key_id)
    conflict.status, conflict.resolution = RESOLVED, data.accept
    conflict.resolved_fields = fields or None
    conflict.resolved_at, conflict.resolved_by_key_id = utcnow(), actor_key_id
    session.flush()
    emit(
        session,
        tenant_id,
        kinds.RESERVATION_CONFLICT_RESOLVED,
        {
            "conflict_id": str(conflict.id),
            "reservation_id": str(reservation.id),
            "accept": data.accept,
            "fields": fields,
            "revision": reservation.revision,
        },
        property_id=reservation.property_id,
        subject_id=str(reservation.id),
    )
    return conflict


def conflict_read(conflict: ReservationConflict) -> ConflictRead:
    return ConflictRead(
        id=conflict.id,
        property_id=conflict.property_id,
        reservation_id=conflict.reservation_id,
        status=conflict.status,
        fields=conflict.fields,
        channel=conflict.channel_version,
        pms=conflict.pms_version,
        pms_changed_at=conflict.pms_changed_at,
        origin=conflict.origin,
        resolution=conflict.resolution,
        resolved_fields=conflict.resolved_fields,
        resolved_at=conflict.resolved_at,
        resolved_by_key_id=conflict.resolved_by_key_id,
        created_at=conflict.created_at,
    )


def _merge(
    session: Session,
    connection: Connection,
    room_types: dict[uuid.UUID, RoomType],
    reservation: Reservation,
    revision: BookingRevision,
    fields: list[str],
    origin: str,
    actor_key_id: uuid.UUID | None,
) -> Outcome:
    """The reservation as it is, with ``fields`` taken from the channel's version.

    Rooms keep their amounts; nightly prices of nights outside the resulting stay are dropped.
    """
    before = snapshot(session, reservation)
    channel_status = CANCELLED if revision.status == "cancelled" else CONFIRMED
    stay = revision.stay if "dates" in fields else reservation_range(reservation)
    rooms = (
        [
            reservation_room(index, room, revision.currency)
            for index, room in enumerate(_channel_rooms(session, connection, revision, room_types))
        ]
        if "rooms" in fields
        else list(reservation.rooms)
    )
    shortfalls = set_stay(
        session,
        room_types,
        reservation,
        status=channel_status if "status" in fields else reservation.status,
        stay=stay,
        rooms=[_room_for_stay(index, room, stay) for index, room in enumerate(rooms)],
    )
    if "amount" in fields:
        reservation.currency = revision.currency
        reservation.total_amount = round_money(revision.total_amount, revision.currency)
    if "guest" in fields:
        guest = match_or_create_guest(
            session, reservation.tenant_id, guest_in(revision.guest), revision.received_at
        )
        if guest is not None:
            reservation.guest_id = guest.id
    session.flush()
    assign_units(session, reservation)
    outcome = record_revision(session, reservation, before, origin, actor_key_id)
    if shortfalls:
        report_overbooking(session, connection, reservation, shortfalls)
    return outcome


def _channel_rooms(
    session: Session,
    connection: Connection,
    revision: BookingRevision,
    room_types: dict[uuid.UUID, RoomType],
) -> list[MappedRoom]:
    try:
        return mapped_rooms(session, connection, revision, room_types)
    except UnmappedCodeError as exc:
        raise ConflictError(
            f"the channel's rooms cannot be taken: {exc.reason}; map the codes on the "
            "connection, or keep the PMS's rooms"
        ) from exc


def _room_for_stay(position: int, room: ReservationRoom, stay: DateRange) -> ReservationRoom:
    """A new row for ``room`` in the stay (the old rows go with the reservation's old rooms)."""
    return ReservationRoom(
        position=position,
        room_type_id=room.room_type_id,
        rate_plan_id=room.rate_plan_id,
        unit_id=room.unit_id,
        adults=room.adults,
        children=room.children,
        nightly_prices={
            night: price
            for night, price in room.nightly_prices.items()
            if date.fromisoformat(night) in stay
        },
        amount=room.amount,
    )


def _audit_kept(
    session: Session, reservation: Reservation, origin: str, actor_key_id: uuid.UUID | None
) -> None:
    """The audit row of a resolution that left the reservation as it was."""
    session.add(
        ReservationChange(
            tenant_id=reservation.tenant_id,
            reservation_id=reservation.id,
            revision=reservation.revision,
            action="resolved",
            changes={},
            snapshot=snapshot(session, reservation),
            origin=origin,
            actor_key_id=actor_key_id,
        )
    )
