"""The event feed and webhook subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from innsync.api.deps import Admin, Box, Db, Reader
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
async def read_events(
    db: Db,
    who: Reader,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The last position you have read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventFeed:
    """Events in the order they happened; page with ``after=next_after`` until the list is empty."""
    # Sequence what has committed since the loop's last pass, so a reader never waits for it.
    await db.write(service.sequence_pending)
    return await db.read(lambda s: service.read_feed(s, who.tenant_id, after, limit))


@router.post("/webhook-subscriptions", status_code=status.HTTP_201_CREATED)
async def create_subscription(
    data: SubscriptionCreate, db: Db, who: Admin, box: Box
) -> SubscriptionCreated:
    """Subscribe a URL to event kinds; deliveries are signed with the returned secret."""

    def create(session: Session) -> SubscriptionCreated:
        subscription, secret = service.create_subscription(session, box, who.tenant_id, data)
        return SubscriptionCreated(**_read(subscription).model_dump(), secret=secret)

    return await db.write(create)


@router.get("/webhook-subscriptions")
async def list_subscriptions(db: Db, who: Admin) -> list[SubscriptionRead]:
    """The tenant's webhook subscriptions."""
    return await db.read(
        lambda s: [_read(sub) for sub in service.list_subscriptions(s, who.tenant_id)]
    )


@router.delete("/webhook-subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_subscription(subscription_id: uuid.UUID, db: Db, who: Admin) -> None:
    """Stop delivering to a subscription; its delivery history is kept."""
    await db.write(lambda s: service.deactivate_subscription(s, who.tenant_id, subscription_id))


@router.get("/webhook-subscriptions/{subscription_id}/deliveries")
async def list_deliveries(
    subscription_id: uuid.UUID,
    db: Db,
    who: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """A subscription's delivery attempts, newest first."""
    return await db.read(
        lambda s: [
            DeliveryRead.model_validate(delivery)
            for delivery in service.list_deliveries(s, who.tenant_id, subscription_id, limit)
        ]
    )
