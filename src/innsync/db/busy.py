"""Telling a busy database (a lock held too long elsewhere) from a broken one.

A busy database is the caller's "try again in a moment" (503 with ``Retry-After`` in the API,
another pass in the background loops), never a 500: SQLite's "database is locked" after
``busy_timeout``, PostgreSQL's lock and statement time-outs, serialization failures and
deadlocks, MariaDB's lock wait time-out and deadlock, and a connection pool with no connection
free in time.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# What the API tells a client to wait: a lock is held for milliseconds per chunk of a bulk
# write, so one second is enough for the queue ahead to drain.
RETRY_AFTER_SECONDS = 1

# lock_not_available, serialization_failure, deadlock_detected, query_canceled (statement or
# lock time-out).
_POSTGRES_BUSY = frozenset({"55P03", "40001", "40P01", "57014"})
# ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK.
_MARIADB_BUSY = frozenset({1205, 1213})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` says the database was busy, not that the statement or data is wrong."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):  # PyMySQL: (errno, message)
        return args[0] in _MARIADB_BUSY
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        return sqlstate in _POSTGRES_BUSY
    message = str(original).lower()
    return any(text in message for text in _SQLITE_BUSY)
