"""A connection's sync log: the calls made to its channel, newest first, for operators."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.properties.service import get_owned
from innsync.sync.models import SyncLogEntry

# What a logged call's outcome can be (sync.pusher and sync.shadow write them), for filters.
OUTCOMES = (
    "accepted",
    "partial",
    "rejected",
    "throttled",
    "unavailable",
    "auth",
    "mapping_missing",
    "error",
    "shadow",
)


def read_sync_log(
    session: Session,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    outcome: str | None = None,
    limit: int = 100,
) -> list[SyncLogEntry]:
    """The newest ``limit`` calls of one of the tenant's connections, of one outcome if given."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    query = select(SyncLogEntry).where(SyncLogEntry.connection_id == connection.id)
    if outcome is not None:
        query = query.where(SyncLogEntry.outcome == outcome)
    return list(session.scalars(query.order_by(SyncLogEntry.id.desc()).limit(limit)))
