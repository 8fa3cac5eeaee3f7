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
handlers, so answers, headers, logs and counters are those of the routed call.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from innsync.api.routers import hooks

PATH = "/hooks/{token}"


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
        for cls, args, kwargs in reversed(app.user_middleware):
            if cls is not WebhookFastPath:
                served = cls(served, *args, **kwargs)
        self._served = served


async def _receive_webhook(scope: Scope, receive: Receive, send: Send) -> None:
    """The route's endpoint, called as FastAPI would call it (its one dependency: the app's
    ``Database``)."""
    request = Request(scope, receive, send)
    response = await hooks.receive_channel_webhook(
        request.path_params["token"], request, request.app.state.database
    )
    await response(scope, receive, send)
