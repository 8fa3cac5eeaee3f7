"""Holding a channel revision as a conflict: the versions compared, the conflict kept for a
person (``conflicts.py`` resolves it), and the open conflict a newer revision supersedes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import BookingRevision
from innsync.db.base import utcnow
from innsync.events import kinds
from innsync.events.service import emit
from innsync.money import round_money
from innsync.reservations.conflict_rules import Version, revision_json
from innsync.reservations.models import (
    CANCELLED,
    CONFIRMED,
    OPEN,
    RESOLVED,
    SUPERSEDED,
    Reservation,
    ReservationConflict,
)
from innsync.reservations.revision_checks import MappedRoom


def version_of(revision: BookingRevision, rooms: list[MappedRoom]) -> Version:
    """The revision as the conflict rules compare it."""
    return Version(
        status=CANCELLED if revision.status == "cancelled" else CONFIRMED,
        arrival=revision.arrival,
        departure=revision.departure,
        total_amount=round_money(revision.total_amount, revision.currency),
        room_type_ids=tuple(sorted(str(room.room_type_id) for room in rooms)),
    )


def hold_conflict(
    session: Session,
    reservation: Reservation,
    revision: BookingRevision,
    fields: tuple[str, ...],
    pms: dict[str, Any],
    pms_changed_at: datetime,
    origin: str,
) -> None:
    """Keep both versions for a person; the reservation and the ledger stay as they are."""
    conflict = ReservationConflict(
        tenant_id=reservation.tenant_id,
        property_id=reservation.property_id,
        reservation_id=reservation.id,
        status=OPEN,
        fields=list(fields),
        channel_version=revision_json(revision),
        pms_version=pms,
        pms_changed_at=pms_changed_at,
        origin=origin,
    )
    session.add(conflict)
    session.flush()
    emit(
        session,
        reservation.tenant_id,
        kinds.RESERVATION_CONFLICT,
        {
            "conflict_id": str(conflict.id),
            "reservation_id": str(reservation.id),
            "channel_booking_id": reservation.channel_booking_id,
            "fields": list(fields),
        },
        property_id=reservation.property_id,
        subject_id=str(reservation.id),
    )


def supersede_open_conflict(session: Session, reservation: Reservation) -> None:
    """A newer channel revision takes the place of the one an open conflict holds."""
    for conflict in session.scalars(
        select(ReservationConflict).where(
            ReservationConflict.reservation_id == reservation.id,
            ReservationConflict.status == OPEN,
        )
    ):
        conflict.status, conflict.resolution = RESOLVED, SUPERSEDED
        conflict.resolved_at = utcnow()
