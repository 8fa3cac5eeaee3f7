"""Acknowledgements: telling a channel that the revisions of an inbox item are stored.

An acknowledgement is only ever sent after the item's transaction committed, so a channel never
forgets a booking innsync has not kept. It is due from that commit on (``ack_status = "due"``,
the revision ids in ``ack_revision_ids``) and sent right away by the processor; when that fails
or the process dies in between, :func:`acknowledge_due` sends it again, with backoff, until the
channel takes it. Channels treat a repeated acknowledgement as a no-op, so sending one twice
(after a crash between the call and its bookkeeping) is harmless.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import AcknowledgesReservations, ConfirmsWithReservationNumber
from innsync.channels.errors import ChannelError, ChannelRejectedError, ChannelUnavailableError
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.db.claims import HeldRows, claim_due
from innsync.db.engine import reading, transaction
from innsync.inbox.lanes import in_lanes
from innsync.inbox.models import ACK_DONE, ACK_DUE, ACK_REFUSED, InboxItem
from innsync.inbox.notices import report_needs_attention
from innsync.inbox.timing import ACK_LEASE, AdapterFactory, Clock, retry_delay
from innsync.inbox.waking import ACK_WAITS_FOR_CHANNEL, wake_waiting
from innsync.reservations.models import Reservation

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=5)
# Connections whose acknowledgements are sent at once by a retry pass.
CONCURRENT_CONNECTIONS = 8
# After this many failed attempts a person is told (once); the retries go on.
ATTENTION_AFTER = 10


def mark_due(item: InboxItem, revision_ids: list[str], now: datetime) -> None:
    """In the item's own transaction: these revisions are to be acknowledged after the commit.

    The lease keeps retry passes off while the processor sends the acknowledgement itself.
    """
    if not revision_ids:
        return
    item.ack_status = ACK_DUE
    item.ack_revision_ids = list(dict.fromkeys(revision_ids))
    item.ack_not_before = now + ACK_LEASE
    item.ack_error = ""


async def acknowledge_due(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    limit: int = 50,
    *,
    clock: Clock = utcnow,
) -> int:
    """Send the acknowledgements that are due (crashes, failed attempts); returns how many.

    Each connection's in order, those of up to ``CONCURRENT_CONNECTIONS`` connections at once,
    so one channel that times out does not hold back the others.
    """
    claimed = _claim(sessions, limit, clock())
    held = HeldRows(
        sessions,
        clock,
        InboxItem.id,
        InboxItem.ack_not_before,
        ACK_LEASE,
        [item_id for item_id, _ in claimed],
        InboxItem.ack_status == ACK_DUE,
    )
    by_connection: dict[uuid.UUID, list[tuple[int, Connection]]] = {}
    for item_id, connection in claimed:
        by_connection.setdefault(connection.id, []).append((item_id, connection))

    async def send(claim: tuple[int, Connection]) -> None:
        item_id, connection = claim
        try:
            adapter = adapter_for(connection)
        except Exception as exc:  # noqa: BLE001  (a broken stored config is the connection's)
            held.release(item_id)
            containment.connection_failed(sessions, connection.id, "acknowledge", exc)
            _settle(sessions, item_id, [], exc, clock())
            return
        try:
            if isinstance(adapter, AcknowledgesReservations):
                await acknowledge_item(sessions, adapter, item_id, clock=clock, held=held)
            else:  # the connection's channel no longer wants acknowledgements
                held.release(item_id)
                _settle(sessions, item_id, [], None, clock())
        except Exception as exc:
            # Not a channel's answer (handled in ``acknowledge_item``): a bug met by this item.
            # Recorded on it and retried with backoff; the other items go on.
            held.release(item_id)
            if isinstance(exc, SQLAlchemyError):
                raise
            logger.error("acknowledgement failed", exc_info=exc, extra={"inbox_item_id": item_id})
            _settle(sessions, item_id, [], exc, clock())

    async with held.kept():
        await in_lanes(by_connection.values(), send, CONCURRENT_CONNECTIONS)
    return len(claimed)


async def acknowledge_item(
    sessions: sessionmaker[Session],
    adapter: AcknowledgesReservations,
    item_id: int,
    *,
    clock: Clock = utcnow,
    held: HeldRows | None = None,
) -> None:
    """Acknowledge the item's outstanding revisions, then record what the channel took.

    ``held``: the retry pass's claims, whose lease is renewed until the item is settled here.
    """
    with reading(sessions) as session:
        item = session.get(InboxItem, item_id)
        if item is None or item.ack_status != ACK_DUE:
            return
        outstanding = list(item.ack_revision_ids)
        numbers = reservation_numbers(session, item, adapter, outstanding)
    done: list[str] = []
    failure: ChannelError | None = None
    for revision_id in outstanding:
        try:
            number = numbers.get(revision_id)
            if number is not None and isinstance(adapter, ConfirmsWithReservationNumber):
                await adapter.confirm_revision(revision_id, number)
            else:
                await adapter.acknowledge_revision(revision_id)
        except ChannelRejectedError as exc:
            # The channel will never take it (an unknown id): retrying cannot help.
            _release(held, item_id)
            logger.warning(
                "channel refused an acknowledgement",
                extra={"inbox_item_id": item_id, "revision_id": revision_id, "error": str(exc)},
            )
            _refuse(sessions, item_id, f"revision {revision_id}: {exc}", clock())
            return
        except ChannelError as exc:
            failure = exc
            break
        done.append(revision_id)
    _release(held, item_id)  # sent: no renewal may move the due time set below
    _settle(sessions, item_id, done, failure, clock())


def _release(held: HeldRows | None, item_id: int) -> None:
    if held is not None:
        held.release(item_id)


def reservation_numbers(
    session: Session,
    item: InboxItem,
    adapter: AcknowledgesReservations,
    revision_ids: list[str],
) -> dict[str, str]:
    """innsync's number (the reservation id, 32 hex digits) for each revision whose channel
    wants it with the acknowledgement; revisions of no stored reservation are left out."""
    if not isinstance(adapter, ConfirmsWithReservationNumber):
        return {}
    numbers = {}
    for revision_id in revision_ids:
        booking_id = adapter.booking_id_of(revision_id)
        if booking_id is None:
            continue
        reservation_id = session.scalar(
            select(Reservation.id).where(
                Reservation.tenant_id == item.tenant_id,
                Reservation.source == str(item.connection_id),
                Reservation.channel_booking_id == booking_id,
            )
        )
        if reservation_id is not None:
            numbers[revision_id] = reservation_id.hex
    return numbers


def _claim(
    sessions: sessionmaker[Session], limit: int, now: datetime
) -> list[tuple[int, Connection]]:
    with transaction(sessions) as session:
        items = claim_due(
            session,
            InboxItem,
            InboxItem.ack_not_before,
            now,
            ACK_LEASE,
            InboxItem.ack_status == ACK_DUE,
            limit=limit,
        )
        claimed = []
        for item in items:
            connection = session.get_one(Connection, item.connection_id)
            session.expunge(connection)
            claimed.append((item.id, connection))
        return claimed


def _settle(
    sessions: sessionmaker[Session],
    item_id: int,
    done: list[str],
    failure: Exception | None,
    now: datetime,
) -> None:
    with transaction(sessions) as session:
        item = session.get(InboxItem, item_id, with_for_update=True, populate_existing=True)
        if item is None or item.ack_status != ACK_DUE:
            return
        remaining = [rid for rid in item.ack_revision_ids if rid not in done]
        item.ack_revision_ids = remaining
        if done:  # the channel took one: it is back for the connection's other waiting work
            wake_waiting(session, item.connection_id, now)
        if failure is None or not remaining:
            item.ack_status, item.acked_at, item.ack_not_before = ACK_DONE, now, None
            item.ack_error = ""
            return
        item.ack_attempts += 1
        hint = failure.retry_after if isinstance(failure, ChannelUnavailableError) else None
        item.ack_not_before = now + retry_delay(item.ack_attempts, FIRST_RETRY, hint)
        waits = ACK_WAITS_FOR_CHANNEL if isinstance(failure, ChannelError) else ""
        error = f"attempt {item.ack_attempts}: {waits}{containment.describe(failure)}"
        item.ack_error = error[:2000]
        if item.ack_attempts == ATTENTION_AFTER:
            _needs_attention(session, item, "the channel has not taken the acknowledgement")


def _refuse(sessions: sessionmaker[Session], item_id: int, reason: str, now: datetime) -> None:
    with transaction(sessions) as session:
        item = session.get(InboxItem, item_id, with_for_update=True, populate_existing=True)
        if item is None or item.ack_status != ACK_DUE:
            return
        item.ack_status, item.ack_not_before = ACK_REFUSED, None
        item.ack_error = reason[:2000]
        _needs_attention(session, item, "the channel refused the acknowledgement")


def _needs_attention(session: Session, item: InboxItem, what: str) -> None:
    connection = session.get_one(Connection, item.connection_id)
    report_needs_attention(
        session, connection, f"ack_{item.ack_status}", f"{what}: {item.ack_error}", item.id
    )
