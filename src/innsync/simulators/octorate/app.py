"""The Octorate simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from innsync.simulators.kit.running import pump_lifespan
from innsync.simulators.octorate import (
    accommodations,
    calendar,
    control,
    gateway,
    oauth,
    reservations,
    subscriptions,
)
from innsync.simulators.octorate.config import SimulatorConfig
from innsync.simulators.octorate.errors import answer_errors
from innsync.simulators.octorate.hotel import Pump
from innsync.simulators.octorate.state import SimulatorState
from innsync.simulators.octorate.webhooks import WebhookDispatcher


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    dispatcher = WebhookDispatcher(state)
    pump = Pump(state, dispatcher)
    # The pump runs the hotel's due decisions and webhook deliveries; tests tick /_sim/tick.
    app = FastAPI(
        title="Octorate Connect API simulator",
        lifespan=pump_lifespan(pump, config.pump_interval_seconds),
    )
    app.state.simulator = state
    app.state.dispatcher = dispatcher
    app.state.pump = pump
    answer_errors(app)
    for router in (
        oauth.router,
        accommodations.router,
        calendar.router,
        reservations.router,
        subscriptions.router,
        control.router,
        control.shared_router,
    ):
        app.include_router(router)
    gateway.install(app, state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
