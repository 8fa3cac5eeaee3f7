"""Webhook ingress at speed: what verification needs, kept per token, and group commit.

``ReceiverCache`` keeps, per webhook token, the connection's ids, its version (``updated_at``)
and an adapter built once (config decrypted and validated), so a webhook costs neither a
connection read nor an adapter build. ``GroupCommit`` stores the items of concurrent webhooks in
one transaction (two in flight per process off SQLite): each request awaits its item's outcome,
which is only given once the commit has returned, so an acknowledgement still means the row is
durable.

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
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from innsync.channels.contract import AnswersWebhooks, ReceivesWebhooks
from innsync.connections.models import Connection, ConnectionState
from innsync.db.driver_insert import BoundRow
from innsync.inbox.service import connection_for_token, inbox_insert, insert_new

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
# Group commits in flight per server on a database that commits them in parallel: two hide one
# commit's log flush behind the next batch's inserts; more only split the batches finer. A process
# alone keeps two; each of several (``serve --workers``) keeps one (``writers_for``).
PARALLEL_WRITERS = 2

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
        # Reads under way, per event loop and token (``read_once``).
        self._reads: WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Task[WebhookReceiver | None]]
        ] = WeakKeyDictionary()

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

    async def read_once(
        self, token: str, read: Callable[[], Coroutine[Any, Any, WebhookReceiver | None]]
    ) -> WebhookReceiver | None:
        """``read()``'s receiver, or that of the same token's read already under way.

        When a busy URL's entry expires, every call in flight finds it expired at once: they
        wait for one read instead of each reading the connection and building its adapter.
        A joined read may have begun before a change to the connection, so what it gives is
        as good as a cached entry, not a fresh one.
        """
        loop = asyncio.get_running_loop()
        reads = self._reads.setdefault(loop, {})
        task = reads.get(token)
        if task is None:
            task = reads[token] = loop.create_task(read())

            def done(finished: asyncio.Task[WebhookReceiver | None]) -> None:
                if reads.get(token) is finished:
                    del reads[token]

            task.add_done_callback(done)
        # Shielded: a caller that goes away does not cancel the read the others wait for.
        return await asyncio.shield(task)

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)


@dataclass(frozen=True, slots=True)
class _Queued:
    """An item waiting for a transaction: its row, bound for the driver where the inbox's
    insert runs on its cursor, and its caller's future."""

    item: PendingItem
    bound: BoundRow | None
    future: asyncio.Future[Written]


@dataclass
class _Taken:
    """What one transaction took from the queue. A writer whose drain was cancelled (its result
    would reach nobody) is ``abandoned`` and takes nothing after that."""

    items: list[_Queued] = field(default_factory=list)
    abandoned: bool = False


