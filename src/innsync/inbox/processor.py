"""The inbox processor: turns pending items into booking revisions and applies each item in one
transaction.

A pass claims due items (``FOR UPDATE SKIP LOCKED``, so any number of processors can run against
PostgreSQL or MariaDB; SQLite has one writer) and leases them. For each item the adapter decodes
the stored body (it may fetch from the channel: no transaction is open meanwhile), then one
transaction applies every revision of the item and settles the item:

- ``applied`` / ``ignored``: revisions stored, or nothing newer than what is stored; where the
  channel wants acknowledgements they are sent after the commit (``inbox.acknowledge``);
- ``parked``: a room or rate code is not mapped; re-queued by ``inbox.service.reprocess_parked``
  when the connection's mappings change;
- ``rejected``: the message cannot be a booking (malformed, impossible values);
- still ``pending`` with a later ``not_before``: the channel was unavailable while the adapter
  fetched the revision; retried with backoff, and parked after ``MAX_ATTEMPTS``.

Parked and rejected items raise a ``connection.needs_attention`` event: a booking the channel
confirmed is not in innsync yet, and a person has to look. The connection's state is left alone,
so outbound pushes carry on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import (
    AcknowledgesReservations,
    CancelsForGood,
    ChannelAdapter,
    ReceivesWebhooks,
    WebhookMessage,
)
from innsync.channels.errors import (
    BadSignatureError,
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.channels.revision_json import revision_from_bytes
from innsync.channels.types import (
    AriSnapshot,
    BookingAnswer,
    BookingCancellation,
    BookingRevision,
    ChannelNotice,
)
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.db.claims import HeldRows, claim_due
from innsync.db.engine import reading, transaction
from innsync.inbox import metrics
from innsync.inbox.acknowledge import acknowledge_item, mark_due
from innsync.inbox.lanes import in_lanes
from innsync.inbox.models import APPLIED, IGNORED, PARKED, PENDING, PULL, REJECTED, InboxItem
from innsync.inbox.notices import report_needs_attention, report_notice
from innsync.inbox.timing import LEASE, AdapterFactory, Clock, retry_delay
from innsync.inbox.waking import CHANNEL_UNAVAILABLE, CREDENTIALS_REFUSED, wake_waiting
from innsync.logging import log_context
from innsync.marketplace.channel_ari import apply_snapshot
from innsync.marketplace.lifecycle import record_confirmation
from innsync.marketplace.sources import source_by_connection
from innsync.reservations.channel import (
    RevisionOutcome,
    ingest_cancellation,
    ingest_revision,
    order_key,
)
from innsync.reservations.revision_checks import (
    InvalidRevisionError,
    RevisionNotAppliedError,
    UnmappedCodeError,
    check_revision,
)

logger = logging.getLogger(__name__)

# The lease (``timing.LEASE``) follows the work in flight: while a batch is processed, the
# items still held (the one being decoded, perhaps fetched from the channel until the HTTP
# time-out, and those waiting their turn) are renewed (``db.claims.HeldRows``), so the lease
# itself need only cover one item's transaction and a late renewal (a busy database).
# An item whose revision could not be fetched is retried until it has had MAX_ATTEMPTS and is
# GIVE_UP_AFTER old, then parked for a person. Both: attempts alone would park items sooner
# when the channel's answers wake them (``inbox.waking``) during a long run of failures; with
# the backoff alone (5 s doubling, at most 15 min) ten attempts take about 50 minutes.
MAX_ATTEMPTS = 10
GIVE_UP_AFTER = timedelta(minutes=40)
# Connections whose items of a batch are worked on at once. Decoding may fetch from the
# channel, up to its time-out, and one slow channel must not hold up every other hotel's
# bookings. One connection's items keep their order (the channel's), and applying stays one
# item at a time (no transaction is open across an await, so the event loop never interleaves
# two).
CONCURRENT_CONNECTIONS = 8
FIRST_RETRY = timedelta(seconds=5)
MAX_REASON = 2000


async def process_pending(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    limit: int = 50,
    *,
    clock: Clock = utcnow,
    heartbeat_seconds: float | None = None,
) -> int:
    """Process up to ``limit`` due items, each connection's oldest first, and the items of up
    to ``CONCURRENT_CONNECTIONS`` connections at once; returns how many were taken.

    ``heartbeat_seconds`` (real seconds between renewals while the pass waits on the network)
    defaults to a third of the lease.
    """
    claimed = _claim(sessions, limit, clock())
    held = HeldRows(
        sessions,
        clock,
        InboxItem.id,
        InboxItem.not_before,
        LEASE,
        [item_id for item_id, _ in claimed],
        InboxItem.status == PENDING,
        heartbeat_seconds=heartbeat_seconds,
    )
    by_connection: dict[uuid.UUID, list[int]] = {}
    for item_id, connection_id in claimed:
        by_connection.setdefault(connection_id, []).append(item_id)

    async def process(item_id: int) -> None:
        # Also between items: a batch that never waits on the network never lets the
        # heartbeat task run.
        held.renew_if_due()
        await _process_contained(sessions, adapter_for, item_id, clock, held)

    async with held.kept():
        await in_lanes(by_connection.values(), process, CONCURRENT_CONNECTIONS)
    return len(claimed)


async def _process_contained(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    item_id: int,
    clock: Clock,
    held: HeldRows,
) -> None:
    """Process one item; an error that is not the channel's is recorded on the item."""
    try:
        with log_context(inbox_item_id=item_id):
            await _process(sessions, adapter_for, item_id, clock, held)
    except Exception as exc:
        # Not a channel's answer (handled in ``_process``): a bug met by this item's data.
        # Retried with backoff and parked after MAX_ATTEMPTS, which tells the PMS.
        held.release(item_id)
        if isinstance(exc, SQLAlchemyError):
            raise
        logger.error("inbox item failed", exc_info=exc, extra={"inbox_item_id": item_id})
        _retry_later(
            sessions, item_id, f"processing failed: {containment.describe(exc)}", None, clock()
        )


