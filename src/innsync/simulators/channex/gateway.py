"""Channex's rules at the kit's front door: the API key, its error envelope, request ids."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from innsync.simulators.channex.errors import ChannexError, too_many_requests, unauthorized
from innsync.simulators.channex.state import EndpointClass, SimulatorState
from innsync.simulators.kit.gateway import FrontDoor, injected_fault, over_cap, request_notes

API_PREFIX = "/api/v1/"
_CLASSES: dict[str, EndpointClass] = {
    "availability": "availability",
    "restrictions": "restrictions",
    "groups": "entities",
    "properties": "entities",
    "room_types": "entities",
    "rate_plans": "entities",
    "booking_revisions": "bookings",
    "bookings": "bookings",
    "webhooks": "webhooks",
}
_SERVER_ERRORS = {
    500: ("internal_server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
}


def endpoint_class(path: str) -> EndpointClass:
    """Which family of endpoints a path belongs to (§1.3 limits availability and restrictions)."""
    head = path.removeprefix(API_PREFIX).split("/", 1)[0]
    return _CLASSES.get(head, "other")


def refusal(status: int) -> Response:
    """The envelope of a refusal made in front of the handlers (cap, injected fault)."""
    if status == 413:
        # §1.3 caps a call at 10 MB without naming the status; 413 is HTTP's own answer.
        return ChannexError(413, "payload_too_large", "Payload Too Large").response()
    if status == 429:
        return too_many_requests().response()
    code, title = _SERVER_ERRORS[status]
    return ChannexError(status, code, title).response()


def install(app: FastAPI, state: SimulatorState) -> None:
    """Put the kit's front door, with Channex's rules, in front of every `/api/v1/` route."""

    async def screen(scope: Scope, size: int) -> Response | None:
        # §1.2: every answer carries an x-request-id header; drawn before anything can refuse.
        request_notes(scope)["request_id"] = state.new_request_id()
        # §1.2 / §1.9: the key travels in `user-api-key`; anything else is 401.
        if Headers(scope=scope).get("user-api-key") not in state.config.api_keys:
            return unauthorized().response()
        if over_cap(state, size):
            return refusal(413)
        return await injected_fault(state, refusal)

    def headers(scope: Scope) -> list[tuple[str, str]]:
        return [("x-request-id", str(request_notes(scope)["request_id"]))]

    def tags(scope: Scope, _: bytes) -> dict[str, Any]:
        # Handlers name the properties a call touched (wire.tag_properties).
        property_ids = request_notes(scope).get("property_ids", ())
        return {
            "endpoint_class": endpoint_class(str(scope["path"])),
            "property_ids": list(property_ids) if isinstance(property_ids, tuple) else [],
        }

    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIX),
        refusal=refusal,
        tags=tags,
        screen=screen,
        headers=headers,
    )
