"""The EQC simulator's app factory and its uvicorn runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from innsync.simulators.expedia import api, control
from innsync.simulators.expedia.config import SimulatorConfig
from innsync.simulators.expedia.gateway import Gateway
from innsync.simulators.expedia.state import Pump, SimulatorState


async def _run_pump(pump: Pump, interval_seconds: float) -> None:
    """Run the timed events (the fax/e-mail fallback sweep) until cancelled."""
    while True:
        await pump.tick()
        # Real time on purpose: the injected clock decides what is due, this only paces checks.
        await asyncio.sleep(interval_seconds)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    pump = Pump(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = None
        if config.pump_interval_seconds is not None:
            task = asyncio.create_task(_run_pump(pump, config.pump_interval_seconds))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="Expedia QuickConnect simulator (AR, BR, BC)", lifespan=lifespan)
    app.state.simulator = state
    app.state.pump = pump
    for router in (api.router, control.router, control.shared_router):
        app.include_router(router)
    app.add_middleware(Gateway, state=state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
