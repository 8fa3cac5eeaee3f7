"""Retention of the inbox: finished items older than the retention period are deleted.

Applied and ignored items have done their work (their revisions live in the reservations'
history), and rejected ones are only kept for audit; pending and parked items still wait for
something, and an item whose acknowledgement is still due is kept until the channel has it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from innsync.inbox.models import ACK_DUE, APPLIED, IGNORED, REJECTED, InboxItem

FINISHED = (APPLIED, IGNORED, REJECTED)


def prune_inbox(session: Session, older_than: datetime, batch: int) -> int:
    """Delete up to ``batch`` finished items processed before ``older_than``; returns how many.

    Bounded batches keep each transaction (and SQLite's write lock) short; the caller repeats
    while a batch comes back full.
    """
    ids = list(
        session.scalars(
            select(InboxItem.id)
            .where(
                InboxItem.status.in_(FINISHED),
                InboxItem.processed_at < older_than,
                or_(InboxItem.ack_status.is_(None), InboxItem.ack_status != ACK_DUE),
            )
            .order_by(InboxItem.id)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    session.execute(
        delete(InboxItem).where(InboxItem.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return len(ids)
