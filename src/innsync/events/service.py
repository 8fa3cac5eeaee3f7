"""Writing events in the caller's transaction, sequencing them for the feed, and subscriptions."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.crypto import SecretBox
from innsync.errors import ConflictError, NotFoundError
from innsync.events.models import (
    Counter,
    DeliveryStatus,
    Event,
    WebhookDelivery,
    WebhookSubscription,
)
from innsync.events.schemas import EventFeed, EventRead, SubscriptionCreate

FEED_COUNTER = "event_feed"
MAX_FEED_PAGE = 500
# Events sequenced per pass; bounded so one pass never holds the feed lock for long.
SEQUENCE_BATCH = 1000


def emit(
    session: Session,
    tenant_id: uuid.UUID,
    kind: str,
    payload: dict[str, Any],
    *,
    property_id: uuid.UUID | None = None,
    subject_id: str | None = None,
) -> Event:
    """Record an event in the current transaction: it exists if and only if the change commits."""
    event = Event(
        tenant_id=tenant_id,
        kind=kind,
        payload=payload,
        property_id=property_id,
        subject_id=subject_id,
    )
    session.add(event)
    return event


def sequence_pending(session: Session) -> int:
    """Give committed events without a position the next feed positions, and fan them out.

    One caller at a time holds the counter row, so positions grow in the order events became
    visible and a reader paging by position never skips one. Returns how many were sequenced.
    """
    counter = _locked_counter(session)
    pending = list(
        session.scalars(
            select(Event).where(Event.position.is_(None)).order_by(Event.id).limit(SEQUENCE_BATCH)
        )
    )
    if not pending:
        return 0
    subscriptions = _active_subscriptions(session, {event.tenant_id for event in pending})
    for event in pending:
        counter.value += 1
        event.position = counter.value
        for subscription in subscriptions.get(event.tenant_id, []):
            if not subscription.kinds or event.kind in subscription.kinds:
                session.add(WebhookDelivery(subscription_id=subscription.id, event_id=event.id))
    session.flush()
    return len(pending)


def _locked_counter(session: Session) -> Counter:
    query = select(Counter).where(Counter.name == FEED_COUNTER).with_for_update()
    counter = session.scalar(query)
    if counter is None:
        try:
            with session.begin_nested():
                session.add(Counter(name=FEED_COUNTER, value=0))
        except IntegrityError:
            pass  # another sequencer created it first; the lock below waits for it
        counter = session.scalars(query).one()
    return counter


def _active_subscriptions(
    session: Session, tenant_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookSubscription]]:
    found: dict[uuid.UUID, list[WebhookSubscription]] = {}
    query = select(WebhookSubscription).where(
        WebhookSubscription.tenant_id.in_(list(tenant_ids)), WebhookSubscription.is_active.is_(True)
    )
    for subscription in session.scalars(query):
        found.setdefault(subscription.tenant_id, []).append(subscription)
    return found


def read_feed(session: Session, tenant_id: uuid.UUID, after: int, limit: int) -> EventFeed:
    limit = max(1, min(limit, MAX_FEED_PAGE))
    events = list(
        session.scalars(
            select(Event)
            .where(Event.tenant_id == tenant_id, Event.position > after)
            .order_by(Event.position)
            .limit(limit)
        )
    )
    return EventFeed(
        events=[
            EventRead(
                position=event.position or 0,
                id=event.id,
                kind=event.kind,
                property_id=event.property_id,
                subject_id=event.subject_id,
                payload=event.payload,
                created_at=event.created_at,
            )
            for event in events
        ],
        next_after=events[-1].position or after if events else after,
    )


def create_subscription(
    session: Session, box: SecretBox, tenant_id: uuid.UUID, data: SubscriptionCreate
) -> tuple[WebhookSubscription, str]:
    secret = data.secret or secrets.token_urlsafe(32)
    subscription = WebhookSubscription(
        tenant_id=tenant_id,
        url=str(data.url),
        secret_encrypted=box.encrypt(secret),
        kinds=list(data.kinds),
        is_active=True,
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def list_subscriptions(session: Session, tenant_id: uuid.UUID) -> list[WebhookSubscription]:
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.tenant_id == tenant_id)
        .order_by(WebhookSubscription.created_at)
    )
    return list(session.scalars(query))


def get_subscription(
    session: Session, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> WebhookSubscription:
    subscription = session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.tenant_id == tenant_id
        )
    )
    if subscription is None:
        raise NotFoundError(f"webhook subscription {subscription_id} not found")
    return subscription


def deactivate_subscription(
    session: Session, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> None:
    subscription = get_subscription(session, tenant_id, subscription_id)
    subscription.is_active = False
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status == "pending"
        )
        .values(status="failed", last_error="subscription deactivated")
    )


def list_deliveries(
    session: Session, tenant_id: uuid.UUID, subscription_id: uuid.UUID, limit: int = 100
) -> list[WebhookDelivery]:
    subscription = get_subscription(session, tenant_id, subscription_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(max(1, min(limit, MAX_FEED_PAGE)))
    )
    return list(session.scalars(query))


def resend_delivery(
    session: Session,
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    delivery_id: int,
    now: datetime,
) -> tuple[WebhookDelivery, bool]:
    """Queue a delivery's event again for its subscription, due at once; returns the pending
    delivery and whether it is new.

    The event is the same (same id, same body; the signature is made at sending, as for every
    attempt), so a PMS that deduplicates on ``Innsync-Event-Id`` is safe. A pending delivery of
    that event is returned as it is, never doubled. The new row is committed with the caller's
    transaction, so the delivery loop picks it up even after a restart.
    """
    subscription = get_subscription(session, tenant_id, subscription_id)
    # Two resends at once: the second waits for the first's row here, then finds it pending.
    session.execute(
        select(WebhookSubscription.id)
        .where(WebhookSubscription.id == subscription.id)
        .with_for_update()
    )
    delivery = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription.id
        )
    )
    if delivery is None:
        raise NotFoundError(
            f"delivery {delivery_id} of webhook subscription {subscription.id} not found"
        )
    if not subscription.is_active:
        raise ConflictError("the subscription is deactivated: nothing is delivered to it")
    pending = session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.event_id == delivery.event_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .order_by(WebhookDelivery.id)
        .limit(1)
    )
    if pending is not None:
        return pending, False
    queued = WebhookDelivery(
        subscription_id=subscription.id,
        event_id=delivery.event_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
    )
    session.add(queued)
    session.flush()
    return queued, True
