"""Reading a feed that covers a whole channel account once for every connection on it.

Channex's revision feed lists the unacknowledged revisions of every property the API key
reaches (channex.md §1.6). Connections on an operator's channel account (``ChannelAccount``,
``connections/accounts.py``) share that key, so reading the feed once per property, as
``inbox.reconciler`` does for a connection with credentials of its own, would read the same
feed thousands of times a minute for a large fleet. Here each such account has one cursor
(``AccountPullCursor``), claimed and leased like a connection's: a turn reads the account's
pages once and keeps each revision under the connection of the property it names, in the same
inbox and under the same dedupe key as a per-connection pull, so the processor applies it once
however it came. The connections' own turns then only do what is theirs alone (list the OTAs
behind them), at the adapter's slower ``member_interval_seconds``.

A revision of a property that no connection on the account holds is not innsync's to take: it
stays in the feed, unacknowledged, and is counted. A failing read is retried with backoff; after
``ATTENTION_AFTER`` failures in a row every connection on the account is flagged, once.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.contract import PullsAccountRevisions
from innsync.channels.errors import ChannelError
from innsync.channels.types import AccountRevisionPage, BookingRevision
from innsync.connections.models import ACCOUNT_FEED_MEMBER, Connection
from innsync.db.base import utcnow
from innsync.db.claims import HeldRows, claim_due
from innsync.db.engine import transaction
from innsync.inbox import metrics
from innsync.inbox.lanes import in_lanes
from innsync.inbox.models import AccountPullCursor
from innsync.inbox.notices import report_needs_attention
from innsync.inbox.reconciler import (
    ATTENTION_AFTER,
    CONCURRENCY,
    MAX_PAGES_PER_TURN,
    NOT_PULLING,
    PULL_LEASE,
    count_failure,
)
from innsync.inbox.service import store_pulled
from innsync.inbox.timing import AdapterFactory, Clock
from innsync.inbox.waking import wake_waiting_on_account

logger = logging.getLogger(__name__)

# Connections loaded per statement when their configs are read (a bound on the IN list).
LOAD_CHUNK = 1000


@dataclass
class FeedRoutes:
    """Which connection holds which of the channel's properties, per account.

    Finding a connection's property means decrypting and validating its config (building its
    adapter); for an account of 10,000 connections that costs more than the feed read, so the
    answer is kept per process and looked at again only when the stored config changes.
    """

    _known: dict[uuid.UUID, tuple[str, str | None]] = field(default_factory=dict)

    def of_account(
        self, sessions: sessionmaker[Session], adapter_for: AdapterFactory, account_id: uuid.UUID
    ) -> tuple[dict[str, uuid.UUID], tuple[Connection, PullsAccountRevisions] | None]:
        """The account's connections by the channel's property id, and one connection whose
        adapter reads the account's feed (``None``: none can)."""
        with transaction(sessions) as session:
            stored = session.execute(
                select(Connection.id, Connection.config_encrypted)
                .where(Connection.account_id == account_id, *ACCOUNT_FEED_MEMBER)
                .order_by(Connection.id)
            ).all()
            changed = [cid for cid, config in stored if self._known.get(cid, ("",))[0] != config]
            loaded = [
                connection
                for first in range(0, len(changed), LOAD_CHUNK)
                for connection in session.scalars(
                    select(Connection).where(Connection.id.in_(changed[first : first + LOAD_CHUNK]))
                )
            ]
            session.expunge_all()
        for connection in loaded:
            self._build(adapter_for, connection)
        routes = {
            held[1]: cid
            for cid, _ in stored
            if (held := self._known.get(cid)) is not None and held[1] is not None
        }
        return routes, self._reader(sessions, adapter_for, [cid for cid, _ in stored])

    def _build(self, adapter_for: AdapterFactory, connection: Connection) -> object:
        try:
            adapter: object = adapter_for(connection)
        except Exception:  # noqa: BLE001  (a broken config: that connection's own turn reports it)
            self._known[connection.id] = (connection.config_encrypted, None)
            return None
        owner = adapter.feed_property_id if isinstance(adapter, PullsAccountRevisions) else None
        self._known[connection.id] = (connection.config_encrypted, owner)
        return adapter

    def _reader(
        self,
        sessions: sessionmaker[Session],
        adapter_for: AdapterFactory,
        members: list[uuid.UUID],
    ) -> tuple[Connection, PullsAccountRevisions] | None:
        """The first connection of the account whose adapter builds and reads the account's
        feed, with that adapter (one build a turn: the others' configs are not needed)."""
        for connection_id in members:
            with transaction(sessions) as session:
                connection = session.get(Connection, connection_id)
                if connection is None:
                    continue
                session.expunge(connection)
            adapter = self._build(adapter_for, connection)
            if isinstance(adapter, PullsAccountRevisions):
                return connection, adapter
        return None


