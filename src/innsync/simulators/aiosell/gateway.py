"""Aiosell's rules at the kit's front door: Basic auth, partner slug, update limit, envelope."""

from __future__ import annotations

import base64
import binascii

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from innsync.simulators.aiosell.errors import AiosellError
from innsync.simulators.aiosell.state import SimulatorState
from innsync.simulators.kit.gateway import REASONS, FrontDoor, injected_fault, over_cap

API_PREFIX = "/api/v2/cm/"
_UPDATES = ("update", "update-rates")


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """The (username, password) of an `Authorization: Basic …` header, if it is one."""
    if header is None or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def partner_of(path: str) -> str | None:
    """The `{partner}` slug of `/api/v2/cm/<verb>/{partner}` (§1.2), if the path has one."""
    parts = path.removeprefix(API_PREFIX).split("/")
    return parts[1] if len(parts) == 2 and parts[1] else None


def refusal(status: int) -> Response:
    """A refusal made in front of the handlers (cap, update limit, injected fault)."""
    return AiosellError(status, REASONS[status]).response()


def install(app: FastAPI, state: SimulatorState) -> None:
    """Put the kit's front door, with Aiosell's rules, in front of every `/api/v2/cm/` route."""

    async def screen(scope: Scope, size: int) -> Response | None:
        config = state.config
        credentials = basic_credentials(Headers(scope=scope).get("authorization"))
        partner = partner_of(str(scope["path"]))
        # §1.3 [3P]: missing or wrong credentials, or another partner's slug: "Authentication
        # Required!" with HTTP 400 (configurable).
        if credentials != (config.username, config.password) or partner != config.partner:
            return AiosellError(config.auth_failure_status, "Authentication Required!").response()
        if config.is_partner_disabled:
            return AiosellError(config.auth_failure_status, "Partner is disabled!").response()
        if over_cap(state, size):
            return refusal(413)
        is_update = str(scope["path"]).removeprefix(API_PREFIX).split("/")[0] in _UPDATES
        if is_update and state.is_over_update_limit():
            return refusal(429)
        return await injected_fault(state, refusal)

    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIX),
        refusal=refusal,
        screen=screen,
    )
