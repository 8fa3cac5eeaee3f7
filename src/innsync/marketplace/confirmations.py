"""The hotel's confirmation of pushed marketplace bookings: periodic check and callback.

A push in ``pushed`` to a property's ARI source waits for the hotel. Where the channel tells
innsync (an adapter's webhook), :func:`record_confirmation` applies the answer; otherwise, or
as well, :func:`check_due_confirmations` asks the channel (``ConfirmsBookings``) every
``booking_status_interval_seconds``, spending one call of the source's quota per question.
A push past the deadline in ``pending`` or ``pushed`` is an alert (alerts/rules.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import ConfirmsBookings
from innsync.channels.errors import ChannelError
from innsync.clock import Clock, utc_now
from innsync.connections.models import Connection
from innsync.db.claims import claim_due
from innsync.db.engine import transaction
from innsync.inbox.timing import AdapterFactory
from innsync.marketplace import lifecycle
from innsync.marketplace.lifecycle import record_confirmation
from innsync.marketplace.models import AriSource
from innsync.marketplace.quota import wait_for_call
from innsync.outbox.models import PUSH_DONE, BookingPush

__all__ = ["check_due_confirmations", "record_confirmation"]

logger = logging.getLogger(__name__)

# A claimed check is left to its worker this long: longer than one status call with time-out.
CHECK_LEASE = timedelta(seconds=90)


@dataclass(frozen=True, slots=True)
class _Due:
    push_id: int
    channel_booking_id: str
    connection: Connection


async def check_due_confirmations(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    interval: timedelta,
    limit: int = 20,
    *,
    clock: Clock = utc_now,
) -> int:
    """Ask the hotels about the pushed marketplace bookings that are due; returns how many."""
    due = _claim(sessions, limit, clock())
    for item in due:
        try:
            adapter = adapter_for(item.connection)
        except Exception as exc:  # noqa: BLE001  (a broken stored config is the connection's)
            containment.connection_failed(sessions, item.connection.id, "booking status", exc)
            continue
        if not isinstance(adapter, ConfirmsBookings):
            _later(sessions, item.push_id, clock() + interval)
            continue
        now = clock()
        with transaction(sessions) as session:
            wait = wait_for_call(session, item.connection.id, adapter.limits, now)
        if wait:
            _later(sessions, item.push_id, now + timedelta(seconds=wait))
            continue
        try:
            answer = await adapter.booking_status(item.channel_booking_id)
        except ChannelError as exc:
            logger.warning(
                "booking status check failed",
                extra={"booking_push_id": item.push_id, "error": containment.describe(exc)},
            )
            _later(sessions, item.push_id, clock() + interval)
            continue
        with transaction(sessions) as session:
            push = _pushed(session, item.push_id)
            if push is not None:
                lifecycle.apply_answer(session, push, answer, clock() + interval)
    return len(due)


def _claim(sessions: sessionmaker[Session], limit: int, now: datetime) -> list[_Due]:
    with transaction(sessions) as session:
        pushes = claim_due(
            session,
            BookingPush,
            BookingPush.next_attempt_at,
            now,
            CHECK_LEASE,
            BookingPush.state == PUSH_DONE,
            BookingPush.connection_id.in_(select(AriSource.connection_id)),
            limit=limit,
        )
        due = []
        for push in pushes:
            if push.channel_booking_id is None:
                continue
            connection = session.get_one(Connection, push.connection_id)
            session.expunge(connection)
            due.append(_Due(push.id, push.channel_booking_id, connection))
        return due


def _pushed(session: Session, push_id: int) -> BookingPush | None:
    push = session.get(BookingPush, push_id, with_for_update=True, populate_existing=True)
    return push if push is not None and push.state == PUSH_DONE else None


def _later(sessions: sessionmaker[Session], push_id: int, when: datetime) -> None:
    with transaction(sessions) as session:
        push = _pushed(session, push_id)
        if push is not None:
            push.next_attempt_at = when
