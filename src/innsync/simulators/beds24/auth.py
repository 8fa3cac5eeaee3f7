"""§2.2 authentication: invite code -> refresh token, refresh token -> token, token details."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from innsync.simulators.beds24.errors import Beds24Error
from innsync.simulators.beds24.state import SimulatorState

router = APIRouter(prefix="/v2/authentication")


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


@router.get("/setup")
async def setup(request: Request) -> dict[str, Any]:
    """A single-use invite code (``code`` header) becomes a token and a refresh token."""
    state = _state(request)
    code = request.headers.get("code")
    if not code:
        raise Beds24Error(400, "code header is required")
    if code not in state.config.invite_codes or code in state.used_codes:
        raise Beds24Error(400, "Invite code not valid")
    state.used_codes.add(code)
    refresh = state.new_secret(64)
    state.refresh_tokens.add(refresh)
    token, lifetime = state.issue_token()
    return {"token": token, "expiresIn": lifetime, "refreshToken": refresh}


@router.get("/token")
async def token(request: Request) -> dict[str, Any]:
    """A refresh token (``refreshToken`` header) becomes a new token."""
    state = _state(request)
    refresh = request.headers.get("refreshToken")
    if not refresh:
        raise Beds24Error(400, "refreshToken header is required")
    if refresh not in state.refresh_tokens:
        raise Beds24Error(401, "Refresh token not valid")
    issued, lifetime = state.issue_token()
    return {"token": issued, "expiresIn": lifetime}


@router.delete("/token")
async def revoke(request: Request) -> dict[str, Any]:
    state = _state(request)
    state.refresh_tokens.discard(request.headers.get("refreshToken") or "")
    return {"success": True}


@router.get("/details")
async def details(request: Request) -> dict[str, Any]:
    """[3P]: answers 200 with ``validToken`` false for a bad token (the gateway lets it by)."""
    state = _state(request)
    token = request.headers.get("token")
    expires = state.access_tokens.get(token or "")
    if expires is None or not state.token_is_valid(token):
        return {"validToken": False}
    remaining = int((expires - state.now()).total_seconds())
    return {
        "validToken": True,
        "token": {"expiresIn": remaining, "scopes": ["all:bookings", "all:inventory"]},
    }