def _claim(
    sessions: sessionmaker[Session], limit: int, now: datetime
) -> list[tuple[int, uuid.UUID]]:
    """Lease due items to this processor; items past their attempts are parked instead."""
    with transaction(sessions) as session:
        items = claim_due(
            session,
            InboxItem,
            InboxItem.not_before,
            now,
            LEASE,
            InboxItem.status == PENDING,
            limit=limit,
            order_by=InboxItem.id,
            due_when_null=True,
        )
        claimed = []
        for item in items:
            if item.attempts >= MAX_ATTEMPTS and now - item.received_at >= GIVE_UP_AFTER:
                _settle(
                    session,
                    item,
                    PARKED,
                    f"gave up after {item.attempts} attempts; last: {item.reason}",
                    now,
                )
                continue
            item.attempts += 1
            claimed.append((item.id, item.connection_id))
        return claimed


async def _process(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    item_id: int,
    clock: Clock,
    held: HeldRows,
) -> None:
    with reading(sessions) as session:
        item = session.get_one(InboxItem, item_id)
        connection = session.get_one(Connection, item.connection_id)
        source, headers, body = item.source, dict(item.headers), item.body
        channel = connection.channel
    # Every line of this item's processing names its connection.
    with log_context(**connection.log_ids()):
        try:
            adapter = adapter_for(connection)
        except Exception as exc:  # noqa: BLE001  (a broken stored config is the connection's)
            # The stored config no longer validates or its secret cannot be decrypted: the
            # connection waits for a person; the item waits (with backoff) for the fix.
            held.release(item_id)
            containment.connection_failed(sessions, connection.id, "inbox", exc)
            reason = f"the connection's adapter cannot be built: {containment.describe(exc)}"
            _retry_later(sessions, item_id, reason, None, clock())
            return
        try:
            try:
                messages = await _decode(adapter, source, headers, body)
            finally:
                held.release(item_id)  # decoded: what follows settles it, with no await between
        except ChannelUnavailableError as exc:
            _retry_later(sessions, item_id, f"{CHANNEL_UNAVAILABLE}{exc}", exc.retry_after, clock())
            return
        except ChannelAuthError as exc:
            _retry_later(sessions, item_id, f"{CREDENTIALS_REFUSED}{exc}", None, clock())
            return
        except MappingMissingError as exc:
            _finish(sessions, item_id, PARKED, str(exc), clock())
            return
        except (ChannelRejectedError, BadSignatureError, InvalidRevisionError) as exc:
            _finish(sessions, item_id, REJECTED, str(exc), clock())
            return
        revisions = [m for m in messages if isinstance(m, BookingRevision | BookingCancellation)]
        notices = [m for m in messages if isinstance(m, ChannelNotice)]
        marketplace = [m for m in messages if isinstance(m, AriSnapshot | BookingAnswer)]
        final = isinstance(adapter, CancelsForGood) and adapter.cancellations_are_final
        try:
            with transaction(sessions) as session:
                locked = session.get(
                    InboxItem, item_id, with_for_update=True, populate_existing=True
                )
                if locked is None or locked.status != PENDING:
                    return  # settled by another processor after its lease ran out
                connection = session.get_one(Connection, locked.connection_id)
                origin = f"inbox:{locked.id}"
                outcomes = [
                    _ingest(session, connection, revision, origin, locked.received_at, final)
                    for revision in sorted(revisions, key=order_key)
                ]
                for notice in notices:
                    report_notice(session, connection, notice, locked.id, clock())
                source_changes = [
                    _apply_source_message(session, connection, message, clock())
                    for message in marketplace
                ]
                changed = [o for o in outcomes if o.outcome not in ("unchanged", "stale")]
                if not outcomes and marketplace:
                    status = APPLIED if any(source_changes) else IGNORED
                    reason = ", ".join(_SOURCE_REASONS[change] for change in source_changes)
                elif not outcomes and notices:
                    status = APPLIED
                    reason = ", ".join(f"channel notice: {notice.kind}" for notice in notices)
                elif not outcomes:
                    status, reason = IGNORED, "the message holds no booking revision"
                elif not changed:
                    status, reason = IGNORED, "nothing newer than the revisions already stored"
                else:
                    status = APPLIED
                    reason = ", ".join(
                        f"{o.outcome}{' (overbooked)' if o.is_overbooked else ''}" for o in outcomes
                    )
                _settle(session, locked, status, reason, clock())
                if source != PULL:  # the channel may have answered a fetch: it is back
                    wake_waiting(session, connection.id, clock())
                if isinstance(adapter, AcknowledgesReservations):
                    mark_due(locked, [revision.revision_id for revision in revisions], clock())
        except RevisionNotAppliedError as exc:
            waits = isinstance(exc, UnmappedCodeError)
            _finish(sessions, item_id, PARKED if waits else REJECTED, exc.reason, clock())
            return
        _count(channel, outcomes)
        if isinstance(adapter, AcknowledgesReservations):
            # Only now, after the commit: the channel may forget what it was told we hold.
            await acknowledge_item(sessions, adapter, item_id, clock=clock)


