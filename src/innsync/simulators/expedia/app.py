"""The EQC simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

from innsync.simulators.expedia import api, control, parr
from innsync.simulators.expedia.config import SimulatorConfig
from innsync.simulators.expedia.state import Pump, SimulatorState
from innsync.simulators.kit.gateway import REASONS, FrontDoor
from innsync.simulators.kit.running import pump_lifespan

API_PREFIXES = ("/connect/", "/eqc/")


def _refusal(status: int) -> Response:
    # EQC words its own refusals in XML with HTTP 200; these come from in front of it.
    return Response(REASONS.get(status, "Error"), status_code=status, media_type="text/plain")


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
    for router in (api.router, parr.router, control.router, control.shared_router):
        app.include_router(router)
    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIXES),
        refusal=_refusal,
        tags=lambda scope, _body: {"endpoint": str(scope["path"]).rsplit("/", 1)[-1]},
    )
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
