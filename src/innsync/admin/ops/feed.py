"""The tenant's event feed and its webhook subscriptions with their deliveries and a resend."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, User, Writer
from innsync.admin.rendering import page
from innsync.api.deps import Db
from innsync.db.base import utcnow
from innsync.errors import ConflictError, NotFoundError
from innsync.events import service
from innsync.events.models import WebhookDelivery, WebhookSubscription

router = APIRouter(prefix=ADMIN_PATH, include_in_schema=False)

# Events a page of the feed shows, and deliveries of a subscription.
FEED_PAGE = 50
DELIVERIES_SHOWN = 100
BIGGEST_ID = 2**63 - 1


@router.get("/events")
async def events_page(
    request: Request,
    db: Db,
    user: User,
    after: Annotated[int, Query(ge=0, le=BIGGEST_ID)] = 0,
) -> HTMLResponse:
    """A page of the feed from ``after`` (as the API pages it), and the subscriptions."""
    # As GET /events does: what has committed since the loop's last pass gets its position.
    await db.write(service.sequence_pending)
    feed = await db.read(lambda s: service.read_feed(s, user.tenant_id, after, FEED_PAGE))
    subscriptions = await db.read(lambda s: service.list_subscriptions(s, user.tenant_id))
    context = {
        "user": user,
        "active": "ops",
        "section": "events",
        "feed": feed,
        "after": after,
        "full_page": len(feed.events) == FEED_PAGE,
        "subscriptions": subscriptions,
    }
    return page(request, "ops_events.html", context)


def read_deliveries(
    session: Session, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> tuple[WebhookSubscription, list[WebhookDelivery]]:
    subscription = service.get_subscription(session, tenant_id, subscription_id)
    found = service.list_deliveries(session, tenant_id, subscription.id, DELIVERIES_SHOWN)
    return subscription, found


@router.get("/webhooks/{subscription_id}")
async def deliveries_page(
    request: Request, db: Db, user: User, subscription_id: uuid.UUID
) -> HTMLResponse:
    try:
        subscription, deliveries = await db.read(
            lambda s: read_deliveries(s, user.tenant_id, subscription_id)
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such webhook subscription.") from exc
    resent = request.query_params.get("resent", "")
    context = {
        "user": user,
        "active": "ops",
        "section": "events",
        "subscription": subscription,
        "deliveries": deliveries,
        "resent": int(resent) if resent.isdigit() else None,
        "queued": request.query_params.get("queued") == "new",
    }
    return page(request, "ops_webhook.html", context)


@router.post("/webhooks/{subscription_id}/deliveries/{delivery_id}/resend")
async def resend(
    db: Db,
    user: Writer,
    subscription_id: uuid.UUID,
    delivery_id: Annotated[int, Path(ge=1, le=BIGGEST_ID)],
) -> Response:
    """Queue the delivery's event again (or point at the one already waiting)."""
    try:
        queued, is_new = await db.write(
            lambda s: service.resend_delivery(
                s, user.tenant_id, subscription_id, delivery_id, utcnow()
            )
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such delivery.") from exc
    except ConflictError as exc:
        raise AdminRefusalError(
            409, "This subscription is deactivated: nothing is sent to it."
        ) from exc
    target = (
        f"{ADMIN_PATH}/webhooks/{subscription_id}?resent={queued.id}"
        f"&queued={'new' if is_new else 'waiting'}"
    )
    return RedirectResponse(target, status_code=303)
