"""The iCal simulator: platforms' feeds (Airbnb and Vrbo flavours) and their polls of innsync.

Feeds: ``GET /calendar/ical/{listing}.ics?s={token}`` (Airbnb's shape) and
``GET /icalendar/{token}.ics`` (Vrbo's), with ETag / Last-Modified / 304. Control: the shared
``/_sim/`` plane (faults, tick, requests, reset) plus ``/_sim/listings…`` generators and
inspections (README.md). ``POST /_sim/tick`` makes every listing poll its import URL once.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

from innsync.simulators.ical.config import SimulatorConfig
from innsync.simulators.ical.control import Simulated, invalid, sim
from innsync.simulators.ical.feeds import feeds
from innsync.simulators.ical.state import SimulatorState
from innsync.simulators.kit.control import control_router
from innsync.simulators.kit.gateway import FrontDoor
from innsync.simulators.kit.running import pump_lifespan


def _refusal(status: int) -> Response:
    # Platforms answer a failed feed fetch with a bare status.
    return Response(status_code=status)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    simulated = Simulated(state)
    # The pump polls every import URL (``--poll-seconds``); tests tick through /_sim/tick.
    lifespan = pump_lifespan(simulated, config.pump_interval_seconds)
    app = FastAPI(title="iCal platforms simulator (Airbnb, Vrbo)", lifespan=lifespan)
    app.state.simulator = state
    app.include_router(feeds)
    app.include_router(sim)
    app.include_router(control_router(lambda _: simulated, invalid))
    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: not path.startswith("/_sim"),
        refusal=_refusal,
    )
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
