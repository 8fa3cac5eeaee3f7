"""Engines and sessions: one place that knows how each database must be configured."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

# Execution option for work that only reads: on SQLite it starts a deferred transaction, which
# under WAL neither waits for nor blocks the writer.
READ_ONLY = "innsync_read_only"
# How long a statement waits for a lock before giving up (milliseconds): SQLite's single
# writer lock (busy_timeout), PostgreSQL's lock_timeout, MariaDB's innodb_lock_wait_timeout
# (whole seconds). Giving up is a "database busy" error: a 503 with Retry-After in the API.
SQLITE_BUSY_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS
# How often a transaction waiting for SQLite's write lock tries again (see _begin_immediate).
LOCK_POLL_SECONDS = 0.0005
_LOCKED = "database is locked"  # SQLite's message when the write lock is not had in time


def normalize_url(url: str) -> str:
    """Pick the driver innsync ships with when the URL names only the database."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in {"mysql", "mariadb"}:
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed.render_as_string(hide_password=False)


def build_engine(url: str, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """An engine configured for innsync's transaction model on the given database."""
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, lock_timeout_ms, **kwargs)
    connect_args = kwargs.setdefault("connect_args", {})
    if backend == "mysql":
        # utf8mb4 for guest names in any script; READ COMMITTED so row locks see the latest rows.
        connect_args.setdefault("charset", "utf8mb4")
        wait = max(1, -(-lock_timeout_ms // 1000))
        connect_args.setdefault("init_command", f"SET SESSION innodb_lock_wait_timeout={wait}")
    elif backend == "postgresql":
        connect_args.setdefault("options", f"-c lock_timeout={lock_timeout_ms}")
    kwargs.setdefault("isolation_level", "READ COMMITTED")
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if backend == "postgresql":
        event.listen(engine, "connect", _binary_arrays)
    return engine


def _binary_arrays(dbapi_connection: Any, _record: Any) -> None:
    """Lists go to PostgreSQL as binary arrays. In text, psycopg escapes every element with a
    regular expression: with one list per column in the unnested upserts (``db.upsert``), that
    was 15-20 % of a syncing worker's CPU and a third of the webhook inbox's insert."""
    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def _sqlite_engine(url: str, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    kwargs.setdefault("connect_args", {}).update(
        {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    )
    engine = create_engine(url, **kwargs)
    # Which of this engine's threads may try for the write lock (``_begin_immediate``).
    turn = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN IMMEDIATE below is what runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        # FULL: a commit has reached the disk when it returns, so an acknowledgement sent after
        # it survives a power cut too (NORMAL would only survive a crash of the process).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has one writer. Taking the write lock when the transaction starts (instead of
        # upgrading a read lock later, which fails at once under contention) makes concurrent
        # writers queue for it; it is what keeps the inventory ledger exact.
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
        else:
            _begin_immediate(connection.connection.dbapi_connection, busy_timeout_ms, turn)

    return engine


def _begin_immediate(dbapi_connection: Any, busy_timeout_ms: int, turn: threading.Lock) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in short steps, one thread at a time.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 50, 100 ms between tries: a
    process waiting behind another that commits every few milliseconds sleeps past many
    releases, and its requests wait tens of milliseconds for a lock held for one. Tried every
    ``LOCK_POLL_SECONDS`` instead, the wait ends within a step of a release; the lock waits
    are the same, only shorter. Statements inside the transaction keep ``busy_timeout``.

    Only the thread holding ``turn`` tries; the engine's other writers wait for it in the lock,
    without the GIL. Every try takes the GIL: dozens of threads trying every half millisecond
    (the embedded server's request handlers behind its worker) starved the thread holding the
    write lock, and the API answered in seconds.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    if not turn.acquire(timeout=busy_timeout_ms / 1000):
        raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(_LOCKED))
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        while True:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                # Past the deadline, as a statement's own busy_timeout would end: "database is
                # locked", which the callers know as busy (``db.busy``).
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
            time.sleep(LOCK_POLL_SECONDS)
    finally:
        turn.release()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together at the end, or rolls back on any error."""
    with sessions() as session, session.begin():
        yield session


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for work that only reads, ended without a commit. On SQLite its transaction
    is deferred (``READ_ONLY``): under WAL it reads a snapshot without waiting for the single
    writer lock or holding it, so a loop's reads never queue behind the API's writes."""
    with sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        yield session
