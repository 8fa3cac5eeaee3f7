"""Sending direct bookings to the channels that take them (the ``PushesReservations`` capability).

The outbox rows (``outbox.bookings``) are written with the booking; this pass claims the due
ones (``SKIP LOCKED`` plus a lease, so several workers share them), sends each reservation *as
it is now* through its connection's mappings, and records the outcome:

- taken: the channel's booking id and the revision sent are stored; a change made meanwhile
  left ``wanted_revision`` higher, so the row stays due and the newer state is sent next.
- refused (``ChannelRejectedError``, ``MappingMissingError``): shown on the reservation and
  told to the PMS as ``reservation.push_failed``; not retried until the booking changes again.
- unavailable, throttled, a timeout: retried with backoff, never dropped. The adapter makes a
  retry safe: it sends an idempotency reference derived from the reservation id and looks the
  booking up by it first, so an attempt that timed out after the channel stored the booking is
  not made twice.
- refused credentials: the connection needs attention (once, with an event); the row waits.

Booking pushes are rare beside ARI, so they do not take the rate-limit bucket's lease; each
adapter still meters its own calls (Beds24's credit meter refuses a call the account cannot
afford, which comes back here as "unavailable, retry after").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import PushesReservations
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.channels.types import (
    BookedRoom,
    BookingRevision,
    BookingStatus,
    ChannelLimits,
    GuestDetails,
)
from innsync.clock import Clock, utc_now
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.db.claims import claim_due
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.service import emit
from innsync.inbox.metrics import error_outcome
from innsync.inbox.timing import AdapterFactory, retry_delay
from innsync.logging import log_context
from innsync.marketplace import lifecycle, quota
from innsync.outbox.models import (
    PUSH_DONE,
    PUSH_PENDING,
    PUSH_REFUSED,
    PUSH_UNSUPPORTED,
    BookingPush,
)
from innsync.reservations.models import CANCELLED, Guest, Reservation
from innsync.sync import metrics

logger = logging.getLogger(__name__)

# A push being sent is left to its worker this long before another worker may take it: longer
# than a channel call with its timeout, so one attempt is never sent twice at once.
PUSH_LEASE = timedelta(seconds=90)
# The first retry of a failed attempt; doubled per failure up to inbox.timing.MAX_RETRY.
FIRST_RETRY = timedelta(seconds=5)
# After this many failed attempts in a row the PMS is told (once); the retries go on.
ATTENTION_AFTER = 10
# Failed attempts after which a marketplace booking push is failed for good (see
# marketplace/lifecycle.py); with FIRST_RETRY doubled, 8 attempts span about 10 minutes, longer
# than a 5-minute channel quota window. The loops pass the setting.
MARKETPLACE_ATTEMPTS = 8
MAX_ERROR = 2000
SENDING_STATES = ("pending", "connected")


@dataclass(frozen=True, slots=True)
class _Claimed:
    push_id: int
    connection: Connection


async def push_due_bookings(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    limit: int = 20,
    *,
    clock: Clock = utc_now,
    marketplace_attempts: int = MARKETPLACE_ATTEMPTS,
) -> int:
    """Send the booking pushes that are due; returns how many were tried."""
    claimed = _claim(sessions, limit, clock())
    for item in claimed:
        # Every line of this push names its connection.
        with log_context(**item.connection.log_ids(), booking_push_id=item.push_id):
            await _push_claimed(sessions, adapter_for, item, clock, marketplace_attempts)
    return len(claimed)


async def _push_claimed(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    item: _Claimed,
    clock: Clock,
    marketplace_attempts: int,
) -> None:
    try:
        adapter = adapter_for(item.connection)
    except Exception as exc:  # noqa: BLE001  (a broken stored config is the connection's)
        containment.connection_failed(sessions, item.connection.id, "booking push", exc)
        _retry(sessions, item.push_id, exc, clock())
        return
    if not isinstance(adapter, PushesReservations):
        _settle(sessions, item.push_id, PUSH_UNSUPPORTED, "the channel takes no bookings")
        return
    await push_one(
        sessions, adapter, item.push_id, clock=clock, marketplace_attempts=marketplace_attempts
    )


async def push_one(
    sessions: sessionmaker[Session],
    adapter: PushesReservations,
    push_id: int,
    *,
    clock: Clock = utc_now,
    marketplace_attempts: int = MARKETPLACE_ATTEMPTS,
) -> None:
    """Send one reservation to one connection and record what the channel answered."""
    unmapped: MappingMissingError | None = None
    if _over_quota(sessions, push_id, adapter, clock()):
        return
    with sessions() as session:
        push = session.get(BookingPush, push_id)
        if push is None or push.state != PUSH_PENDING:
            return
        revision_number = push.wanted_revision
        try:
            revision = booking_revision(session, push, clock())
        except MappingMissingError as exc:
            unmapped = exc
    if unmapped is not None:  # recorded after the read session ends (SQLite's one writer)
        _refuse(sessions, push_id, revision_number, unmapped, clock())
        return
    try:
        channel_id = await adapter.push_reservation(revision)
    except (ChannelRejectedError, MappingMissingError) as exc:
        _refuse(sessions, push_id, revision_number, exc, clock())
        _count(adapter, "rejected")
    except ChannelAuthError as exc:
        _retry(sessions, push_id, exc, clock(), marketplace_attempts, needs_attention=True)
        _count(adapter, error_outcome(exc))
    except ChannelError as exc:
        _retry(sessions, push_id, exc, clock(), marketplace_attempts)
        _count(adapter, error_outcome(exc))
    except SQLAlchemyError:
        raise
    except Exception as exc:
        logger.error("booking push failed", exc_info=exc, extra={"booking_push_id": push_id})
        _retry(sessions, push_id, exc, clock(), marketplace_attempts)
        _count(adapter, "error")
    else:
        _taken(sessions, push_id, revision_number, channel_id, clock())
        _count(adapter, "accepted")


def _count(adapter: PushesReservations, outcome: str) -> None:
    """One booking push in the pushes metric, once its outcome is recorded."""
    name = getattr(adapter, "name", "unknown")  # the protocol does not promise a name
    metrics.PUSHES.labels(name, "booking", outcome).inc()


def booking_revision(session: Session, push: BookingPush, now: datetime) -> BookingRevision:
    """The reservation as the connection's channel knows it: codes through its mappings."""
    reservation = session.get_one(Reservation, push.reservation_id)
    room_codes = {
        row.room_type_id: row.channel_code
        for row in session.scalars(
            select(RoomTypeMapping).where(RoomTypeMapping.connection_id == push.connection_id)
        )
    }
    plan_codes = {
        row.rate_plan_id: row.channel_code
        for row in session.scalars(
            select(RatePlanMapping).where(RatePlanMapping.connection_id == push.connection_id)
        )
    }
    rooms = []
    for room in reservation.rooms:
        code = room_codes.get(room.room_type_id)
        if code is None:
            raise MappingMissingError(f"room type {room.room_type_id} is not mapped")
        rooms.append(
            BookedRoom(
                room_type_code=code,
                rate_plan_code=plan_codes.get(room.rate_plan_id) if room.rate_plan_id else None,
                occupancy=room.adults + room.children,
                nightly_prices=tuple(
                    (date.fromisoformat(night), Decimal(price))
                    for night, price in sorted(room.nightly_prices.items())
                ),
                children=room.children,
                child_ages=tuple(room.child_ages or ()),
            )
        )
    status: BookingStatus = (
        "cancelled"
        if reservation.status == CANCELLED
        else "new"
        if push.pushed_revision is None
        else "modified"
    )
    guest = session.get(Guest, reservation.guest_id) if reservation.guest_id else None
    return BookingRevision(
        channel_booking_id=str(reservation.id),
        revision_id=f"{reservation.id}@{reservation.revision}",
        status=status,
        arrival=reservation.arrival,
        departure=reservation.departure,
        rooms=tuple(rooms),
        guest=_guest(guest),
        total_amount=reservation.total_amount,
        currency=reservation.currency,
        received_at=now,
        booked_at=reservation.booked_at,
        arrival_time=reservation.arrival_time,
        special_requests=reservation.special_requests or None,
    )


