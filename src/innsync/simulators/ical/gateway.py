"""The feeds' front door: injected faults (latency, 5xx, 429, time-out) and the request log."""

from __future__ import annotations

from fastapi import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.ical.state import SimulatorState
from innsync.simulators.kit.requests import decoded_headers, drain_body


class Gateway:
    """Front door of the feeds: injected faults (latency, 5xx, 429, time-out) and the log."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived = state.now()
        body, size = await drain_body(receive, 64_000)
        status = 500

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            decision = state.faults.decide()
            if decision.delay_seconds > 0:
                await state.config.sleep(decision.delay_seconds)
            if decision.error_status is not None:
                await Response(status_code=decision.error_status)(scope, replay, send_tagged)
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
                at=arrived,
            )
