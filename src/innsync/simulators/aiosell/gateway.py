"""The front door of the simulated API: Basic auth, body cap, injected faults, request log."""

from __future__ import annotations

import base64
import binascii

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.aiosell.errors import AiosellError
from innsync.simulators.aiosell.state import SimulatorState
from innsync.simulators.kit.requests import decoded_headers, drain_body

API_PREFIX = "/api/v2/cm/"
_UPDATES = ("update", "update-rates")
_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


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


class Gateway:
    """ASGI middleware in front of every `/api/v2/cm/` route; `/_sim/` passes straight through."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def _screen(self, scope: Scope, size: int) -> AiosellError | None:
        config = self.state.config
        credentials = basic_credentials(Headers(scope=scope).get("authorization"))
        partner = partner_of(str(scope["path"]))
        # §1.3 [3P]: missing or wrong credentials, or another partner's slug: "Authentication
        # Required!" with HTTP 400 (configurable).
        if credentials != (config.username, config.password) or partner != config.partner:
            return AiosellError(config.auth_failure_status, "Authentication Required!")
        if config.is_partner_disabled:
            return AiosellError(config.auth_failure_status, "Partner is disabled!")
        if size > config.max_body_bytes:
            return AiosellError(413, "Payload Too Large")
        is_update = str(scope["path"]).removeprefix(API_PREFIX).split("/")[0] in _UPDATES
        if is_update and self.state.is_over_update_limit():
            return AiosellError(429, "Too Many Requests")
        decision = self.state.faults.decide()
        if decision.delay_seconds > 0:
            await config.sleep(decision.delay_seconds)
        if decision.error_status == 429:
            return AiosellError(429, "Too Many Requests")
        if decision.error_status is not None:
            return AiosellError(decision.error_status, _SERVER_ERRORS[decision.error_status])
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived_at = state.now()
        body, size = await drain_body(receive, state.config.max_body_bytes)
        status = 500
        is_replayed = False

        async def replay() -> Message:
            nonlocal is_replayed
            if not is_replayed:
                is_replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            error = await self._screen(scope, size)
            if error is not None:
                await error.response()(scope, replay, send_tagged)
            else:
                await self.app(scope, replay, send_tagged)
        finally:
            state.requests.record(
                masker=state.masker(),
                method=str(scope["method"]),
                path=str(scope["path"]),
                query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                headers=decoded_headers(scope.get("headers", ())),
                body=body,
                body_bytes=size,
                status=status,
                at=arrived_at,
            )