def _guest(guest: Guest | None) -> GuestDetails:
    if guest is None:
        return GuestDetails()
    name = f"{guest.first_name} {guest.last_name}".strip()
    return GuestDetails(
        name=name or None,
        email=guest.email,
        phone=guest.phone,
        address=guest.address,
        city=guest.city,
        postal_code=guest.postal_code,
        country=guest.country,
        language=guest.language,
    )


def _claim(sessions: sessionmaker[Session], limit: int, now: datetime) -> list[_Claimed]:
    with transaction(sessions) as session:
        pushes = claim_due(
            session,
            BookingPush,
            BookingPush.next_attempt_at,
            now,
            PUSH_LEASE,
            BookingPush.state == PUSH_PENDING,
            limit=limit,
        )
        claimed = []
        for push in pushes:
            connection = session.get_one(Connection, push.connection_id)
            if (
                connection.state not in SENDING_STATES
                or not connection.push_bookings
                or not connection.push_enabled
                or connection.shadow_mode
            ):
                # Off, paused, in shadow mode, or waiting for a person (credentials): the row
                # waits, looked at again when its lease ends, and is sent once the connection
                # is back.
                continue
            session.expunge(connection)
            claimed.append(_Claimed(push.id, connection))
        return claimed


def _locked(session: Session, push_id: int) -> BookingPush | None:
    push = session.get(BookingPush, push_id, with_for_update=True, populate_existing=True)
    return push if push is not None and push.state == PUSH_PENDING else None


