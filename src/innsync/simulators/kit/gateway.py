"""The front door a simulator puts before its API routes: body cap, faults, the request log.

An ASGI middleware: API requests (paths under ``prefixes``) are read whole with
:func:`drain_body` (past ``max_body_bytes`` answered 413), given the fault the state's
:class:`FaultInjector` draws (latency, 429, 5xx, time-out latency) and recorded in its
:class:`RequestLog` with the state's masker and the tags ``tags(path)`` gives. Everything else
(``/_sim/``) passes straight through. Refusals are plain text; a simulator whose vendor words
them otherwise keeps its own gateway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog, decoded_headers, drain_body

SERVER_ERROR_TEXTS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class GatewayState(Protocol):
    """What the gateway needs of a simulator's state."""

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def requests(self) -> RequestLog: ...

    def now(self) -> datetime: ...

    def masker(self) -> Masker: ...


class Gateway:
    """ASGI middleware in front of a simulator's API routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        state: GatewayState,
        prefixes: tuple[str, ...],
        max_body_bytes: int,
        sleep: Callable[[float], Awaitable[None]],
        tags: Callable[[str], Mapping[str, Any]] = lambda _: {},
    ) -> None:
        self.app = app
        self.state = state
        self.prefixes = prefixes
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.tags = tags

    async def _screen(self, size: int) -> Response | None:
        if size > self.max_body_bytes:
            return Response("Payload Too Large", status_code=413)
        decision = self.state.faults.decide()
        if decision.delay_seconds > 0:
            await self.sleep(decision.delay_seconds)
        if decision.error_status == 429:
            return Response("Too Many Requests", status_code=429)
        if decision.error_status is not None:
            text = SERVER_ERROR_TEXTS[decision.error_status]
            return Response(text, status_code=decision.error_status)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived_at = state.now()
        body, size = await drain_body(receive, self.max_body_bytes)
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
                tags=self.tags(path),
            )
