"""§2.5 webhook subscriptions (OpenAPI ``createSubscription`` and friends): per app, any token."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request

from innsync.simulators.octorate.errors import OctorateError
from innsync.simulators.octorate.oauth import state_of
from innsync.simulators.octorate.state import SimulatorState
from innsync.simulators.octorate.wire import form, zoned

router = APIRouter(prefix="/connect/rest/v1/subscription")
# The simulated app's Octorate member id (``apiMember`` in the envelope).
API_MEMBER = 1


def _checked_url(state: SimulatorState, url: str | None) -> str:
    parts = urlsplit(url or "")
    schemes = ("https",) if state.config.webhook_requires_https else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise OctorateError(400, "ApiParamsExemption", f"url must be an absolute {wanted} URL")
    return str(url)


@router.get("")
async def active(request: Request) -> list[dict[str, Any]]:
    """The active subscriptions, oldest first."""
    return [dict(s) for s in state_of(request).subscriptions.values()]


@router.get("/list")
async def supported(request: Request) -> list[str]:
    """The event types one may subscribe to."""
    return list(state_of(request).config.webhook_events)


@router.post("/{event}")
async def subscribe(request: Request, event: str) -> dict[str, Any]:
    """Subscribe ``url`` (form field) to ``event``; the same pair again answers the same one."""
    state = state_of(request)
    if event not in state.config.webhook_events:
        raise OctorateError(400, "ApiParamsExemption", f"unknown event type {event!r}")
    url = _checked_url(state, (await form(request)).get("url"))
    for subscription in state.subscriptions.values():
        if subscription["type"] == event and subscription["endpoint"] == url:
            return dict(subscription)
    subscription = {
        "id": state.next_subscription_id(),
        "type": event,
        "endpoint": url,
        "apiMember": API_MEMBER,
        "createTime": zoned(state.now()),
        "enabled": True,
    }
    state.subscriptions[int(subscription["id"])] = subscription
    return dict(subscription)


def _held(state: SimulatorState, subscription_id: str) -> dict[str, Any]:
    try:
        held = state.subscriptions.get(int(subscription_id))
    except ValueError:
        raise OctorateError(400, "ApiParamsExemption", "id must be an integer") from None
    if held is None:
        raise OctorateError(404, "ApiResourceMissing", f"subscription {subscription_id} not found")
    return held


@router.put("/{subscription_id}")
async def update(
    request: Request, subscription_id: str, url: Annotated[str | None, Query()] = None
) -> dict[str, Any]:
    state = state_of(request)
    held = _held(state, subscription_id)
    held["endpoint"] = _checked_url(state, url)
    return dict(held)


@router.delete("/{subscription_id}")
async def delete(request: Request, subscription_id: str) -> dict[str, Any]:
    state = state_of(request)
    held = _held(state, subscription_id)
    del state.subscriptions[int(held["id"])]
    return dict(held)
