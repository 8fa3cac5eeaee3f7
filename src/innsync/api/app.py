"""The application factory: wires settings, storage, error handling, routers and loops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from innsync import __doc__ as package_doc
from innsync.admin import site as admin_site
from innsync.api import openapi, problems
from innsync.api.body_guard import BodyGuard
from innsync.api.deps import Database
from innsync.api.log_context import LogContext
from innsync.api.metrics import RecordRequests
from innsync.api.routers import (
    alerts,
    backups,
    conflicts,
    connections,
    events,
    hooks,
    ical,
    inventory,
    keys,
    marketplace,
    oauth,
    ops,
    privacy,
    properties,
    recovery,
    reservation_actions,
    reservations,
    room_units,
)
from innsync.api.security_headers import SecurityHeaders
from innsync.api.throttle import FailureBudget
from innsync.api.webhook_path import InnsyncAPI
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory
from innsync.inbox.ingress import GroupCommit, ReceiverCache, writers_for
from innsync.loops import BackgroundLoops
from innsync.outbound import OutboundPolicy
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
    outbound: OutboundPolicy | None = None,
    server_processes: int = 1,
) -> InnsyncAPI:
    """Build the app. Tests inject their own engine, sessions and key (and may inject the
    outbound policy, to give it their own resolver); ``serve`` injects nothing.

    ``server_processes``: how many processes serve the port with this one (``serve --workers``).
    """
    settings = settings or get_settings()
    outbound = outbound or OutboundPolicy.from_settings(settings)
    engine = engine or build_engine(settings.database_url)
    sessions = sessions or session_factory(engine)
    secret_box = secret_box or secret_box_from(settings)
    loops = BackgroundLoops(sessions, secret_box, settings, outbound)
    start_loops = settings.background_loops if run_loops is None else run_loops

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_loops:
            loops.start()
        try:
            yield
        finally:
            loops.stop()

    app = InnsyncAPI(
        title="innsync",
        version="0.1.0",
        description=package_doc or "",
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
        # Both load their scripts from a CDN: /docs is served from vendored assets instead
        # (openapi.install_docs), and ReDoc is not offered.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.database = Database(sessions)
    app.state.secret_box = secret_box
    app.state.loops = loops
    app.state.auth_failures = FailureBudget(
        settings.auth_failure_limit, settings.auth_failure_window_seconds
    )
    # Rejected webhook calls, counted per connection and per client address (hooks router).
    app.state.webhook_rejections = FailureBudget(
        settings.webhook_rejected_limit, settings.webhook_rejected_window_seconds
    )
    app.state.outbound = outbound
    # Webhook ingress: receivers built once per connection version, items committed in groups.
    app.state.webhook_receivers = ReceiverCache(partial(hooks.receiver_adapter, box=secret_box))
    app.state.inbox_writer = GroupCommit(sessions, writers=writers_for(sessions, server_processes))

    problems.install(app)
    # Pure ASGI, outermost last: metrics see every answer (a 413 from the guard, an
    # unhandled error), and every answer gets the security headers.
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.max_request_bytes,
        body_timeout=settings.http_body_timeout_seconds,
        bodies_per_address=settings.http_uploads_per_address,
        in_progress={},  # one count per app, whichever of its stacks receives the body
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RecordRequests)
    # Outermost of the routed path: every line logged while answering carries the request id.
    # POST /hooks/{token} goes through these four too, but not through FastAPI's own layers
    # (``InnsyncAPI``, ``api.webhook_path``).
    app.add_middleware(LogContext)
    app.include_router(ops.router)
    app.include_router(hooks.router)
    app.include_router(ical.router)
    app.include_router(oauth.callback_router)
    for router in (
        properties.router,
        inventory.router,
        reservations.router,
        reservation_actions.router,
        room_units.router,
        alerts.router,
        conflicts.router,
        connections.router,
        recovery.router,
        events.router,
        keys.router,
        ical.manage,
        backups.router,
        privacy.router,
        marketplace.router,
        oauth.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    openapi.install(app, API_PREFIX)
    openapi.install_docs(app)
    admin_site.install(app, settings)
    return app
