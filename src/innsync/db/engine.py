"""Engines and sessions: one place that knows how each database must be configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Execution option for work that only reads: on SQLite it starts a deferred transaction, which
# under WAL neither waits for nor blocks the writer.
READ_ONLY = "innsync_read_only"
# How long a statement waits for a lock before giving up (milliseconds): SQLite's single
# writer lock (busy_timeout), PostgreSQL's lock_timeout, MariaDB's innodb_lock_wait_timeout
# (whole seconds). Giving up is a "database busy" error: a 503 with Retry-After in the API.
SQLITE_BUSY_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = SQLITE_BUSY_TIMEOUT_MS


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
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    kwargs.setdefault("connect_args", {}).update(
        {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    )
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN IMMEDIATE below is what runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has one writer. Taking the write lock when the transaction starts (instead of
        # upgrading a read lock later, which fails at once under contention) makes concurrent
        # writers queue on busy_timeout; it is what keeps the inventory ledger exact.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together at the end, or rolls back on any error."""
    with sessions() as session, session.begin():
        yield session
