"""Queueing direct bookings for the channels that take them, in the booking's own transaction.

Only direct bookings (made in innsync or by the PMS) are queued: a booking that came from a
channel already lives on that channel, and the channel manager in front of the OTAs is the one
that closes its nights elsewhere; innsync closes them on every other channel through
availability. Each connection of the property with booking pushes on and every room type of
the booking mapped gets one row per reservation (``BookingPush``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection, RoomTypeMapping
from innsync.outbox.models import PUSH_PENDING, BookingPush


def _booking_connections(
    session: Session, property_id: uuid.UUID, room_type_ids: Collection[uuid.UUID]
) -> list[uuid.UUID]:
    """Connections that push bookings and map every one of ``room_type_ids``."""
    mapped = (
        select(RoomTypeMapping.connection_id)
        .where(RoomTypeMapping.room_type_id.in_(list(room_type_ids)))
        .group_by(RoomTypeMapping.connection_id)
        .having(func.count(func.distinct(RoomTypeMapping.room_type_id)) == len(room_type_ids))
    )
    query = select(Connection.id).where(
        Connection.property_id == property_id,
        Connection.push_enabled.is_(True),
        Connection.push_bookings.is_(True),
        Connection.state != "disabled",
        Connection.id.in_(mapped),
    )
    return list(session.scalars(query.order_by(Connection.id)))


def queue_booking_push(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    reservation_id: uuid.UUID,
    revision: int,
    room_type_ids: Collection[uuid.UUID],
    now: datetime,
    *,
    is_cancellation: bool = False,
) -> int:
    """The reservation at ``revision`` is owed to its connections; returns how many.

    A connection that already has the booking's row keeps it (and the channel's id); a
    connection mapped since is owed the booking from now on. A cancellation is owed only where
    the booking was queued before (a first attempt may have stored it without an answer), even
    if the mapping has gone since.
    """
    held = {
        push.connection_id: push
        for push in session.scalars(
            select(BookingPush).where(BookingPush.reservation_id == reservation_id)
        )
    }
    targets = set(held)
    if not is_cancellation:
        targets |= set(_booking_connections(session, property_id, set(room_type_ids)))
    for connection_id in sorted(targets):
        push = held.get(connection_id)
        if push is None:
            push = BookingPush(
                tenant_id=tenant_id,
                reservation_id=reservation_id,
                connection_id=connection_id,
                attempts=0,
                last_error="",
            )
            session.add(push)
        push.state, push.wanted_revision, push.next_attempt_at = PUSH_PENDING, revision, now
        push.queued_at = now
        push.attempts, push.last_error = 0, ""
    return len(targets)
