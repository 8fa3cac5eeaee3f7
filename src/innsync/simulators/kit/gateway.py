"""A simulator's front door as ASGI middleware: body cap, injected faults and the request log.

Every API request (``is_api(path)``) is read whole with :func:`drain_body`, screened (too big,
then one :class:`FaultInjector` decision: latency, 429, 5xx) and recorded in the
:class:`RequestLog` with the state's masker, whatever the answer. ``/_sim/`` and other paths
pass straight through. The vendor's wording of a refusal comes from ``refusal(status)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog, decoded_headers, drain_body


class FrontDoorState(Protocol):
    """What the front door needs of a simulator's state."""

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def requests(self) -> RequestLog: ...

    @property
    def max_body_bytes(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime: ...

    def masker(self) -> Masker: ...


class FrontDoor:
    """ASGI middleware in front of a simulator's API routes."""

    def __init__(
        self,
        app: ASGIApp,
        state: FrontDoorState,
        is_api: Callable[[str], bool],
        refusal: Callable[[int], Response],
        tags: Callable[[str, bytes], Mapping[str, Any]] | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.is_api = is_api
        self.refusal = refusal
        self.tags = tags

    async def _screen(self, size: int) -> Response | None:
        if size > self.state.max_body_bytes:
            return self.refusal(413)
        decision = self.state.faults.decide()
        if decision.delay_seconds > 0:
            await self.state.sleep(decision.delay_seconds)
        if decision.error_status is not None:
            return self.refusal(decision.error_status)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not self.is_api(path):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived_at = state.now()
        body, size = await drain_body(receive, state.max_body_bytes)
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
            refused = await self._screen(size)
            if refused is not None:
                await refused(scope, replay, send_tagged)
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
                tags=self.tags(path, body) if self.tags is not None else None,
            )
