"""The application factory: wires settings, storage, error handling, routers and loops."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from innsync import __doc__ as package_doc
from innsync.api import openapi, problems
from innsync.api.deps import Database
from innsync.api.metrics import record_request
from innsync.api.routers import (
    backups,
    conflicts,
    connections,
    events,
    hooks,
    ical,
    inventory,
    keys,
    ops,
    privacy,
    properties,
    reservation_actions,
    reservations,
    room_units,
)
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory
from innsync.loops import BackgroundLoops
from innsync.settings import Settings, get_settings
from innsync.vault import secret_box_from

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    sessions: sessionmaker[Session] | None = None,
    secret_box: SecretBox | None = None,
    run_loops: bool | None = None,
) -> FastAPI:
    """Build the app. Tests inject their own engine, sessions and key; ``serve`` injects nothing."""
    settings = settings or get_settings()
    engine = engine or build_engine(settings.database_url)
    sessions = sessions or session_factory(engine)
    secret_box = secret_box or secret_box_from(settings)
    loops = BackgroundLoops(sessions, secret_box, settings)
    start_loops = settings.background_loops if run_loops is None else run_loops

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_loops:
            loops.start()
        try:
            yield
        finally:
            loops.stop()

    app = FastAPI(
        title="innsync",
        version="0.1.0",
        description=package_doc or "",
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.database = Database(sessions)
    app.state.secret_box = secret_box
    app.state.loops = loops

    problems.install(app)
    app.middleware("http")(record_request)
    app.middleware("http")(_limit_body(settings.max_request_bytes))
    app.include_router(ops.router)
    app.include_router(hooks.router)
    app.include_router(ical.router)
    for router in (
        properties.router,
        inventory.router,
        reservations.router,
        reservation_actions.router,
        room_units.router,
        conflicts.router,
        connections.router,
        events.router,
        keys.router,
        ical.manage,
        backups.router,
        privacy.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    openapi.install(app, API_PREFIX)
    return app


def _limit_body(
    max_bytes: int,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            return problems.problem(
                413, "Payload too large", f"bodies are limited to {max_bytes} bytes"
            )
        if declared is None and request.method in {"POST", "PUT", "PATCH"}:
            body = await request.body()  # chunked: read it (once; Starlette caches it) and measure
            if len(body) > max_bytes:
                return problems.problem(
                    413, "Payload too large", f"bodies are limited to {max_bytes} bytes"
                )
        return await call_next(request)

    return limit
