"""Request bodies are bounded in size and in time while they are received, on every route.

A pure ASGI middleware (no ``BaseHTTPMiddleware``): it wraps ``receive`` so nothing is
accumulated past the limit. A declared ``Content-Length`` over the limit is refused before a
byte of the body is read; a chunked body is counted as it streams and refused the moment it
passes the limit (413). A body that has not fully arrived ``body_timeout`` seconds after the
request began is refused with 408: a slow drip cannot hold a connection for long. One client
address may have ``bodies_per_address`` requests with a body in progress; past that, 429 at
once. Every such answer closes the connection, so the rest of the upload is never read, and is
one log line (no traceback, no body).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.api import problems
from innsync.api.security_headers import loggable_path

logger = logging.getLogger(__name__)
CLOSE = (b"connection", b"close")


class BodyAbortedError(HTTPException):
    """The body broke a limit; raised from ``receive``, so whoever reads the body stops there.

    An ``HTTPException``: the app's handlers answer it as a problem (FastAPI re-raises these
    from its body parsing instead of calling them a 400).
    """

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail, headers={"Connection": "close"})


class BodyGuard:
    """Enforces ``max_bytes``, ``body_timeout`` and ``bodies_per_address`` on every request."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        body_timeout: float,
        bodies_per_address: int = 0,
        clock: Callable[[], float] = time.monotonic,
        in_progress: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.bodies_per_address = bodies_per_address
        self.clock = clock
        # Bodies being received now, per client address (only addresses with one or more).
        # Shared by the guards of one app: the webhook fast path has its own instance.
        self._receiving: dict[str, int] = {} if in_progress is None else in_progress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        state = BodyState(complete=False)
        await self.serve(
            scope,
            receive,
            partial(closing_send, send, state),
            self.app,
            state,
            headers.get(b"content-length"),
            headers.get(b"transfer-encoding", b""),
        )

    async def serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: ASGIApp,
        state: BodyState,
        declared: bytes | None,
        transfer_encoding: bytes,
    ) -> None:
        """Call ``app`` with the body guarded, or answer at once (413, 429).

        ``declared`` and ``transfer_encoding`` are the request's headers of those names (the
        last of each, as ``dict(headers)`` keeps). ``state`` tells ``send``'s wrapper whether
        the body is in yet: an answer before that must close the connection
        (``closing_send``); the webhook fast path folds that into its one wrapper.
        """
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            _aborted(scope, 413, "declared too large")
            await problems.problem(413, "Payload too large", self._too_large, headers=_CLOSING)(
                scope, receive, send
            )
            return
        has_body = (declared is not None and int(declared) > 0) or (
            b"chunked" in transfer_encoding.lower()
        )
        if not has_body:
            state.complete = True
            await app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else ""
        if 0 < self.bodies_per_address <= self._receiving.get(address, 0):
            # Thousands of stalled uploads from one address would each hold a connection
            # until the body time-out: past the budget, refuse at once and close.
            _aborted(scope, 429, "too many bodies in progress from this address")
            answer = problems.problem(
                429,
                "Too many requests",
                "too many uploads in progress from this address",
                headers={**_CLOSING, "Retry-After": "1"},
            )
            await answer(scope, receive, send)
            return
        self._receiving[address] = self._receiving.get(address, 0) + 1
        try:
            await app(scope, self._guarded_receive(scope, receive, state), send)
        finally:
            left = self._receiving.pop(address) - 1
            if left:
                self._receiving[address] = left

    def _guarded_receive(self, scope: Scope, receive: Receive, state: BodyState) -> Receive:
        deadline = self.clock() + self.body_timeout

        async def guarded_receive() -> Message:
            if state.complete:
                return await receive()
            remaining = deadline - self.clock()
            try:
                # Not ``wait_for``: it runs ``receive`` in a task of its own, which cost more
                # than the rest of the guard on every request with a body.
                async with asyncio.timeout(max(remaining, 0.0)):
                    message = await receive()
            except TimeoutError:
                _aborted(scope, 408, f"body not received within {self.body_timeout:g} s")
                raise BodyAbortedError(
                    408, f"the request body must arrive within {self.body_timeout:g} seconds"
                ) from None
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                if state.received > self.max_bytes:
                    _aborted(scope, 413, "streamed too large")
                    raise BodyAbortedError(413, self._too_large)
                state.complete = not message.get("more_body", False)
            else:  # http.disconnect: nothing more will come
                state.complete = True
            return message

        return guarded_receive

    @property
    def _too_large(self) -> str:
        return f"bodies are limited to {self.max_bytes} bytes"


_CLOSING = {"Connection": "close"}


@dataclass(slots=True)
class BodyState:
    """How much of one request's body has come in, and whether all of it has."""

    complete: bool
    received: int = 0


def close_if_incomplete(message: Message, state: BodyState) -> Message:
    """An answer start that comes before the whole body (an early 401, a 413, a 408), with
    ``Connection: close``: else the server would go on reading the rest of the upload."""
    if message["type"] == "http.response.start" and not state.complete:
        headers = list(message.get("headers", []))
        if not any(name.lower() == b"connection" for name, _ in headers):
            return {**message, "headers": [*headers, CLOSE]}
    return message


async def closing_send(send: Send, state: BodyState, message: Message) -> None:
    await send(close_if_incomplete(message, state))


def _aborted(scope: Scope, status: int, why: str) -> None:
    """One line per refused upload: no traceback, no body, no headers."""
    client = scope.get("client")
    logger.warning(
        "request body refused",
        extra={
            "status": status,
            "reason": why,
            "method": scope.get("method", ""),
            "path": loggable_path(scope.get("path", "")),
            "client": client[0] if client else "",
        },
    )
