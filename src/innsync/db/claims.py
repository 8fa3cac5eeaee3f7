"""Claiming due rows for one worker: ``SKIP LOCKED`` plus a lease.

Every background pass (outbound buckets, inbox items, pull cursors, acknowledgements, PMS
webhook deliveries) takes its work the same way: lock up to ``limit`` due rows that no other
transaction holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB, so workers never wait
for each other; SQLite has a single writer) and move each row's due time past a lease, so that
the row is left to this worker while it works, and is taken again when the lease ends if the
worker dies. Passes that wait on channels keep renewing their rows' leases (:class:`HeldRows`),
so a lease is short and follows the work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from innsync.clock import Clock
from innsync.db.engine import transaction

RowT = TypeVar("RowT")
# A held row's lease is renewed this many times per lease length, so one late renewal (a busy
# database) does not let it lapse.
RENEWALS_PER_LEASE = 3


def lock_free(session: Session, query: Select[RowT], limit: int) -> list[RowT]:
    """Up to ``limit`` rows of ``query``, locked; rows another transaction holds are skipped."""
    return list(session.scalars(query.limit(max(1, limit)).with_for_update(skip_locked=True)))


def claim_due(
    session: Session,
    model: type[RowT],
    due_at: InstrumentedAttribute[Any],
    now: datetime,
    lease: timedelta,
    *conditions: ColumnElement[bool],
    limit: int,
    order_by: InstrumentedAttribute[Any] | None = None,
    due_when_null: bool = False,
) -> list[RowT]:
    """Lease the rows of ``model`` due at ``now`` (``due_at`` not after it, and ``conditions``):
    their ``due_at`` moves to ``now + lease``. Oldest due first unless ``order_by`` says."""
    due: ColumnElement[bool] = due_at <= now
    if due_when_null:
        due = or_(due_at.is_(None), due)
    query = select(model).where(due, *conditions).order_by(order_by or due_at)
    rows = lock_free(session, query, limit)
    for row in rows:
        setattr(row, due_at.key, now + lease)
    return rows


class HeldRows:
    """The claimed rows a pass still works on, whose lease it keeps renewing.

    The lease itself then need only cover a late renewal, not the work: a pass that waits on a
    slow channel keeps its rows, and a pass that dies gives them up within one lease. A row
    leaves the set (:meth:`release`) before the pass settles it or sets its next due time, with
    no ``await`` in between: from there on no renewal may move its due time.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        key: InstrumentedAttribute[Any],
        due_at: InstrumentedAttribute[Any],
        lease: timedelta,
        ids: Iterable[Any],
        *conditions: ColumnElement[bool],
        heartbeat_seconds: float | None = None,
    ) -> None:
        self._sessions, self._clock = sessions, clock
        self._key, self._due_at, self._lease = key, due_at, lease
        self._conditions = conditions
        self.ids = set(ids)
        self.renewed_at = clock()
        self.interval = lease / RENEWALS_PER_LEASE
        self._heartbeat_seconds = (
            heartbeat_seconds if heartbeat_seconds is not None else self.interval.total_seconds()
        )

    def release(self, row_id: Any) -> None:
        self.ids.discard(row_id)

    def renew(self) -> int:
        """Move the held rows' lease on from now; returns how many rows were still held."""
        now = self._clock()
        self.renewed_at = now
        if not self.ids:
            return 0
        with transaction(self._sessions) as session:
            result = session.execute(
                update(self._key.class_)
                .where(self._key.in_(sorted(self.ids)), *self._conditions)
                .values({self._due_at: now + self._lease})
            )
        return int(getattr(result, "rowcount", 0))

    def renew_if_due(self) -> None:
        """Renew when a renewal is due: for passes that may not await in between."""
        if self._clock() - self.renewed_at >= self.interval:
            self.renew()

    @asynccontextmanager
    async def kept(self) -> AsyncIterator[HeldRows]:
        """Renew in the background (every ``heartbeat_seconds``) while the block runs."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self._heartbeat_seconds)
                self.renew()

        heartbeat = asyncio.create_task(beat())
        try:
            yield self
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
