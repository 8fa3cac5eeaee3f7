"""The Booking.com simulator's app factory and its uvicorn runner."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Scope

from innsync.simulators.booking_com import api, control
from innsync.simulators.booking_com.config import SimulatorConfig
from innsync.simulators.booking_com.state import Pump, SimulatorState
from innsync.simulators.kit.gateway import REASONS, FrontDoor
from innsync.simulators.kit.running import pump_lifespan

API_PREFIXES = ("/hotels/", "/token-based-authentication/")


def endpoint_class(path: str) -> str:
    """What a request is, for the log's tags: token, ari or reservations."""
    if path.startswith("/token-based-authentication/"):
        return "token"
    if path.endswith(("OTA_HotelResNotif", "OTA_HotelResModifyNotif")):
        return "reservations"
    return "ari"


def _refusal(status: int) -> Response:
    return Response(REASONS[status], status_code=status)


def _tags(scope: Scope, _: bytes) -> dict[str, Any]:
    return {"endpoint": endpoint_class(str(scope["path"]))}


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A fresh simulator with its own state; nothing is shared between apps."""
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    pump = Pump(state)
    # The pump runs the timed events (the e-mail fallback sweep).
    lifespan = pump_lifespan(pump, config.pump_interval_seconds)
    app = FastAPI(title="Booking.com Connectivity API simulator (OTA XML)", lifespan=lifespan)
    app.state.simulator = state
    app.state.pump = pump
    for router in (api.router, control.router, control.shared_router):
        app.include_router(router)
    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith(API_PREFIXES),
        refusal=_refusal,
        tags=_tags,
    )
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    """Serve the simulator under uvicorn until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)
