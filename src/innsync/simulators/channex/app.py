"""The Channex simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from innsync.simulators.channex import (
    ari,
    booking_actions,
    bookings,
    channels,
    control,
    entities,
    gateway,
    subscriptions,
)
from innsync.simulators.channex.config import SimulatorConfig
from innsync.simulators.channex.errors import install_error_handlers
from innsync.simulators.channex.state import SimulatorState
from innsync.simulators.channex.webhooks import WebhookDispatcher
from innsync.simulators.kit.running import pump_lifespan


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    dispatcher = WebhookDispatcher(state)

    # The pump runs due retries and non_acked_booking events; tests tick through /_sim/tick.
    lifespan = pump_lifespan(dispatcher, config.pump_interval_seconds)
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
    gateway.install(app, state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