def _taken(
    sessions: sessionmaker[Session], push_id: int, revision: int, channel_id: str, now: datetime
) -> None:
    with transaction(sessions) as session:
        push = _locked(session, push_id)
        if push is None:
            return
        push.channel_booking_id, push.pushed_revision = channel_id, revision
        push.attempts, push.last_error = 0, ""
        if push.wanted_revision <= revision:
            push.state = PUSH_DONE
            if lifecycle.is_marketplace(session, push):
                lifecycle.announce(session, push)  # the hotel's confirmation is checked next
        else:  # changed while on the wire: the newer state is due at once
            push.next_attempt_at = now


def _refuse(
    sessions: sessionmaker[Session],
    push_id: int,
    revision: int,
    error: ChannelError,
    now: datetime,
) -> None:
    with transaction(sessions) as session:
        push = _locked(session, push_id)
        if push is None:
            return
        if push.wanted_revision > revision:
            # Changed meanwhile: the newer state may well be taken; it is tried at once.
            push.next_attempt_at = now
            return
        push.state, push.last_error = PUSH_REFUSED, str(error)[:MAX_ERROR]
        if lifecycle.is_marketplace(session, push):
            lifecycle.fail(session, push, f"refused: {push.last_error}")
        reservation = session.get_one(Reservation, push.reservation_id)
        emit(
            session,
            push.tenant_id,
            kinds.RESERVATION_PUSH_FAILED,
            {
                "reservation_id": str(push.reservation_id),
                "revision": revision,
                "connection_id": str(push.connection_id),
                "error": push.last_error[:500],
            },
            property_id=reservation.property_id,
            subject_id=str(push.reservation_id),
        )
        logger.warning(
            "channel refused a booking",
            extra={"booking_push_id": push_id, "connection_id": str(push.connection_id)},
        )


def _retry(
    sessions: sessionmaker[Session],
    push_id: int,
    error: BaseException,
    now: datetime,
    marketplace_attempts: int = MARKETPLACE_ATTEMPTS,
    *,
    needs_attention: bool = False,
) -> None:
    with transaction(sessions) as session:
        push = _locked(session, push_id)
        if push is None:
            return
        push.attempts += 1
        hint = error.retry_after if isinstance(error, ChannelUnavailableError) else None
        push.next_attempt_at = now + retry_delay(push.attempts, FIRST_RETRY, hint)
        push.last_error = f"attempt {push.attempts}: {containment.describe(error)}"[:MAX_ERROR]
        if push.attempts >= marketplace_attempts and lifecycle.is_marketplace(session, push):
            # A marketplace booking has a guest waiting for an answer: bounded, then failed.
            lifecycle.fail(session, push, f"gave up after {push.attempts} attempts: {error}")
            return
        if needs_attention or push.attempts == ATTENTION_AFTER:
            connection = session.get_one(Connection, push.connection_id)
            containment.needs_attention(session, connection, f"booking push: {push.last_error}")


def _over_quota(
    sessions: sessionmaker[Session], push_id: int, adapter: PushesReservations, now: datetime
) -> bool:
    """Spend one call of a marketplace source's quota; when spent, the push waits (not an
    attempt) until the quota has room."""
    limits = getattr(adapter, "limits", None)
    if not isinstance(limits, ChannelLimits):
        return False
    with transaction(sessions) as session:
        push = _locked(session, push_id)
        if push is None:
            return True
        wait = quota.wait_for_call(session, push.connection_id, limits, now)
        if wait:
            push.next_attempt_at = now + timedelta(seconds=wait)
            return True
    return False


def _settle(sessions: sessionmaker[Session], push_id: int, state: str, reason: str) -> None:
    with transaction(sessions) as session:
        push = _locked(session, push_id)
        if push is not None:
            push.state, push.last_error = state, reason
