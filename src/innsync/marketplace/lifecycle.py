"""The confirmation lifecycle of a marketplace booking, and the event of each transition.

A booking of a channel-sourced property is owed to its source connection through the booking
outbox (``BookingPush``, sent by ``sync/bookings.py``). Its push moves
``pending`` → ``pushed`` (the hotel's system took it) → ``confirmed`` (the hotel accepted it),
or to ``failed`` with the reason (refused, or the bounded retries ran out). A modification or
cancellation queues the push again (``pending``) and goes the same way. Each transition is an
event (``marketplace.booking_*``), delivered as a signed webhook and in the feed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import BookingConfirmation
from innsync.events import kinds
from innsync.events.service import emit
from innsync.marketplace.models import AriSource
from innsync.outbox.models import PUSH_CONFIRMED, PUSH_DONE, PUSH_FAILED, BookingPush
from innsync.reservations.models import Reservation

EVENT_OF_STATE = {
    "pending": kinds.MARKETPLACE_BOOKING_PENDING,
    "pushed": kinds.MARKETPLACE_BOOKING_PUSHED,
    PUSH_CONFIRMED: kinds.MARKETPLACE_BOOKING_CONFIRMED,
    PUSH_FAILED: kinds.MARKETPLACE_BOOKING_FAILED,
}
MAX_REASON = 500


def is_marketplace(session: Session, push: BookingPush) -> bool:
    """The push goes to the ARI source of its reservation's property."""
    reservation = session.get_one(Reservation, push.reservation_id)
    source = session.get(AriSource, reservation.property_id)
    return source is not None and source.connection_id == push.connection_id


def note_queued(session: Session, reservation_id: uuid.UUID) -> None:
    """Tell of the reservation's marketplace pushes queued (or queued again) just now."""
    reservation = session.get_one(Reservation, reservation_id)
    source = session.get(AriSource, reservation.property_id)
    if source is None:
        return
    push = session.scalar(
        select(BookingPush).where(
            BookingPush.reservation_id == reservation_id,
            BookingPush.connection_id == source.connection_id,
        )
    )
    if push is not None and push.state == "pending":
        announce(session, push)


def announce(session: Session, push: BookingPush, reason: str = "") -> None:
    """The event of the push's current state."""
    reservation = session.get_one(Reservation, push.reservation_id)
    payload: dict[str, object] = {
        "reservation_id": str(push.reservation_id),
        "revision": push.wanted_revision,
        "connection_id": str(push.connection_id),
        "status": push.state,
        "channel_booking_id": push.channel_booking_id,
        "attempts": push.attempts,
    }
    if reason:
        payload["reason"] = reason[:MAX_REASON]
    emit(
        session,
        push.tenant_id,
        EVENT_OF_STATE[push.state],
        payload,
        property_id=reservation.property_id,
        subject_id=str(push.reservation_id),
    )


def fail(session: Session, push: BookingPush, reason: str) -> None:
    """The hotel will not get (or refused) this revision: ``failed`` with the reason."""
    push.state, push.last_error = PUSH_FAILED, reason[:2000]
    announce(session, push, reason)


def confirm(session: Session, push: BookingPush) -> None:
    push.state, push.last_error = PUSH_CONFIRMED, ""
    announce(session, push)


def record_confirmation(
    session: Session,
    connection_id: uuid.UUID,
    channel_booking_id: str,
    answer: BookingConfirmation,
    now: datetime,
    interval: timedelta,
) -> bool:
    """Apply a hotel's answer that its channel sent (a webhook); ``False`` when no pushed
    marketplace booking of the connection has that id (already settled, or unknown)."""
    push = session.scalar(
        select(BookingPush)
        .where(
            BookingPush.connection_id == connection_id,
            BookingPush.channel_booking_id == channel_booking_id,
            BookingPush.state == PUSH_DONE,
        )
        .with_for_update()
    )
    if push is None or not is_marketplace(session, push):
        return False
    apply_answer(session, push, answer, now + interval)
    return True


def apply_answer(
    session: Session, push: BookingPush, answer: BookingConfirmation, next_check: datetime
) -> None:
    """The hotel's answer on a pushed booking: confirmed, failed with the reason, or asked
    again at ``next_check`` while it is still pending."""
    if answer.state == "confirmed":
        confirm(session, push)
    elif answer.state == "rejected":
        fail(session, push, f"the hotel rejected it: {answer.reason or 'no reason'}")
    else:
        push.next_attempt_at = next_check
