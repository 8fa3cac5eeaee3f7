"""Beds24's rules at the kit's front door: token check, credits, lost answers, its envelope.

A lost answer (``/_sim/lost-answers``) is the fault a timeout hides: the kit's front door
carries the call out in full, then holds its answer ``timeout_seconds`` of the fault settings,
so a client gives up on a change the account already holds.

Every answer of an API route carries the credit headers (§2.3), refusals included; a call past
the window's limit is refused with 429 ``{"success": false}`` and no Retry-After.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from innsync.simulators.beds24.errors import Beds24Error
from innsync.simulators.beds24.state import SimulatorState
from innsync.simulators.kit.gateway import FrontDoor, injected_fault, over_cap, request_notes

API_PREFIX = "/v2/"
_TOKEN_FREE = ("/v2/authentication/setup", "/v2/authentication/token")
_REFUSALS = {
    413: "Payload too large (about 1 MB per POST)",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def endpoint_of(method: str, path: str) -> str:
    """``GET /bookings``: the cost key and request-log tag of a call."""
    return f"{method} {path.removeprefix('/v2').rstrip('/') or '/'}"


def _endpoint(scope: Scope) -> str:
    return endpoint_of(str(scope["method"]), str(scope["path"]))


def _charged(scope: Scope) -> float:
    return float(request_notes(scope).get("credits_charged", 0.0))


def refusal(status: int) -> Response:
    """A refusal made in front of the handlers (cap, injected fault)."""
    return Beds24Error(status, _REFUSALS[status]).response()


def install(app: FastAPI, state: SimulatorState) -> None:
    """Put the kit's front door, with Beds24's rules, in front of every `/v2/` route."""

    async def screen(scope: Scope, size: int) -> Response | None:
        if over_cap(state, size):
            return refusal(413)
        fault = await injected_fault(state, refusal)
        if fault is not None:
            return fault
        path = str(scope["path"]).rstrip("/")
        if path not in _TOKEN_FREE and not state.token_is_valid(Headers(scope=scope).get("token")):
            return Beds24Error(401, "Token not valid").response()
        cost = float(state.config.costs.get(_endpoint(scope), 1.0))
        if not state.charge(cost):
            return Beds24Error(429, "Credit limit reached").response()
        request_notes(scope)["credits_charged"] = cost
        return None

    def tags(scope: Scope, _: bytes) -> dict[str, Any]:
        return {"endpoint": _endpoint(scope), "cost": _charged(scope)}

    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIX),
        refusal=refusal,
        tags=tags,
        screen=screen,
        # §2.3: every answer of an API route carries the credit headers, refusals included.
        headers=lambda scope: state.credit_headers(_charged(scope)),
        holds_answer=lambda scope: state.takes_answer(_endpoint(scope)),
    )
