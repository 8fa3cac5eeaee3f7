"""A simulator's front door as ASGI middleware: body cap, injected faults and the request log.

Every API request (``is_api(path)``) is read whole with :func:`drain_body`, screened and
recorded in the :class:`RequestLog` with the state's masker, whatever the answer. ``/_sim/``
and other paths pass straight through. The default screen refuses a body over the cap, then
asks the :class:`FaultInjector` once (latency, 429, 5xx); a simulator whose vendor checks more
(credentials, rate limits, credits) passes its own ``screen`` built from :func:`over_cap` and
:func:`injected_fault`. The vendor's wording of a refusal comes from ``refusal(status)``.

Optional hooks, each given the request's ASGI scope (``scope["state"]`` carries what a screen
or a handler noted for later): ``tags`` for the log entry, ``headers`` added to every answer
(refusals included) and ``holds_answer``, a lost answer: the call is carried out in full, then
its answer waits the fault settings' ``timeout_seconds``, so a client gives up on a change the
simulator already holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog, decoded_headers, drain_body

Refusal = Callable[[int], Response]

REASONS = {
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
"""HTTP's reason phrases for the statuses a front door refuses with (cap, injected faults)."""
Screen = Callable[[Scope, int], Awaitable[Response | None]]


class FrontDoorSettings(Protocol):
    """What the front door needs of a simulator's start-up config."""

    @property
    def max_body_bytes(self) -> int: ...

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]: ...


class FrontDoorState(Protocol):
    """What the front door needs of a simulator's state."""

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def requests(self) -> RequestLog: ...

    @property
    def config(self) -> FrontDoorSettings: ...

    def now(self) -> datetime: ...

    def masker(self) -> Masker: ...


def over_cap(state: FrontDoorState, size: int) -> bool:
    """Whether a body of ``size`` bytes is over the simulator's cap."""
    return size > state.config.max_body_bytes


async def injected_fault(state: FrontDoorState, refusal: Refusal) -> Response | None:
    """One fault decision: its latency slept, its error status (if any) as a refusal."""
    decision = state.faults.decide()
    if decision.delay_seconds > 0:
        # Latency, or a time-out: sleeping past the client's timeout, after which the request
        # is still processed, as a real server would.
        await state.config.sleep(decision.delay_seconds)
    if decision.error_status is not None:
        return refusal(decision.error_status)
    return None


def request_notes(scope: Scope) -> MutableMapping[str, Any]:
    """The request's ``scope["state"]`` (``request.state`` to a handler), made if missing."""
    notes: MutableMapping[str, Any] = scope.setdefault("state", {})
    return notes


class FrontDoor:
    """ASGI middleware in front of a simulator's API routes."""

    def __init__(
        self,
        app: ASGIApp,
        state: FrontDoorState,
        is_api: Callable[[str], bool],
        refusal: Refusal,
        tags: Callable[[Scope, bytes], Mapping[str, Any]] | None = None,
        screen: Screen | None = None,
        headers: Callable[[Scope], Sequence[tuple[str, str]]] | None = None,
        holds_answer: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.state = state
        self.is_api = is_api
        self.refusal = refusal
        self.tags = tags
        self.screen = screen or self._screen
        self.headers = headers
        self.holds_answer = holds_answer

    async def _screen(self, _: Scope, size: int) -> Response | None:
        if over_cap(self.state, size):
            return self.refusal(413)
        return await injected_fault(self.state, self.refusal)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not self.is_api(path):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived_at = state.now()
        body, size = await drain_body(receive, state.config.max_body_bytes)
        status = 500
        is_replayed = False
        is_recorded = False

        def record() -> None:
            # Before the answer leaves: a client that reads the log right after its answer
            # (a test, or innsync's caller) must find its request there.
            nonlocal is_recorded
            if is_recorded:
                return
            is_recorded = True
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
                tags=self.tags(scope, body) if self.tags is not None else None,
            )

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
                if self.headers is not None:
                    extra = MutableHeaders(scope=message)
                    for name, value in self.headers(scope):
                        extra.append(name, value)
                record()
            await send(message)

        try:
            refused = await self.screen(scope, size)
            if refused is not None:
                await refused(scope, replay, send_tagged)
            elif self.holds_answer is not None and self.holds_answer(scope):
                await self._answer_late(scope, replay, send_tagged)
            else:
                await self.app(scope, replay, send_tagged)
        finally:
            record()  # no answer started: an error on the way, still logged (as a 500)

    async def _answer_late(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await self.state.config.sleep(self.state.faults.settings.timeout_seconds)
        for message in held:
            await send(message)
