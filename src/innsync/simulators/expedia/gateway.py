"""The front door of the simulated EQC endpoints: body cap, injected faults, the request log."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.expedia.state import SimulatorState
from innsync.simulators.kit.requests import decoded_headers, drain_body

API_PREFIXES = ("/connect/", "/eqc/")
_SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class Gateway:
    """ASGI middleware in front of AR, BR and BC; ``/_sim/`` passes straight through."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def _screen(self, size: int) -> Response | None:
        config = self.state.config
        if size > config.max_body_bytes:
            return Response("Payload Too Large", status_code=413)
        decision = self.state.faults.decide()
        if decision.delay_seconds > 0:
            await config.sleep(decision.delay_seconds)
        if decision.error_status == 429:
            return Response("Too Many Requests", status_code=429)
        if decision.error_status is not None:
            return Response(
                _SERVER_ERRORS[decision.error_status], status_code=decision.error_status
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(API_PREFIXES):
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
            refusal = await self._screen(size)
            if refusal is not None:
                await refusal(scope, replay, send_tagged)
            else:
                await self.app(scope, replay, send_tagged)
        finally:
            state.requests.record(
                masker=state.masker(),
                method=str(scope["method"]),
                path=path,
                query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                headers=decoded_headers(scope.get("headers", ())),
                body=body,
                body_bytes=size,
                status=status,
                at=arrived_at,
                tags={"endpoint": path.rsplit("/", 1)[-1]},
            )
