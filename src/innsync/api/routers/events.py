"""The event feed and webhook subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from innsync.api.deps import Admin, Box, Db, Outbound, Reader
from innsync.db.base import utcnow
from innsync.errors import FieldProblem, InvalidInputError
from innsync.events import service
from innsync.events.models import WebhookSubscription
from innsync.events.schemas import (
    DeliveryRead,
    EventFeed,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)
from innsync.outbound import OutboundPolicy, OutboundRefusedError

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


def _check_url(outbound: OutboundPolicy, url: str) -> None:
    try:
        outbound.check_url(url)
    except OutboundRefusedError as exc:
        raise InvalidInputError(
            "this installation does not deliver to that URL", [FieldProblem("/url", str(exc))]
        ) from exc


@router.post("/webhook-subscriptions", status_code=status.HTTP_201_CREATED)
async def create_subscription(
    data: SubscriptionCreate, db: Db, who: Admin, box: Box, outbound: Outbound
) -> SubscriptionCreated:
    """Subscribe a URL to event kinds; deliveries are signed with the returned secret.

    A URL whose host is (or resolves to) an address the operator's outbound policy refuses
    (loopback, private, link-local, metadata…) is a 422; it is checked again at every delivery.
    """
    await run_in_threadpool(_check_url, outbound, str(data.url))

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


@router.post(
    "/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {
            "model": DeliveryRead,
            "description": "The event is already waiting to be delivered: that delivery",
        },
        202: {"description": "The event is queued again, due now: the new delivery"},
        404: {"description": "No such subscription of the tenant, or no such delivery of it"},
        409: {"description": "The subscription is deactivated"},
    },
)
async def resend_delivery(
    subscription_id: uuid.UUID,
    delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    response: Response,
    db: Db,
    who: Admin,
) -> DeliveryRead:
    """Deliver a delivery's event to the subscription again (a PMS lost it, or it failed for
    good): the same event, signed afresh at sending; never a second pending copy."""

    def resend(session: Session) -> DeliveryRead:
        queued, is_new = service.resend_delivery(
            session, who.tenant_id, subscription_id, delivery_id, utcnow()
        )
        if not is_new:
            response.status_code = status.HTTP_200_OK
        return DeliveryRead.model_validate(queued)

    return await db.write(resend)
