"""The iCal simulator: platforms' feeds (Airbnb and Vrbo flavours) and their polls of innsync.

Feeds: ``GET /calendar/ical/{listing}.ics?s={token}`` (Airbnb's shape) and
``GET /icalendar/{token}.ics`` (Vrbo's), with ETag / Last-Modified / 304. Control: the shared
``/_sim/`` plane (faults, tick, requests, reset) plus ``/_sim/listings…`` generators and
inspections (README.md). ``POST /_sim/tick`` makes every listing poll its import URL once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from innsync.simulators.ical.config import SimulatorConfig
from innsync.simulators.ical.control import Simulated, invalid, sim
from innsync.simulators.ical.feeds import feeds
from innsync.simulators.ical.gateway import Gateway
from innsync.simulators.ical.polls import poll_imports
from innsync.simulators.ical.state import SimulatorState
from innsync.simulators.kit.control import control_router


async def _pump(state: SimulatorState, interval: float) -> None:
    """Poll every import URL until cancelled (``--poll-seconds``)."""
    while True:
        await poll_imports(state)
        await asyncio.sleep(interval)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    simulated = Simulated(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = None
        if config.pump_interval_seconds is not None:
            task = asyncio.create_task(_pump(state, config.pump_interval_seconds))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="iCal platforms simulator (Airbnb, Vrbo)", lifespan=lifespan)
    app.state.simulator = state
    app.include_router(feeds)
    app.include_router(sim)
    app.include_router(control_router(lambda _: simulated, invalid))
    app.add_middleware(Gateway, state=state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
