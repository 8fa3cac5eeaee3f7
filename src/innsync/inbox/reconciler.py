"""The pull reconciler: reads each connection's booking revisions on the channel's cadence.

Webhooks are fast but may be lost, late or out of order; the channel's own list of revisions
(a feed of unacknowledged revisions, a ``modifiedFrom`` query) is the truth. Each pass claims
the connections whose turn has come, pulls their pages and keeps every revision in the same
inbox as webhooks (``inbox.service.store_pulled``: once per revision id), where the processor
applies it once whichever way it came. A message the adapter cannot read is kept as a rejected
item (once) and raises ``connection.needs_attention``, without holding back the others.

A page and the cursor after it are committed together, so the cursor never moves past a
revision that is not stored. A failing channel is retried with backoff; a connection whose
channel cannot pull is looked at again once a day (its config may change).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import (
    ChannelAdapter,
    PullsAccountRevisions,
    PullsReservations,
    ReadsOtaChannels,
)
from innsync.channels.errors import ChannelError, ChannelUnavailableError, MappingMissingError
from innsync.connections.models import Connection, ConnectionOta, ConnectionState
from innsync.connections.otas import ota_changes, reconcile_otas
from innsync.db.base import utcnow
from innsync.db.claims import HeldRows, claim_due
from innsync.db.engine import reading, transaction
from innsync.inbox import metrics
from innsync.inbox.closures import apply_closed
from innsync.inbox.lanes import in_lanes
from innsync.inbox.models import AccountPullCursor, PullCursor
from innsync.inbox.notices import report_needs_attention
from innsync.inbox.service import store_pulled, store_unreadable
from innsync.inbox.timing import MAX_RETRY, AdapterFactory, Clock, retry_delay
from innsync.inbox.waking import wake_waiting
from innsync.logging import log_context

logger = logging.getLogger(__name__)

# A claimed connection is left to its reconciler this long past the last renewal: the lease is
# renewed while its pages are pulled (``db.claims.HeldRows``), so a reconciler that dies leaves
# the connection to others within this, however slow the channel.
PULL_LEASE = timedelta(seconds=15)
# Pages pulled in one turn; the rest wait for the next turn, so one busy connection cannot
# hold a reconciler.
MAX_PAGES_PER_TURN = 20
NOT_PULLING = timedelta(days=1)
FIRST_RETRY = timedelta(seconds=10)
# After this many failed turns in a row a person is told (once); the retries go on. An adapter
# may choose its own (``pull_attention_after``) when its channel punishes missed pulls.
ATTENTION_AFTER = 5
# Connections pulled at the same time by one pass.
CONCURRENCY = 8


async def pull_due(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    limit: int = 50,
    *,
    clock: Clock = utcnow,
    heartbeat_seconds: float | None = None,
    add_missing_cursors: bool = True,
) -> int:
    """Pull every connection whose turn has come (up to ``limit``); returns how many.

    ``heartbeat_seconds`` (real seconds between lease renewals while pages are read) defaults
    to a third of the lease. ``add_missing_cursors``: first give a cursor to the connections
    that pull and have none (new ones); it reads every connection, so a loop that passes many
    times a second does it only now and then (``innsync.loops``).
    """
    claimed = _claim(sessions, limit, clock(), add_missing_cursors)
    held = HeldRows(
        sessions,
        clock,
        PullCursor.connection_id,
        PullCursor.next_pull_at,
        PULL_LEASE,
        [connection.id for connection, _ in claimed],
        heartbeat_seconds=heartbeat_seconds,
    )

    # Member connections of account-wide feeds whose turn went through, by (account, interval):
    # their cursors are settled together at the end of the pass, in one transaction.
    members: dict[tuple[uuid.UUID, float], list[uuid.UUID]] = {}

    async def pull(claim: tuple[Connection, str | None]) -> None:
        connection, cursor = claim
        # Every line of this connection's turn names it (this task's context only).
        with log_context(**connection.log_ids()):
            try:
                adapter = adapter_for(connection)
            except Exception as exc:  # noqa: BLE001  (a broken stored config: the connection's)
                held.release(connection.id)
                containment.connection_failed(sessions, connection.id, "pull", exc)
                _failed(sessions, connection, exc, clock())
                return
            try:
                if connection.account_id is not None and isinstance(adapter, PullsAccountRevisions):
                    # Its revisions come with the account's feed (inbox.account_feeds): its
                    # own turn only lists the OTAs behind it, at the adapter's slower cadence.
                    if isinstance(adapter, ReadsOtaChannels):
                        await _read_otas(sessions, adapter, connection, clock)
                    key = (connection.account_id, adapter.member_interval_seconds)
                    members.setdefault(key, []).append(connection.id)
                    return
                await _pull_connection(sessions, adapter, connection, cursor, clock, held)
            except Exception as exc:
                # Not a channel error (those are handled in the turn): a bug met by this
                # connection's data. Recorded on its cursor and retried with backoff.
                held.release(connection.id)
                if isinstance(exc, SQLAlchemyError):
                    raise
                logger.error("pulling failed", exc_info=exc)
                _failed(sessions, connection, exc, clock(), adapter)

    async with held.kept():
        await in_lanes([[claim] for claim in claimed], pull, CONCURRENCY)
        for ids in members.values():
            for connection_id in ids:
                held.release(connection_id)
        _settle_members(sessions, members, clock())
    return len(claimed)


def _claim(
    sessions: sessionmaker[Session], limit: int, now: datetime, add_missing: bool
) -> list[tuple[Connection, str | None]]:
    """Lease the due cursors; with ``add_missing``, connections that pull and have no cursor
    yet get one first."""
    pulling = select(Connection.id).where(
        Connection.pull_enabled.is_(True), Connection.state != ConnectionState.DISABLED
    )
    with transaction(sessions) as session:
        if add_missing:
            _add_missing_cursors(session, pulling, now)
        cursors = claim_due(
            session,
            PullCursor,
            PullCursor.next_pull_at,
            now,
            PULL_LEASE,
            PullCursor.connection_id.in_(pulling),
            limit=limit,
        )
        # One query for the connections (and one for their accounts), not one each.
        ids = [cursor.connection_id for cursor in cursors]
        loaded = {
            connection.id: connection
            for connection in session.scalars(select(Connection).where(Connection.id.in_(ids)))
        }
        claimed = []
        for cursor in cursors:
            connection = loaded[cursor.connection_id]
            session.expunge(connection)
            claimed.append((connection, cursor.cursor))
        return claimed


def _add_missing_cursors(session: Session, pulling: Select[uuid.UUID], now: datetime) -> None:
    missing = session.execute(
        select(Connection.id, Connection.tenant_id).where(
            Connection.id.in_(pulling),
            ~select(PullCursor.connection_id)
            .where(PullCursor.connection_id == Connection.id)
            .exists(),
        )
    ).all()
    for connection_id, tenant_id in missing:
        try:
            # Another process may add the same cursor at the same moment; one of them wins.
            with session.begin_nested():
                session.add(
                    PullCursor(connection_id=connection_id, tenant_id=tenant_id, next_pull_at=now)
                )
        except IntegrityError:
            continue


async def _pull_connection(
    sessions: sessionmaker[Session],
    adapter: ChannelAdapter,
    connection: Connection,
    cursor: str | None,
    clock: Clock,
    held: HeldRows,
) -> None:
    if not isinstance(adapter, PullsReservations):
        held.release(connection.id)
        _schedule(sessions, connection.id, clock() + NOT_PULLING)
        return
    try:
        try:
            stored = await _pull_pages(sessions, adapter, connection, cursor, clock)
        finally:
            held.release(connection.id)  # read: what follows settles the cursor, no await between
    except MappingMissingError:
        # Not set up on the channel yet (e.g. created, not provisioned): nothing to read, and
        # nothing wrong; look again at the channel's cadence.
        interval = timedelta(seconds=adapter.pull_interval_seconds)
        _schedule(sessions, connection.id, clock() + interval)
        metrics.PULLS.labels(connection.channel, "not_set_up").inc()
        return
    except ChannelError as exc:
        _failed(sessions, connection, exc, clock(), adapter)
        return
    now = clock()
    with transaction(sessions) as session:
        row = session.get_one(PullCursor, connection.id, with_for_update=True)
        row.failures, row.last_error, row.last_pulled_at = 0, "", now
        row.next_pull_at = now + timedelta(seconds=adapter.pull_interval_seconds)
        wake_waiting(session, connection.id, now)  # the channel answered: it is back
    metrics.PULLS.labels(connection.channel, "ok").inc()
    if stored:
        logger.info(
            "pulled booking revisions",
            extra={"connection_id": str(connection.id), "stored": stored},
        )
    if isinstance(adapter, ReadsOtaChannels):
        await _read_otas(sessions, adapter, connection, clock)


async def _pull_pages(
    sessions: sessionmaker[Session],
    adapter: PullsReservations,
    connection: Connection,
    cursor: str | None,
    clock: Clock,
) -> int:
    """Pull up to ``MAX_PAGES_PER_TURN`` pages, each stored with the cursor after it; returns
    how many revisions were new."""
    stored = 0
    for _ in range(MAX_PAGES_PER_TURN):
        page = await adapter.pull_revisions(cursor)
        with transaction(sessions) as session:
            stored += store_pulled(session, connection, page.revisions, clock())
            # A message innsync cannot read is kept and shown to a person once; the rest of
            # the page goes on (and is acknowledged) as usual.
            for item in store_unreadable(session, connection, page.unreadable, clock()):
                report_needs_attention(
                    session, connection, "unreadable_revision", item.reason, item.id
                )
            if page.closed is not None:
                apply_closed(session, connection, page.closed, clock())
            row = session.get_one(PullCursor, connection.id, with_for_update=True)
            row.cursor = cursor = page.next_cursor
        if not page.has_more:
            break
    return stored


async def _read_otas(
    sessions: sessionmaker[Session],
    adapter: ReadsOtaChannels,
    connection: Connection,
    clock: Clock,
) -> None:
    """Read the OTAs behind the channel, so a lost lifecycle webhook hides nothing for long."""
    try:
        listed = await adapter.read_ota_channels()
    except ChannelError as exc:
        # The revisions were read; the list is read again next turn. Not worth a failure
        # count of its own: a channel that keeps failing fails the revisions' reading too.
        logger.warning(
            "reading the OTAs behind the channel failed",
            extra={"connection_id": str(connection.id), "error": containment.describe(exc)},
        )
        return
    with reading(sessions) as session:  # a read first: most turns find the list as recorded
        recorded = session.execute(
            select(ConnectionOta.channel_code, ConnectionOta.ota, ConnectionOta.state).where(
                ConnectionOta.connection_id == connection.id
            )
        ).all()
        if not ota_changes(recorded, listed):
            return
    with transaction(sessions) as session:
        locked = session.get(Connection, connection.id, with_for_update=True)
        if locked is not None:
            reconcile_otas(session, locked, listed, clock())


def _settle_members(
    sessions: sessionmaker[Session],
    members: dict[tuple[uuid.UUID, float], list[uuid.UUID]],
    now: datetime,
) -> None:
    """The member connections' cursors show the account's last read (what the dashboard shows
    as their last pull), their own failures are over, and their next turn is an interval away:
    one statement per account and interval (a fleet's pass settles dozens)."""
    if not members:
        return
    with transaction(sessions) as session:
        for (account_id, interval), connection_ids in members.items():
            accounts_read = (
                select(AccountPullCursor.last_pulled_at)
                .where(AccountPullCursor.account_id == account_id)
                .scalar_subquery()
            )
            session.execute(
                update(PullCursor)
                .where(PullCursor.connection_id.in_(connection_ids))
                .values(
                    last_pulled_at=func.coalesce(accounts_read, PullCursor.last_pulled_at),
                    failures=0,
                    last_error="",
                    next_pull_at=now + timedelta(seconds=interval),
                )
                .execution_options(synchronize_session=False)
            )


def _schedule(sessions: sessionmaker[Session], connection_id: uuid.UUID, when: datetime) -> None:
    with transaction(sessions) as session:
        session.get_one(PullCursor, connection_id, with_for_update=True).next_pull_at = when


def _attention_after(adapter: ChannelAdapter | None) -> int:
    """The adapter's own threshold, when its channel needs one (Booking.com's e-mail fallback
    after 30 minutes of missed pulls), else :data:`ATTENTION_AFTER`."""
    chosen = getattr(adapter, "pull_attention_after", None)
    if isinstance(chosen, int) and not isinstance(chosen, bool) and chosen >= 1:
        return chosen
    return ATTENTION_AFTER


def _retry_cap(adapter: ChannelAdapter | None) -> timedelta:
    """The longest wait between failed pulls: the adapter's own when a long wait costs its
    channel something (Booking.com's e-mail fallback), else :data:`MAX_RETRY`."""
    chosen = getattr(adapter, "pull_retry_cap_seconds", None)
    if isinstance(chosen, int | float) and not isinstance(chosen, bool) and chosen > 0:
        return min(timedelta(seconds=chosen), MAX_RETRY)
    return MAX_RETRY


def count_failure(
    row: PullCursor | AccountPullCursor, error: Exception, now: datetime, cap: timedelta = MAX_RETRY
) -> None:
    """One more failed turn of a cursor: it waits from ``FIRST_RETRY`` doubling up to ``cap``
    (never sooner than the channel's retry-after) and keeps the error."""
    row.failures += 1
    hint = error.retry_after if isinstance(error, ChannelUnavailableError) else None
    row.next_pull_at = now + retry_delay(row.failures, FIRST_RETRY, hint, cap)
    row.last_error = containment.describe(error)


def _failed(
    sessions: sessionmaker[Session],
    connection: Connection,
    error: Exception,
    now: datetime,
    adapter: ChannelAdapter | None = None,
) -> None:
    attention_after = _attention_after(adapter)
    with transaction(sessions) as session:
        row = session.get_one(PullCursor, connection.id, with_for_update=True)
        count_failure(row, error, now, _retry_cap(adapter))
        logger.warning(
            "pulling booking revisions failed",
            extra={"connection_id": str(connection.id), "failures": row.failures},
        )
        # A channel may say a person must look at once (an iCal feed answering 404 or HTML, or
        # held for review): told on the first failure instead of the fifth. An error the
        # channel raises once per episode (an iCal feed stale for hours) is told when it comes.
        now_please = getattr(error, "needs_attention_now", False) is True and (
            row.failures == 1 or getattr(error, "attention_once", False) is True
        )
        if row.failures == attention_after or now_please:
            report_needs_attention(
                session,
                connection,
                "pull_failing",
                f"reading booking revisions failed {row.failures} times: {row.last_error}",
            )
    metrics.PULLS.labels(connection.channel, metrics.error_outcome(error)).inc()
