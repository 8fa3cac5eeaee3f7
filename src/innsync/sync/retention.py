"""Retention of the sync log: rows older than the retention period are deleted, in batches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from innsync.sync.models import SyncLogEntry


def prune_sync_log(session: Session, older_than: datetime, batch: int) -> int:
    """Delete up to ``batch`` sync log rows written before ``older_than``; returns how many.

    The log is an audit of channel calls; what the channel holds lives in the acknowledged
    state, so old rows are only history. Bounded batches keep each transaction short.
    """
    ids = list(
        session.scalars(
            select(SyncLogEntry.id)
            .where(SyncLogEntry.created_at < older_than)
            .order_by(SyncLogEntry.id)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    session.execute(
        delete(SyncLogEntry)
        .where(SyncLogEntry.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return len(ids)
