"""The front door of the simulated API: body cap, faults, token check, credits, request log.

A lost answer (``/_sim/lost-answers``) is the fault a timeout hides: the call is carried out in
full, then its answer waits ``timeout_seconds`` of the fault settings, so a client gives up on a
change the account already holds.

Every answer of an API route carries the credit headers (§2.3), refusals included; a call past
the window's limit is refused with 429 ``{"success": false}`` and no Retry-After.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.beds24.errors import Beds24Error
from innsync.simulators.beds24.state import SimulatorState
from innsync.simulators.kit.requests import decoded_headers, drain_body

API_PREFIX = "/v2/"
_TOKEN_FREE = ("/v2/authentication/setup", "/v2/authentication/token")
_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def endpoint_of(method: str, path: str) -> str:
    """``GET /bookings``: the cost key and request-log tag of a call."""
    return f"{method} {path.removeprefix('/v2').rstrip('/') or '/'}"


class Gateway:
    """ASGI middleware in front of every `/v2/` route; `/_sim/` passes straight through."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def _screen(
        self, scope: Scope, size: int, cost: float
    ) -> tuple[Beds24Error | None, float]:
        """The refusal for this call, if any, and the credits it was charged."""
        state, config = self.state, self.state.config
        if size > config.max_body_bytes:
            return Beds24Error(413, "Payload too large (about 1 MB per POST)"), 0.0
        decision = state.faults.decide()
        if decision.delay_seconds > 0:
            await config.sleep(decision.delay_seconds)
        if decision.error_status == 429:
            return Beds24Error(429, "Too many requests"), 0.0
        if decision.error_status is not None:
            return Beds24Error(decision.error_status, _SERVER_ERRORS[decision.error_status]), 0.0
        path = str(scope["path"]).rstrip("/")
        if path not in _TOKEN_FREE and not state.token_is_valid(Headers(scope=scope).get("token")):
            return Beds24Error(401, "Token not valid"), 0.0
        if not state.charge(cost):
            return Beds24Error(429, "Credit limit reached"), 0.0
        return None, cost

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived_at = state.now()
        body, size = await drain_body(receive, state.config.max_body_bytes)
        endpoint = endpoint_of(str(scope["method"]), str(scope["path"]))
        status = 500
        charged = 0.0
        is_replayed = False

        async def replay() -> Message:
            nonlocal is_replayed
            if not is_replayed:
                is_replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_metered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                extra = [
                    (name.encode(), value.encode()) for name, value in state.credit_headers(charged)
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            cost = float(state.config.costs.get(endpoint, 1.0))
            error, charged = await self._screen(scope, size, cost)
            if error is not None:
                await error.response()(scope, replay, send_metered)
            elif state.takes_answer(endpoint):
                held: list[Message] = []

                async def hold(message: Message) -> None:
                    held.append(message)

                await self.app(scope, replay, hold)
                await state.config.sleep(state.faults.settings.timeout_seconds)
                for message in held:
                    await send_metered(message)
            else:
                await self.app(scope, replay, send_metered)
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
                tags={"endpoint": endpoint, "cost": charged},
            )