@dataclass
class _Lane:
    """The queue of one event loop (a test client may run several loops, one after another)."""

    queue: list[_Queued] = field(default_factory=list)
    # Items are queued by the loop and taken by the writers' threads (``GroupCommit._take``).
    lock: threading.Lock = field(default_factory=threading.Lock)
    writers: int = 0  # drain tasks running
    committing: int = 0  # of those, the ones with a transaction in flight
    # The loop keeps only weak references to tasks: these keep the running ones alive.
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class GroupCommit:
    """Stores concurrent webhooks' items in shared transactions, ``writers`` at a time.

    The first item to arrive when no writer is free starts a write at once (no waiting at low
    load); items arriving while every writer has a transaction in flight queue up and go
    together in the next one, up to ``max_items``; a further writer is started for them while
    fewer than ``writers`` are running. A failed transaction is retried item by item, so a bad
    item fails alone and no other item is answered before its own commit.

    A writer takes its batch once its transaction has begun: on SQLite, once it holds the write
    lock, which every server process takes in turn. What arrived while it waited for another
    process's commit goes in too, instead of waiting for one more turn of the lock. Each row is
    bound for the driver (its body encrypted, its headers in JSON) as its request arrives, in the
    event loop, so the lock is held only while the statements run.
    """

    def __init__(
        self, sessions: sessionmaker[Session], max_items: int = MAX_BATCH, writers: int = 1
    ) -> None:
        self._sessions = sessions
        self._max_items = max_items
        self._writers = max(1, writers)
        bind = sessions.kw.get("bind")
        self._insert = None if bind is None else inbox_insert(bind.dialect)
        self._lanes: WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = WeakKeyDictionary()

    async def store(self, item: PendingItem) -> Written:
        """The item's outcome, once the transaction holding it has committed."""
        loop = asyncio.get_running_loop()
        lane = self._lanes.setdefault(loop, _Lane())
        future: asyncio.Future[Written] = loop.create_future()
        bound = None if self._insert is None else self._insert.bind(item.values)
        with lane.lock:
            lane.queue.append(_Queued(item, bound, future))
        # A writer not yet committing will take this item; else one more, if allowed.
        if lane.writers == lane.committing and lane.writers < self._writers:
            lane.writers += 1
            task = loop.create_task(self._drain(lane))
            lane.tasks.add(task)
            task.add_done_callback(lane.tasks.discard)
        return await future

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                # One turn of the loop lets requests already under way join this batch.
                await asyncio.sleep(0)
                taken = _Taken()  # by the writer's thread, once its transaction has begun
                lane.committing += 1
                try:
                    results = await run_in_threadpool(self._write, lane, taken)
                except BaseException:  # cancelled: nobody is told "stored"
                    with lane.lock:
                        taken.abandoned = True
                    for queued in taken.items:
                        if not queued.future.done():
                            queued.future.cancel()
                    raise
                finally:
                    lane.committing -= 1
                for queued, result in zip(taken.items, results, strict=True):
                    future = queued.future
                    if future.done():  # its caller went away; the row is stored all the same
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            lane.writers -= 1

    def _take(self, lane: _Lane, taken: _Taken) -> list[_Queued]:
        """The next batch from the lane's queue (in a writer's thread), noted in ``taken``."""
        with lane.lock:
            if taken.abandoned:
                return []
            batch = lane.queue[: self._max_items]
            del lane.queue[: self._max_items]
            taken.items.extend(batch)
        return batch

    def _write(self, lane: _Lane, taken: _Taken) -> list[Written | BaseException]:
        """Take a batch and store it in one transaction; on failure, each item in its own.

        The outcomes are those of ``taken.items``, in order (none if another writer took them).
        """
        try:
            return self._commit(partial(self._take, lane, taken))
        except Exception as exc:  # noqa: BLE001  (retried below, item by item; none answered)
            if not taken.items:  # the transaction could not begin: its batch fails item by item
                self._take(lane, taken)
            if len(taken.items) <= 1:
                return [exc] * len(taken.items)
            logger.warning(
                "group commit of webhooks failed; storing them one by one",
                extra={"items": len(taken.items), "error": type(exc).__name__},
            )
        outcomes: list[Written | BaseException] = []
        for queued in taken.items:
            try:
                outcomes.extend(self._commit(partial(list, [queued])))
            except Exception as exc:  # noqa: BLE001  (its caller gets it: a 500, redelivered)
                outcomes.append(exc)
        return outcomes

    def _commit(self, take: Callable[[], list[_Queued]]) -> list[Written | BaseException]:
        """Begin a transaction, then store what ``take()`` gives in it."""
        with self._sessions() as session:
            session.connection()  # begins: on SQLite, once this process holds the write lock
            queued = take()
            if not queued:
                return []
            items = [entry.item for entry in queued]
            live = _live_versions(session, {item.connection_id for item in items})
            outcomes: list[Written | BaseException] = ["stale"] * len(items)
            # Inserted in key order: two writers' transactions then take their unique-key
            # locks in the same order, and one waits for the other instead of deadlocking.
            order = [
                index
                for index in sorted(range(len(items)), key=lambda at: _lock_order(items[at]))
                if live.get(items[index].connection_id) == items[index].version
            ]
            if self._insert is None:
                stored = insert_new(session, [items[index].values for index in order])
            else:
                bound = [cast(BoundRow, queued[index].bound) for index in order]
                stored = self._insert.execute(session.connection(), bound)
            for index, is_new in zip(order, stored, strict=True):
                outcomes[index] = "stored" if is_new else "duplicate"
            session.commit()
        return outcomes


def writers_for(sessions: sessionmaker[Session], server_processes: int = 1) -> int:
    """How many transactions of webhooks one of ``server_processes`` processes keeps in flight.

    SQLite has one write lock per database: a second writer would only queue for it, so one.
    PostgreSQL and MariaDB commit concurrent transactions in parallel, and a commit is mostly a
    wait for the log flush: while one is flushed, the next batch is written. ``PARALLEL_WRITERS``
    per server, at least one per process: with two processes, two writers each split the
    batches finer and served 6,086/s where one each served 6,797/s (``docs/benchmarks.md``).
    Sessions bound to one connection (a test's transaction) cannot carry two at once.
    """
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name != "sqlite":
        return max(1, PARALLEL_WRITERS // max(1, server_processes))
    return 1


def _lock_order(item: PendingItem) -> tuple[str, str]:
    return (str(item.connection_id), str(item.values.get("dedupe_key", "")))


def _live_versions(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """The versions of those connections that take webhooks now (read in the writing
    transaction, so a connection switched off before it began gets nothing stored)."""
    # On the session's connection: plain columns need none of the ORM's result machinery.
    rows = session.connection().execute(_LIVE_VERSIONS, {"ids": list(ids)})
    return {connection_id: version for connection_id, version in rows}


# Built once: a statement built per batch cost more CPU than the batch's reads.
_LIVE_VERSIONS = select(Connection.id, Connection.updated_at).where(
    Connection.id.in_(bindparam("ids", expanding=True)),
    Connection.webhook_enabled.is_(True),
    Connection.state != ConnectionState.DISABLED,
)
