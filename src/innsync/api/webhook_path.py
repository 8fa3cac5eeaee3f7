"""The fast path of ``POST /hooks/{token}``: the webhook route served without FastAPI's routing.

A busy channel delivers thousands of webhooks a second, and FastAPI's share of each (route
matching over every route, dependency solving, its exception and exit-stack layers) was about
as large as the work of the call itself (``docs/benchmarks.md``, webhook_ingest). This
middleware, the outermost of the app's own, recognises exactly that method and path, with the
route's own pattern, and calls the router's function (``hooks.receive_channel_webhook``)
directly. Everything else goes to the full app untouched, ``GET``/``HEAD`` probes included.

What the call passes through is the app's own stack minus the router: the same middlewares
(request id and log context, metrics, security headers, the body guard's size, time and
per-address limits, sharing their budgets with the full stack) and the same exception
handlers, so answers, headers, logs and counters are those of the routed call. When those
middlewares are ``create_app``'s four (``FOLDED``), their work is done here in one layer, with
their own functions: one pass over the request headers and one wrapper of ``send`` instead of
four of each (each layer's coroutine and closures were a tenth of an acknowledgement's CPU).
Any other stack is wrapped as the full app wraps it.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from innsync.api.body_guard import BodyGuard, BodyState, close_if_incomplete
from innsync.api.log_context import HEADER, HEADER_BYTES, LogContext, accepted_request_id
from innsync.api.metrics import HTTP_LATENCY, HTTP_REQUESTS, RecordRequests
from innsync.api.routers import hooks
from innsync.api.security_headers import NO_STORE_PREFIXES, SecurityHeaders, with_security_headers

PATH = "/hooks/{token}"
# The app's middlewares, outermost first, whose work ``WebhookFastPath`` does in one layer.
FOLDED: tuple[type, ...] = (LogContext, RecordRequests, SecurityHeaders, BodyGuard)


class WebhookFastPath:
    """Serves ``POST /hooks/{token}`` through the app's middlewares but not its router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Built on the first call, from the app as it is then (its middlewares and handlers
        # are all in place once it serves); ``None`` after building if it has no such route.
        self._route: APIRoute | None = None
        self._served: ASGIApp | None = None
        self._built = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        if not self._built:
            self._build(scope["app"])
        route, served = self._route, self._served
        matched = None if route is None else route.path_regex.match(scope["path"])
        if route is None or served is None or matched is None:
            await self.app(scope, receive, send)
            return
        # What routing would have added: metrics label answers by ``route.path``.
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = matched.groupdict()
        await served(scope, receive, send)

    def _build(self, app: FastAPI) -> None:
        self._built = True
        # The router's own route (``create_app`` includes it without a prefix): its pattern
        # decides what is a webhook call, its template labels the metrics.
        self._route = next(
            (
                route
                for route in hooks.router.routes
                if isinstance(route, APIRoute)
                and route.path == PATH
                and "POST" in (route.methods or ())
            ),
            None,
        )
        if self._route is None:
            return
        # As FastAPI builds its stack: 500 and ``Exception`` belong to the outermost
        # ServerErrorMiddleware, which this path is inside of too.
        handlers = {
            key: handler
            for key, handler in app.exception_handlers.items()
            if key not in (500, Exception)
        }
        served: ASGIApp = ExceptionMiddleware(_receive_webhook, handlers=handlers, debug=app.debug)
        classes: list[object] = [entry.cls for entry in app.user_middleware]
        stack = [
            entry
            for entry, cls in zip(app.user_middleware, classes, strict=True)
            if cls is not WebhookFastPath
        ]
        if tuple(cls for cls in classes if cls is not WebhookFastPath) == FOLDED:
            guard: Any = stack[-1]  # its arguments, typed by the app's ``add_middleware``
            self._served = _Folded(BodyGuard(served, *guard.args, **guard.kwargs), served)
            return
        for cls, args, kwargs in reversed(stack):
            served = cls(served, *args, **kwargs)
        self._served = served


class _Folded:
    """``FOLDED``'s work in one layer, as they do it and in their order, around ``endpoint``.

    ``guard`` is the app's body guard as configured (its limits, its counts shared with the
    full stack's); the route's metric series are looked up once, not per answer.
    """

    def __init__(self, guard: BodyGuard, endpoint: ASGIApp) -> None:
        self._guard = guard
        self._endpoint = endpoint
        self._counters: dict[int, Any] = {}
        self._latency = HTTP_LATENCY.labels("POST", PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given, declared, transfer_encoding = b"", None, b""
        for name, value in scope["headers"]:  # the last of each, as ``dict(headers)`` keeps
            if name == b"content-length":
                declared = value
            elif name == HEADER_BYTES:
                given = value
            elif name == b"transfer-encoding":
                transfer_encoding = value
        request_id = accepted_request_id(given)
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)
        state = BodyState(complete=False)
        status = 500

        async def send_folded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = with_security_headers(close_if_incomplete(message, state), no_store)
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        # As ``LogContext`` binds it, but with the variable's token: ``bound_contextvars`` reads
        # every context variable to save what it replaces, on each request.
        tokens = bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self._guard.serve(
                scope, receive, send_folded, self._endpoint, state, declared, transfer_encoding
            )
        except BaseException:
            status = 500
            raise
        finally:
            self._count(status, time.perf_counter() - started)
            reset_contextvars(**tokens)

    def _count(self, status: int, seconds: float) -> None:
        """As ``RecordRequests`` counts, with the route's series looked up once."""
        counter = self._counters.get(status)
        if counter is None:
            counter = self._counters[status] = HTTP_REQUESTS.labels("POST", PATH, str(status))
        counter.inc()
        self._latency.observe(seconds)


async def _receive_webhook(scope: Scope, receive: Receive, send: Send) -> None:
    """The route's endpoint, called as FastAPI would call it (its one dependency: the app's
    ``Database``)."""
    request = Request(scope, receive, send)
    response = await hooks.receive_channel_webhook(
        request.path_params["token"], request, request.app.state.database
    )
    await response(scope, receive, send)
