"""The Channex simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from innsync.simulators.channex import (
    ari,
    booking_actions,
    bookings,
    channels,
    control,
    entities,
    subscriptions,
)
from innsync.simulators.channex.config import SimulatorConfig
from innsync.simulators.channex.errors import install_error_handlers
from innsync.simulators.channex.gateway import Gateway
from innsync.simulators.channex.state import SimulatorState
from innsync.simulators.channex.webhooks import WebhookDispatcher


async def _pump(dispatcher: WebhookDispatcher, interval_seconds: float) -> None:
    """Run due retries and non_acked_booking events until cancelled."""
    while True:
        await dispatcher.tick()
        # Real time on purpose: the injected clock decides what is due, this only paces checks.
        await asyncio.sleep(interval_seconds)


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

    app = FastAPI(title="Channex API v1 simulator", lifespan=lifespan)
    app.state.simulator = state
    app.state.dispatcher = dispatcher
    install_error_handlers(app)
    for router in (
        entities.router,
        ari.router,
        bookings.router,
        booking_actions.router,
        subscriptions.router,
        channels.router,
        control.router,
        channels.control,
        booking_actions.control,
        control.shared_router,
    ):
        app.include_router(router)
    app.add_middleware(Gateway, state=state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
