"""The fast path of ``POST /hooks/{token}``: the webhook route served without FastAPI's layers.

A busy channel delivers thousands of webhooks a second, and the framework's share of each (route
matching over every route, dependency solving, FastAPI's per-request telemetry check and body
limit, its exception and exit-stack layers) was about as large as the work of the call itself
(``docs/benchmarks.md``, webhook_ingest). ``InnsyncAPI``, the app ``create_app`` builds, asks
its ``WebhookFastPath`` first: exactly that method and path, recognised with the route's own
pattern, go to the router's function (``hooks.receive_channel_webhook``) directly; everything
else goes to FastAPI untouched, ``GET``/``HEAD`` probes included.

What the call passes through is the app's own stack minus the router: the server-error layer
(an unhandled error is the app's 500), the same middlewares (request id and log context,
metrics, security headers, the body guard's size, time and per-address limits, sharing their
budgets with the full stack) and the same exception handlers, so answers, headers, logs and
counters are those of the routed call. When those middlewares are ``create_app``'s four
(``FOLDED``), their work is done here in one layer, with their own functions: one pass over the
request headers and one wrapper of ``send`` instead of four of each (each layer's coroutine and
closures were a tenth of an acknowledgement's CPU). Any other stack is wrapped as the full app
wraps it. FastAPI's native telemetry does not see webhook calls; the metrics do.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.middleware.errors import ServerErrorMiddleware
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


class InnsyncAPI(FastAPI):
    """FastAPI, with webhook calls taken by ``webhook_fast_path`` ahead of its own layers.

    ``webhook_fast_path = None`` serves them through FastAPI's router like every other call.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.webhook_fast_path: WebhookFastPath | None = WebhookFastPath(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.webhook_fast_path
        served = None if fast is None else fast.served_for(scope)
        if served is None:
            await super().__call__(scope, receive, send)
        else:
            await served(scope, receive, send)


class WebhookFastPath:
    """Serves ``POST /hooks/{token}`` through the app's middlewares but not its router."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        # Built on the first call, from the app as it is then (its middlewares and handlers
        # are all in place once it serves); ``None`` after building if it has no such route.
        self._route: APIRoute | None = None
        self._served: ASGIApp | None = None
        self._built = False

    def served_for(self, scope: Scope) -> ASGIApp | None:
        """What serves this call if it is a webhook (``scope`` completed as routing would
        complete it), else ``None``."""
        # Mounted under a prefix, routing would strip it first: leave such calls to FastAPI.
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or self.app.root_path
            or scope.get("root_path")
        ):
            return None
        if not self._built:
            self._build()
        route = self._route
        matched = None if route is None else route.path_regex.match(scope["path"])
        if route is None or matched is None:
            return None
        # What Starlette and routing would have added: ``request.app``, and the route that
        # metrics label answers by (``route.path``).
        scope["app"] = self.app
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = matched.groupdict()
        return self._served

    def _build(self) -> None:
        self._built = True
        app = self.app
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
        # ServerErrorMiddleware, the other handlers to the innermost ExceptionMiddleware.
        error_handler = None
        handlers = {}
        for key, handler in app.exception_handlers.items():
            if key in (500, Exception):
                error_handler = handler
            else:
                handlers[key] = handler
        served: ASGIApp = ExceptionMiddleware(_receive_webhook, handlers=handlers, debug=app.debug)
        stack = list(app.user_middleware)
        classes: tuple[object, ...] = tuple(entry.cls for entry in stack)
        if classes == FOLDED:
            guard: Any = stack[-1]  # its arguments, typed by the app's ``add_middleware``
            served = _Folded(BodyGuard(served, *guard.args, **guard.kwargs), served)
        else:
            for cls, args, kwargs in reversed(stack):
                served = cls(served, *args, **kwargs)
        self._served = ServerErrorMiddleware(served, handler=error_handler, debug=app.debug)


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
