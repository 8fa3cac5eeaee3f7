"""The Beds24 simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from innsync.simulators.beds24 import auth, bookings, calendar, control, properties
from innsync.simulators.beds24.config import SimulatorConfig
from innsync.simulators.beds24.errors import Beds24Error, invalid_sim_input
from innsync.simulators.beds24.gateway import Gateway
from innsync.simulators.beds24.state import SimulatorState
from innsync.simulators.beds24.webhooks import WebhookDispatcher


async def _pump(dispatcher: WebhookDispatcher, interval_seconds: float) -> None:
    """Run due deliveries and retries until cancelled."""
    while True:
        await dispatcher.tick()
        # Real time on purpose: the injected clock decides what is due, this only paces checks.
        await asyncio.sleep(interval_seconds)


async def _beds24_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Beds24Error)
    return exc.response()


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details: dict[str, list[str]] = {}
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if part != "body") or "body"
        details.setdefault(where, []).append(str(error["msg"]))
    return invalid_sim_input(details).response()


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    dispatcher = WebhookDispatcher(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pump = None
        if config.pump_interval_seconds is not None:
            pump = asyncio.create_task(_pump(dispatcher, config.pump_interval_seconds))
        try:
            yield
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

    app = FastAPI(title="Beds24 API V2 simulator", lifespan=lifespan)
    app.state.simulator = state
    app.state.dispatcher = dispatcher
    app.add_exception_handler(Beds24Error, _beds24_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for router in (
        auth.router,
        calendar.router,
        bookings.router,
        properties.router,
        control.router,
        control.shared_router,
    ):
        app.include_router(router)
    app.add_middleware(Gateway, state=state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
