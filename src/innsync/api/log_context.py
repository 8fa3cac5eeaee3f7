"""Binds a request id to every log line of an HTTP request (pure ASGI).

The id is the caller's ``X-Request-ID`` when it is a short plain token (so a PMS can follow its
own ids into innsync's logs), otherwise a new one; it is sent back as ``X-Request-ID``. The
tenant is bound once the API key is known (``deps.get_principal``). Each request runs in its own
task, whose context the bindings live in: they never reach another request's lines.
"""

from __future__ import annotations

import itertools
import os
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

HEADER = "x-request-id"
HEADER_BYTES = HEADER.encode()
# Anything else a caller sends is replaced: a log line must not carry what it cannot trust.
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")


_ODD_MULTIPLIER = 0x9E37_79B9_7F4A_7C15  # odd: 2**64 divided by the golden ratio
_LOW_64_BITS = (1 << 64) - 1


class _RequestIds:
    """New request ids: 32 hex digits, a random half per process and a counter.

    Unique across processes and restarts as a random UUID is, but without a call for 16 bytes
    of the kernel's randomness per request (``uuid4``: 7 % of a server process's event loop
    under webhook load, ``innsync bench webhook_ingest``). An id names a request in the logs;
    it guards nothing, so it need not be unpredictable.
    """

    def __init__(self) -> None:
        self._reseed()
        # A forked child would repeat its parent's ids: it draws a prefix of its own.
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def new(self) -> str:
        # Multiplying by an odd number is a bijection modulo 2**64: still one id per count, but
        # an answer's id does not tell how many requests the process has served.
        scrambled = (next(self._counter) * _ODD_MULTIPLIER) & _LOW_64_BITS
        return f"{self._prefix}{scrambled:016x}"


_ids = _RequestIds()


def accepted_request_id(given: bytes) -> str:
    """The caller's ``X-Request-ID`` (its value, or ``b""``) if acceptable, else a new id."""
    text = given.decode("latin-1")
    return text if _ACCEPTED.fullmatch(text) else _ids.new()


class LogContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(dict(scope.get("headers") or []).get(HEADER_BYTES, b""))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
