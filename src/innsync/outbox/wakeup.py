"""Wake-ups on new dirty marks, so a worker sends a change as soon as it is committed instead
of at its next poll.

A transaction that writes marks is noted on its session. When it commits, every waiter of the
process is called (``innsync serve`` runs the API and the worker side by side). On PostgreSQL
the same transaction also sends ``NOTIFY innsync_marks``, which PostgreSQL delivers at commit
and drops on rollback, and each worker process listens for it on a connection of its own
(:class:`MarkListener`). Nothing depends on a wake-up arriving: a notification lost with a
connection, or marks written by another process on MariaDB, are found by the worker's poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from innsync.outbox.models import DirtyMark

logger = logging.getLogger(__name__)

CHANNEL = "innsync_marks"
_WROTE_MARKS = "innsync.wrote_marks"
# How often a listener looks at its stop flag while no notification comes, and how long it waits
# before connecting again after losing the database (the poll covers the gap).
LISTEN_TICK_SECONDS = 1.0
RECONNECT_SECONDS = 5.0

Waiter = Callable[[], None]
_waiters: set[Waiter] = set()
_lock = threading.Lock()


def subscribe(waiter: Waiter) -> Callable[[], None]:
    """Call ``waiter`` (from any thread; it must be quick) whenever marks are committed; returns
    the function that unsubscribes it."""
    with _lock:
        _waiters.add(waiter)

    def unsubscribe() -> None:
        with _lock:
            _waiters.discard(waiter)

    return unsubscribe


def marks_committed() -> None:
    """Wake every waiter of this process."""
    with _lock:
        waiters = list(_waiters)
    for waiter in waiters:
        try:
            waiter()
        except RuntimeError:  # a waiter whose event loop has closed: it is going away
            logger.debug("a mark waiter is gone")


def note_marks_written(session: Session) -> None:
    """The session's transaction wrote dirty marks: wake the workers when it commits."""
    session.info[_WROTE_MARKS] = True


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    # Marks added as ORM objects (a full sync, a drift audit); batched inserts note themselves.
    if any(isinstance(instance, DirtyMark) for instance in session.new):
        note_marks_written(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_WROTE_MARKS) and session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE_MARKS, False):
        marks_committed()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE_MARKS, None)


class MarkListener:
    """A thread that LISTENs for marks committed by other processes (PostgreSQL only) and wakes
    this process's waiters."""

    def __init__(self, engine: Engine) -> None:
        # A connection of its own, outside the pool: it stays in LISTEN for the process's life.
        # psycopg takes the libpq form of the URL, without SQLAlchemy's driver suffix.
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mark-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=LISTEN_TICK_SECONDS * 3)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error:
                logger.warning("mark listener lost the database; the poll covers the gap")
                self._stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            # Marks committed while it was not listening are the poll's to find.
            marks_committed()
            while not self._stop.is_set():
                woken = False
                for _notify in connection.notifies(timeout=LISTEN_TICK_SECONDS):
                    woken = True
                    break
                if woken:
                    marks_committed()