async def pull_accounts_due(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    limit: int = 10,
    *,
    routes: FeedRoutes | None = None,
    clock: Clock = utcnow,
    heartbeat_seconds: float | None = None,
    add_missing_cursors: bool = True,
) -> int:
    """Read the feed of every account whose turn has come (up to ``limit``); returns how many.

    ``routes`` is the process's :class:`FeedRoutes` (a fresh one when not given);
    ``add_missing_cursors`` as in ``reconciler.pull_due``.
    """
    routes = routes if routes is not None else FeedRoutes()
    claimed = _claim(sessions, limit, clock(), add_missing_cursors)
    held = HeldRows(
        sessions,
        clock,
        AccountPullCursor.account_id,
        AccountPullCursor.next_pull_at,
        PULL_LEASE,
        [account_id for account_id, _ in claimed],
        heartbeat_seconds=heartbeat_seconds,
    )

    async def turn(claim: tuple[uuid.UUID, str | None]) -> None:
        account_id, cursor = claim
        known, reader = routes.of_account(sessions, adapter_for, account_id)
        if reader is None:
            # No connection of the account reads an account-wide feed (another channel, or
            # every config broken): each connection is read on its own turn.
            held.release(account_id)
            _schedule(sessions, account_id, clock() + NOT_PULLING)
            return
        connection, adapter = reader
        try:
            try:
                await _read_pages(sessions, adapter, account_id, cursor, known, clock)
            finally:
                held.release(account_id)
        except ChannelError as exc:
            _failed(sessions, account_id, connection.channel, exc, clock())
            return
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError):
                raise
            logger.error("reading an account's feed failed", exc_info=exc)
            _failed(sessions, account_id, connection.channel, exc, clock())
            return
        now = clock()
        with transaction(sessions) as session:
            row = session.get_one(AccountPullCursor, account_id, with_for_update=True)
            row.failures, row.last_error, row.last_pulled_at = 0, "", now
            row.next_pull_at = now + timedelta(seconds=adapter.pull_interval_seconds)
            wake_waiting_on_account(session, account_id, now)  # the channel answered: it is back
        metrics.PULLS.labels(connection.channel, "ok").inc()

    async with held.kept():
        await in_lanes([[claim] for claim in claimed], turn, CONCURRENCY)
    return len(claimed)


def _claim(
    sessions: sessionmaker[Session], limit: int, now: datetime, add_missing: bool
) -> list[tuple[uuid.UUID, str | None]]:
    """Lease the due account cursors; with ``add_missing``, accounts with connections to read
    get one first."""
    with_members = select(Connection.account_id).where(
        Connection.account_id.is_not(None), *ACCOUNT_FEED_MEMBER
    )
    with transaction(sessions) as session:
        if add_missing:
            _add_missing_cursors(session, with_members, now)
        rows = claim_due(
            session,
            AccountPullCursor,
            AccountPullCursor.next_pull_at,
            now,
            PULL_LEASE,
            AccountPullCursor.account_id.in_(with_members),
            limit=limit,
        )
        return [(row.account_id, row.cursor) for row in rows]


def _add_missing_cursors(session: Session, with_members: Select[Any], now: datetime) -> None:
    missing = session.scalars(
        with_members.where(
            ~select(AccountPullCursor.account_id)
            .where(AccountPullCursor.account_id == Connection.account_id)
            .exists()
        ).distinct()
    ).all()
    for account_id in missing:
        try:
            # Another process may add the same cursor at the same moment; one of them wins.
            with session.begin_nested():
                session.add(AccountPullCursor(account_id=account_id, next_pull_at=now))
        except IntegrityError:
            continue


async def _read_pages(
    sessions: sessionmaker[Session],
    adapter: PullsAccountRevisions,
    account_id: uuid.UUID,
    cursor: str | None,
    known: dict[str, uuid.UUID],
    clock: Clock,
) -> None:
    """Up to ``MAX_PAGES_PER_TURN`` pages, each kept with the cursor after it."""
    for _ in range(MAX_PAGES_PER_TURN):
        page = await adapter.pull_account_revisions(cursor)
        with transaction(sessions) as session:
            _keep(session, page, known, clock())
            row = session.get_one(AccountPullCursor, account_id, with_for_update=True)
            row.cursor = cursor = page.next_cursor
        if not page.has_more:
            return


def _keep(
    session: Session, page: AccountRevisionPage, known: dict[str, uuid.UUID], now: datetime
) -> None:
    """Each revision under the connection of its property; others are left in the feed."""
    by_connection: dict[uuid.UUID, list[BookingRevision]] = defaultdict(list)
    for owner, revision in page.revisions:
        connection_id = known.get(owner)
        if connection_id is None:
            metrics.ACCOUNT_FEED_UNPLACED.inc()
            logger.warning(
                "a revision of the account feed is for a property no connection holds",
                extra={"revision_id": revision.revision_id, "channel_property_id": owner},
            )
            continue
        by_connection[connection_id].append(revision)
    for connection_id, revisions in by_connection.items():
        connection = session.get(Connection, connection_id)
        if connection is None:
            continue  # deleted since the routes were read: its revisions stay in the feed
        stored = store_pulled(session, connection, revisions, now)
        if stored:
            logger.info(
                "pulled booking revisions",
                extra={"connection_id": str(connection_id), "stored": stored},
            )


def _schedule(sessions: sessionmaker[Session], account_id: uuid.UUID, when: datetime) -> None:
    with transaction(sessions) as session:
        session.get_one(AccountPullCursor, account_id, with_for_update=True).next_pull_at = when


def _failed(
    sessions: sessionmaker[Session],
    account_id: uuid.UUID,
    channel: str,
    error: Exception,
    now: datetime,
) -> None:
    with transaction(sessions) as session:
        row = session.get_one(AccountPullCursor, account_id, with_for_update=True)
        count_failure(row, error, now)
        logger.warning(
            "reading an account's booking revisions failed",
            extra={"account_id": str(account_id), "failures": row.failures},
        )
        if row.failures == ATTENTION_AFTER:
            reason = f"reading the account's booking revisions failed {row.failures} times: "
            for connection in session.scalars(
                select(Connection).where(Connection.account_id == account_id, *ACCOUNT_FEED_MEMBER)
            ):
                report_needs_attention(session, connection, "pull_failing", reason + row.last_error)
    metrics.PULLS.labels(channel, metrics.error_outcome(error)).inc()