def _count(channel: str, outcomes: list[RevisionOutcome]) -> None:
    """What the committed revisions did, in the inbound metrics."""
    for applied in outcomes:
        kind = metrics.BOOKING_KINDS.get(applied.outcome)
        if kind is not None:
            metrics.BOOKINGS_RECEIVED.labels(channel, kind).inc()
        resolution = metrics.CONFLICT_RESOLUTIONS.get(applied.outcome)
        if resolution is not None:
            metrics.CONFLICTS.labels(channel, resolution).inc()
        if applied.is_overbooked:
            metrics.OVERBOOKINGS.labels(channel).inc()


# A hotel's answer by webhook settles its booking at once; the periodic check's interval only
# matters for an answer that is still "pending", which webhooks never carry.
ANSWER_RECHECK = timedelta(seconds=120)
_SOURCE_REASONS = {True: "source report applied", False: "source report changed nothing"}


def _apply_source_message(
    session: Session, connection: Connection, message: AriSnapshot | BookingAnswer, now: datetime
) -> bool:
    """A marketplace source's webhook: its ARI stored like a pull (idempotent: a report that
    repeats what is stored writes nothing), or the hotel's answer to a pushed booking. Whether
    anything changed; a connection that is no property's ARI source changes nothing."""
    if isinstance(message, BookingAnswer):
        return record_confirmation(
            session,
            connection.id,
            message.channel_booking_id,
            message.confirmation,
            now,
            ANSWER_RECHECK,
        )
    source = source_by_connection(session, connection.id)
    if source is None:
        return False
    return apply_snapshot(session, source, message, now).changed > 0


