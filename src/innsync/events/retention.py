"""Retention of PMS events: old events, and their finished webhook deliveries, are deleted.

An event is kept while it is not sequenced yet (no feed position: a PMS reading the feed has
not been able to see it) or while a delivery of it is still pending; past the retention period
a PMS reading the feed from an older cursor simply continues after the gap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from innsync.events.models import DeliveryStatus, Event, WebhookDelivery


def prune_events(session: Session, older_than: datetime, batch: int) -> int:
    """Delete up to ``batch`` events created before ``older_than``; returns how many."""
    pending = select(WebhookDelivery.event_id).where(
        WebhookDelivery.status == DeliveryStatus.PENDING
    )
    ids = list(
        session.scalars(
            select(Event.id)
            .where(
                Event.created_at < older_than,
                Event.position.is_not(None),
                Event.id.not_in(pending),
            )
            .order_by(Event.id)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.event_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Event).where(Event.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return len(ids)
