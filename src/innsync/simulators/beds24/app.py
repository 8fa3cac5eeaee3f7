"""The Beds24 simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from innsync.simulators.beds24 import auth, bookings, calendar, control, gateway, properties
from innsync.simulators.beds24.config import SimulatorConfig
from innsync.simulators.beds24.errors import Beds24Error, invalid_sim_input
from innsync.simulators.beds24.state import SimulatorState
from innsync.simulators.beds24.webhooks import WebhookDispatcher
from innsync.simulators.kit.running import pump_lifespan
from innsync.simulators.kit.validation import answer_errors_as


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    dispatcher = WebhookDispatcher(state)

    # The pump runs due deliveries and retries; tests tick through /_sim/tick.
    lifespan = pump_lifespan(dispatcher, config.pump_interval_seconds)
    app = FastAPI(title="Beds24 API V2 simulator", lifespan=lifespan)
    app.state.simulator = state
    app.state.dispatcher = dispatcher
    answer_errors_as(app, Beds24Error, invalid_sim_input)
    for router in (
        auth.router,
        calendar.router,
        bookings.router,
        properties.router,
        control.router,
        control.shared_router,
    ):
        app.include_router(router)
    gateway.install(app, state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
