"""The Agoda simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

from innsync.simulators.agoda import api, control
from innsync.simulators.agoda.config import SimulatorConfig
from innsync.simulators.agoda.documents import result, xml_response
from innsync.simulators.agoda.hints import Pump
from innsync.simulators.agoda.state import SimulatorState
from innsync.simulators.kit.gateway import REASONS, FrontDoor
from innsync.simulators.kit.running import pump_lifespan


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    pump = Pump(state)

    def refusal(status: int) -> Response:
        if status == 413:
            # §3.3: at most 1 MB per request [INFERRED: refused with 413 and a YCS error].
            body = result(state, errors=[("2010", "the request is larger than 1 MB")])
            return xml_response(body, 413)
        return Response(REASONS.get(status, "Error"), status_code=status, media_type="text/plain")

    # The pump pushes hints and sweeps fallbacks (tests tick it through /_sim/tick instead).
    lifespan = pump_lifespan(pump, config.pump_interval_seconds)
    app = FastAPI(title="Agoda YCS5 supply API simulator (XML)", lifespan=lifespan)
    app.state.simulator = state
    app.state.pump = pump
    for router in (api.router, control.router, control.shared_router):
        app.include_router(router)
    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path == "/api" or path.startswith("/api/"),
        refusal=refusal,
    )
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
