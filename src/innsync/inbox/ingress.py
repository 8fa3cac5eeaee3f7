"""Webhook ingress at speed: what verification needs, kept per token, and group commit.

``ReceiverCache`` keeps, per webhook token, the connection's ids, its version (``updated_at``)
and an adapter built once (config decrypted and validated), so a webhook costs neither a
connection read nor an adapter build. ``GroupCommit`` stores the items of concurrent webhooks in
one transaction: each request awaits its item's outcome, which is only given once the commit
has returned, so an acknowledgement still means the row is durable.

Staleness: every batch reads the versions of its items' connections in the transaction that
stores them, and an item whose connection changed (config, secret, token, state, switches),
was disabled, lost its webhooks or is gone is not stored but answered ``stale``: the caller
reloads the connection and tries again. A change to a connection therefore takes effect for
the next commit, in every process. What the version cannot see — a change to a shared channel
account's credentials — is picked up when the entry expires, ``RECEIVER_TTL_SECONDS`` at most.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from innsync.channels.contract import AnswersWebhooks, ReceivesWebhooks
from innsync.connections.models import Connection, ConnectionState
from innsync.inbox.service import connection_for_token, insert_once

logger = logging.getLogger(__name__)

# How long a cached receiver is trusted for what its connection's version cannot show (a shared
# account's credentials): long enough that a busy URL is built a few times a minute, short
# enough that a revoked account stops verifying within seconds.
RECEIVER_TTL_SECONDS = 5.0
# Tokens kept; past this the oldest entry goes (a hotel group has thousands of connections).
MAX_RECEIVERS = 10_000
# Items per transaction: enough to absorb a burst on 64+ connections, small enough that one
# transaction holds SQLite's write lock for milliseconds.
MAX_BATCH = 256

Written = Literal["stored", "duplicate", "stale"]


@dataclass(frozen=True)
class WebhookReceiver:
    """What receiving one connection's webhooks needs, built once per version."""

    connection_id: uuid.UUID
    tenant_id: uuid.UUID
    version: datetime  # the connection's updated_at when this was built
    verifier: ReceivesWebhooks
    answerer: AnswersWebhooks | None
    built_at: float


@dataclass(frozen=True)
class PendingItem:
    """An inbox row to insert, and the connection version it was verified against."""

    connection_id: uuid.UUID
    version: datetime
    values: Mapping[str, Any]


class ReceiverCache:
    """Webhook token → ``WebhookReceiver``; only tokens that take webhooks are kept."""

    def __init__(
        self,
        build: Callable[[Connection], object],
        ttl_seconds: float = RECEIVER_TTL_SECONDS,
        max_entries: int = MAX_RECEIVERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, WebhookReceiver] = {}
        # Loads run in pool threads; eviction walks the dict, so changes take turns.
        self._lock = threading.Lock()

    def cached(self, token: str) -> WebhookReceiver | None:
        receiver = self._entries.get(token)
        if receiver is None or self._clock() - receiver.built_at >= self._ttl:
            return None
        return receiver

    def load(self, session: Session, token: str) -> WebhookReceiver | None:
        """Read the token's connection and build its receiver (kept), or ``None`` (forgotten)."""
        connection = connection_for_token(session, token)
        adapter = None if connection is None else self._build(connection)
        if connection is None or not isinstance(adapter, ReceivesWebhooks):
            self.forget(token)
            return None
        receiver = WebhookReceiver(
            connection.id,
            connection.tenant_id,
            connection.updated_at,
            adapter,
            adapter if isinstance(adapter, AnswersWebhooks) else None,
            self._clock(),
        )
        with self._lock:
            self._entries.pop(token, None)
            self._entries[token] = receiver  # dicts keep insertion order: the oldest is first
            while len(self._entries) > self._max:
                self._entries.pop(next(iter(self._entries)))
        return receiver

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)


@dataclass
class _Lane:
    """The queue of one event loop (a test client may run several loops, one after another)."""

    queue: list[tuple[PendingItem, asyncio.Future[Written]]] = field(default_factory=list)
    writing: bool = False
    task: asyncio.Task[None] | None = None


class GroupCommit:
    """Stores concurrent webhooks' items in shared transactions, one writer at a time.

    The first item to arrive when nothing is being written starts a write at once (no waiting
    at low load); items arriving while a transaction is in flight queue up and go together in
    the next one, up to ``max_items``. A failed transaction is retried item by item, so a bad
    item fails alone and no other item is answered before its own commit.
    """

    def __init__(self, sessions: sessionmaker[Session], max_items: int = MAX_BATCH) -> None:
        self._sessions = sessions
        self._max_items = max_items
        self._lanes: WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = WeakKeyDictionary()

    async def store(self, item: PendingItem) -> Written:
        """The item's outcome, once the transaction holding it has committed."""
        loop = asyncio.get_running_loop()
        lane = self._lanes.setdefault(loop, _Lane())
        future: asyncio.Future[Written] = loop.create_future()
        lane.queue.append((item, future))
        if not lane.writing:
            lane.writing = True
            lane.task = loop.create_task(self._drain(lane))
        return await future

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                # One turn of the loop lets requests already under way join this batch.
                await asyncio.sleep(0)
                batch = lane.queue[: self._max_items]
                del lane.queue[: self._max_items]
                try:
                    results = await run_in_threadpool(self.write, [item for item, _ in batch])
                except BaseException:  # cancelled: nobody is told "stored"
                    for _, future in batch:
                        if not future.done():
                            future.cancel()
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller went away; the row is stored all the same
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            lane.writing = False

    def write(self, items: Sequence[PendingItem]) -> list[Written | BaseException]:
        """Store the items in one transaction; on failure, each in its own."""
        try:
            return self._commit(items)
        except Exception as exc:  # noqa: BLE001  (retried below, item by item; none answered)
            if len(items) == 1:
                return [exc]
            logger.warning(
                "group commit of webhooks failed; storing them one by one",
                extra={"items": len(items), "error": type(exc).__name__},
            )
        outcomes: list[Written | BaseException] = []
        for item in items:
            try:
                outcomes.extend(self._commit([item]))
            except Exception as exc:  # noqa: BLE001  (its caller gets it: a 500, redelivered)
                outcomes.append(exc)
        return outcomes

    def _commit(self, items: Sequence[PendingItem]) -> list[Written | BaseException]:
        with self._sessions() as session:
            live = _live_versions(session, {item.connection_id for item in items})
            outcomes: list[Written | BaseException] = []
            for item in items:
                if live.get(item.connection_id) != item.version:
                    outcomes.append("stale")
                elif insert_once(session, item.values) is not None:
                    outcomes.append("stored")
                else:
                    outcomes.append("duplicate")
            session.commit()
        return outcomes


def _live_versions(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """The versions of those connections that take webhooks now (read in the writing
    transaction, so a connection switched off before it began gets nothing stored)."""
    rows = session.execute(
        select(Connection.id, Connection.updated_at).where(
            Connection.id.in_(ids),
            Connection.webhook_enabled.is_(True),
            Connection.state != ConnectionState.DISABLED,
        )
    )
    return {connection_id: version for connection_id, version in rows}
