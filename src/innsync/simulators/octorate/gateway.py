"""Octorate's rules at the kit's front door: planned failures, the bearer token, its envelope.

The kit does the body cap, injected faults and the request log (full bodies, secrets masked).
The per-accommodation quota is charged by :func:`use_accommodation` once a handler knows which
accommodation a call is for (a path parameter, or the rooms of a calendar bulk body).

A planned failure (``/_sim/failures``) answers an endpoint's next calls with a chosen status:
before handling (nothing happens), or after it (:class:`LostAnswer`: the call is carried out
in full, then its answer is swapped for the error, as when a push lands but the client sees a
502).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
_REFUSAL_TYPES = {
    400: "Bad Request",
    401: "ApiKeyInvalid",
    403: "ApiSecurityException",
    404: "ApiResourceMissing",
    405: "MethodNotAllowed",
    413: "Bad Request",
    422: "ApiResourceMissing",
    429: "ApiQuotaException",
    550: "ApiPartnerServerError",
}


def refusal(status: int) -> Response:
    """A refusal made in front of the handlers (cap, injected or planned fault)."""
    kind = _REFUSAL_TYPES.get(status, "InternalServerError")
    return OctorateError(status, kind, REASONS.get(status, "Error")).response()


def endpoint_of(method: str, path: str) -> str:
    """``POST /reservation/{id}``: the request-log tag and ``/_sim/failures`` key of a call."""
    for prefix in ("/connect/rest/v1", "/connect/rest/v3"):
        if path.startswith(prefix + "/"):
            path = path.removeprefix(prefix)
            break
    parts = ["{id}" if part.isdigit() else part for part in path.rstrip("/").split("/")]
    return f"{method} {'/'.join(parts) or '/'}"


def _endpoint(scope: Scope) -> str:
    return endpoint_of(str(scope["method"]), str(scope["path"]))


class LostAnswer:
    """ASGI middleware inside the front door: carries out a call whose answer is planned to
    fail, then answers the planned error instead of the handler's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = request_notes(scope).get("fail_after") if scope["type"] == "http" else None
        if status is None:
            await self.app(scope, receive, send)
            return

        async def discard(_: Message) -> None:
            return None

        await self.app(scope, receive, discard)
        await refusal(int(status))(scope, receive, send)


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
        endpoint = _endpoint(scope)
        planned = state.take_failure(endpoint, after_handling=False)
        if planned is not None:
            return refusal(planned)
        if not str(scope["path"]).startswith(IDENTITY) and scope["path"] != AUTHORIZE_PATH:
            refused = check_token(state, scope)
            if refused is not None:
                return refused
        planned = state.take_failure(endpoint, after_handling=True)
        if planned is not None:
            request_notes(scope)["fail_after"] = planned
        return None

    def tags(scope: Scope, _: bytes) -> dict[str, Any]:
        accommodation = request_notes(scope).get("accommodation")
        shown: dict[str, Any] = {"endpoint": _endpoint(scope)}
        return shown if accommodation is None else {**shown, "accommodation": accommodation}

    # Added first, so it runs inside the front door and sees what the screen noted.
    app.add_middleware(LostAnswer)
    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIX) or path == AUTHORIZE_PATH,
        refusal=refusal,
        tags=tags,
        screen=screen,
    )
