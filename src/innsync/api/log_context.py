"""Binds a request id to every log line of an HTTP request (pure ASGI).

The id is the caller's ``X-Request-ID`` when it is a short plain token (so a PMS can follow its
own ids into innsync's logs), otherwise a new one; it is sent back as ``X-Request-ID``. The
tenant is bound once the API key is known (``deps.get_principal``). Each request runs in its own
task, whose context the bindings live in: they never reach another request's lines.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

HEADER = "x-request-id"
HEADER_BYTES = HEADER.encode()
# Anything else a caller sends is replaced: a log line must not carry what it cannot trust.
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def accepted_request_id(given: bytes) -> str:
    """The caller's ``X-Request-ID`` (its value, or ``b""``) if acceptable, else a new id."""
    text = given.decode("latin-1")
    return text if _ACCEPTED.fullmatch(text) else uuid.uuid4().hex


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
