"""Octorate's rules at the kit's front door: the bearer token, then its error envelope.

The kit does the body cap, injected faults and the request log (full bodies, secrets masked).
The per-accommodation quota is charged by :func:`use_accommodation` once a handler knows which
accommodation a call is for (a path parameter, or the rooms of a calendar bulk body).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from innsync.simulators.kit.gateway import (
    REASONS,
    FrontDoor,
    injected_fault,
    over_cap,
    request_notes,
)
from innsync.simulators.octorate.errors import OctorateError
from innsync.simulators.octorate.oauth import AUTHORIZE_PATH, IDENTITY
from innsync.simulators.octorate.state import AccessToken, SimulatorState

API_PREFIX = "/connect/"
# OpenAPI glossary names for the refusals made in front of the handlers.
_REFUSAL_TYPES = {413: "Bad Request", 429: "ApiQuotaException", 500: "InternalServerError"}


def refusal(status: int) -> Response:
    """A refusal made in front of the handlers (cap, injected fault)."""
    kind = _REFUSAL_TYPES.get(status, "InternalServerError")
    return OctorateError(status, kind, REASONS.get(status, "Error")).response()


def _bearer(scope: Scope) -> str | None:
    value = Headers(scope=scope).get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_token(state: SimulatorState, scope: Scope) -> Response | None:
    """§2.2: a valid, unexpired bearer token, else 401 (``ApiLoginExpired`` once expired)."""
    token = _bearer(scope)
    if token is None:
        return OctorateError(401, "ApiKeyMissing", "Authorization: Bearer is required").response()
    held = state.access_tokens.get(token)
    if held is None:
        return OctorateError(401, "ApiKeyInvalid", "access token is not valid").response()
    if held.expires_at <= state.now():
        status = state.config.expired_token_status
        return OctorateError(status, "ApiLoginExpired", "Expired Token").response()
    request_notes(scope)["token"] = held
    return None


def use_accommodation(request: Request, accommodation_id: int) -> None:
    """The call is for ``accommodation_id``: visible to the token, and within its quota."""
    state: SimulatorState = request.app.state.simulator
    token: AccessToken = request.state.token
    if state.config.accommodation(accommodation_id) is None:
        raise OctorateError(404, "ApiResourceMissing", f"accommodation {accommodation_id}")
    if accommodation_id not in token.accommodation_ids:
        raise OctorateError(
            403, "ApiSecurityException", f"accommodation {accommodation_id} not granted"
        )
    if not state.spend_quota(accommodation_id):
        config = state.config
        raise OctorateError(
            config.quota_status,
            config.quota_error_type,
            f"quota of {config.quota_calls} calls per {config.quota_window_seconds:g} s reached",
        )
    request.state.accommodation = accommodation_id


def install(app: FastAPI, state: SimulatorState) -> None:
    """Put the kit's front door, with Octorate's token check, before the API and the page."""

    async def screen(scope: Scope, size: int) -> Response | None:
        if over_cap(state, size):
            return refusal(413)
        fault = await injected_fault(state, refusal)
        if fault is not None:
            return fault
        if str(scope["path"]).startswith(IDENTITY) or scope["path"] == AUTHORIZE_PATH:
            return None
        return check_token(state, scope)

    def tags(scope: Scope, _: bytes) -> dict[str, Any]:
        accommodation = request_notes(scope).get("accommodation")
        return {} if accommodation is None else {"accommodation": accommodation}

    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIX) or path == AUTHORIZE_PATH,
        refusal=refusal,
        tags=tags,
        screen=screen,
    )
