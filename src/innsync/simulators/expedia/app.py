"""The EQC simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from innsync.simulators.expedia import api, control
from innsync.simulators.expedia.config import SimulatorConfig
from innsync.simulators.expedia.state import Pump, SimulatorState
from innsync.simulators.kit.gateway import Gateway
from innsync.simulators.kit.lifespan import pump_lifespan


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    pump = Pump(state)
    app = FastAPI(
        title="Expedia QuickConnect simulator (AR, BR, BC)",
        # The pump sweeps unconfirmed transactions to the fax/e-mail fallback.
        lifespan=pump_lifespan(pump, config.pump_interval_seconds),
    )
    app.state.simulator = state
    app.state.pump = pump
    for router in (api.router, control.router, control.shared_router):
        app.include_router(router)
    app.add_middleware(
        Gateway,
        state=state,
        prefixes=("/connect/", "/eqc/"),
        max_body_bytes=config.max_body_bytes,
        sleep=config.sleep,
        tags=lambda path: {"endpoint": path.rsplit("/", 1)[-1]},
    )
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
