"""The event feed and webhook subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from innsync.api.deps import Admin, Box, DbSession, Reader
from innsync.events import service
from innsync.events.models import WebhookSubscription
from innsync.events.schemas import (
    DeliveryRead,
    EventFeed,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)

router = APIRouter(tags=["events"])


def _read(subscription: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=subscription.id,
        url=subscription.url,
        kinds=subscription.kinds,
        is_active=subscription.is_active,
        created_at=subscription.created_at,
    )


@router.get("/events")
def read_events(
    session: DbSession,
    who: Reader,
    after: Annotated[int, Query(ge=0, description="The last position you have read")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventFeed:
    """Events in the order they happened; page with ``after=next_after`` until the list is empty."""
    # Sequence what has committed since the last pass, so a reader never waits for the loop.
    service.sequence_pending(session)
    session.commit()
    return service.read_feed(session, who.tenant_id, after, limit)


@router.post("/webhook-subscriptions", status_code=status.HTTP_201_CREATED)
def create_subscription(
    data: SubscriptionCreate, session: DbSession, who: Admin, box: Box
) -> SubscriptionCreated:
    subscription, secret = service.create_subscription(session, box, who.tenant_id, data)
    session.commit()
    return SubscriptionCreated(**_read(subscription).model_dump(), secret=secret)


@router.get("/webhook-subscriptions")
def list_subscriptions(session: DbSession, who: Admin) -> list[SubscriptionRead]:
    return [_read(s) for s in service.list_subscriptions(session, who.tenant_id)]


@router.delete("/webhook-subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def deactivate_subscription(subscription_id: uuid.UUID, session: DbSession, who: Admin) -> None:
    service.deactivate_subscription(session, who.tenant_id, subscription_id)
    session.commit()


@router.get("/webhook-subscriptions/{subscription_id}/deliveries")
def list_deliveries(
    subscription_id: uuid.UUID,
    session: DbSession,
    who: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    found = service.list_deliveries(session, who.tenant_id, subscription_id, limit)
    return [DeliveryRead.model_validate(delivery) for delivery in found]
