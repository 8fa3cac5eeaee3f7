"""Claiming due rows for one worker: ``SKIP LOCKED`` plus a lease.

Every background pass (outbound buckets, inbox items, pull cursors, acknowledgements, PMS
webhook deliveries) takes its work the same way: lock up to ``limit`` due rows that no other
transaction holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB, so workers never wait
for each other; SQLite has a single writer) and move each row's due time past a lease, so that
the row is left to this worker while it works, and is taken again when the lease ends if the
worker dies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

RowT = TypeVar("RowT")


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