def _ingest(
    session: Session,
    connection: Connection,
    message: BookingRevision | BookingCancellation,
    origin: str,
    received_at: datetime,
    final: bool,
) -> RevisionOutcome:
    if isinstance(message, BookingCancellation):
        return ingest_cancellation(
            session, connection, message, origin, received_at, final_cancellations=final
        )
    return ingest_revision(
        session, connection, message, origin, received_at, final_cancellations=final
    )


async def _decode(
    adapter: ChannelAdapter, source: str, headers: dict[str, str], body: bytes
) -> Sequence[WebhookMessage]:
    """What an item stands for; each revision is checked before it can reach the database.

    A pulled item holds one revision the adapter already decoded, in neutral JSON; a webhook is
    the channel's own message, which only its adapter can read.
    """
    try:
        if source == PULL:
            messages: Sequence[WebhookMessage] = (revision_from_bytes(body),)
        elif isinstance(adapter, ReceivesWebhooks):
            messages = await adapter.parse_webhook(headers, body)
        else:
            raise ChannelRejectedError(f"the {adapter.name} channel does not take webhooks")
    except ValueError as exc:  # an invalid neutral value that slipped through an adapter
        raise ChannelRejectedError(f"the message holds an invalid revision: {exc}") from exc
    for message in messages:
        if isinstance(message, BookingRevision):
            check_revision(message)
    return messages


def _retry_later(
    sessions: sessionmaker[Session],
    item_id: int,
    reason: str,
    retry_after: float | None,
    now: datetime,
) -> None:
    with transaction(sessions) as session:
        item = session.get(InboxItem, item_id, with_for_update=True, populate_existing=True)
        if item is None or item.status != PENDING:
            return
        item.not_before = now + retry_delay(item.attempts, FIRST_RETRY, retry_after)
        item.reason = _readable(reason)


def _finish(
    sessions: sessionmaker[Session], item_id: int, status: str, reason: str, now: datetime
) -> None:
    with transaction(sessions) as session:
        item = session.get(InboxItem, item_id, with_for_update=True, populate_existing=True)
        if item is not None and item.status == PENDING:
            _settle(session, item, status, reason, now)


def _settle(session: Session, item: InboxItem, status: str, reason: str, now: datetime) -> None:
    """Give the item its final status; parked and rejected ones are reported to the PMS."""
    item.status, item.reason = status, _readable(reason)
    item.processed_at, item.not_before = now, None
    if status not in (PARKED, REJECTED):
        return
    connection = session.get_one(Connection, item.connection_id)
    report_needs_attention(session, connection, status, item.reason, item.id)
    logger.warning(
        "inbox item not applied",
        extra={"inbox_item_id": item.id, "status": status, "connection_id": str(connection.id)},
    )


def _readable(reason: str) -> str:
    """Reasons are stored as text every database takes, and bounded."""
    return "".join(char if char.isprintable() else " " for char in reason)[:MAX_REASON]
