"""The `/_sim/` control plane every simulator mounts: faults, tick, requests, reset.

A simulator implements :class:`Simulated` on its state and mounts :func:`control_router`; its
own router adds the generators and inspections only it has (``/_sim/bookings``,
``/_sim/bookings/generate``, ``/_sim/ari``…), under the same prefix. The shared routes:

- ``GET /_sim/faults`` / ``POST /_sim/faults`` (merge settings; ``seed`` restarts the fault
  sequences) / ``DELETE /_sim/faults`` (back to the start-up settings and seed);
- ``POST /_sim/tick``: run the simulator's pump once (due webhooks, timed events);
- ``GET /_sim/requests``: the request log; ``?bodies=1`` adds query, headers and body, masked;
- ``POST /_sim/reset``: forget everything, restart the seeded sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import ValidationError

from innsync.simulators.kit.faults import FaultInjector, FaultSettings
from innsync.simulators.kit.requests import RequestLog

PREFIX = "/_sim"


class Simulated(Protocol):
    """What a simulator's state offers the shared control plane."""

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def requests(self) -> RequestLog: ...

    @property
    def start_faults(self) -> FaultSettings:
        """The fault settings the simulator was started with."""
        ...

    @property
    def start_seed(self) -> int: ...

    def reseed_faults(self, seed: int) -> None: ...

    def reset(self) -> None: ...

    async def tick(self) -> dict[str, int]:
        """Run whatever is due once (webhook retries, timed events); counts of what was done."""
        ...


class StartSettings(Protocol):
    """The part of a simulator's config the control plane restores on ``DELETE /_sim/faults``."""

    @property
    def faults(self) -> FaultSettings: ...

    @property
    def seed(self) -> int: ...


class SimulatorParts(Protocol):
    """A simulator's state, as the simulators built on the kit keep it."""

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def requests(self) -> RequestLog: ...

    @property
    def config(self) -> StartSettings: ...

    def reseed_faults(self, seed: int) -> None: ...

    def reset(self) -> None: ...


class Pump(Protocol):
    """What delivers a simulator's due webhooks and timed events."""

    async def tick(self) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class StateAndPump:
    """A simulator made of a state and a pump, as :class:`Simulated` (Channex, Aiosell)."""

    state: SimulatorParts
    pump: Pump

    @property
    def faults(self) -> FaultInjector:
        return self.state.faults

    @property
    def requests(self) -> RequestLog:
        return self.state.requests

    @property
    def start_faults(self) -> FaultSettings:
        return self.state.config.faults

    @property
    def start_seed(self) -> int:
        return self.state.config.seed

    def reseed_faults(self, seed: int) -> None:
        self.state.reseed_faults(seed)

    def reset(self) -> None:
        self.state.reset()

    async def tick(self) -> dict[str, int]:
        return await self.pump.tick()


InvalidInput = Callable[[dict[str, list[str]]], Exception]
"""Builds the simulator's own validation error (its vendor's 422 envelope) from field reasons."""


class SimInputError(HTTPException):
    """A ``/_sim/`` request the simulator cannot act on (422, with the fields at fault)."""


def invalid_sim_input(details: dict[str, list[str]]) -> Exception:
    """The plain 422 of a ``/_sim/`` route, for simulators with no vendor envelope to mimic."""
    return SimInputError(status_code=422, detail=details)


def control_router(simulated: Callable[[Request], Simulated], invalid: InvalidInput) -> APIRouter:
    """The shared `/_sim/` routes over the simulator ``simulated(request)`` returns."""
    router = APIRouter(prefix=PREFIX)

    def faults_shown(sim: Simulated) -> dict[str, Any]:
        return {"seed": sim.faults.seed, **sim.faults.settings.model_dump()}

    @router.get("/faults")
    async def get_faults(request: Request) -> dict[str, Any]:
        return faults_shown(simulated(request))

    @router.post("/faults")
    async def set_faults(
        request: Request, changes: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """Merge fault settings; a `seed` restarts the fault sequences from it."""
        sim = simulated(request)
        seed = changes.pop("seed", None)
        try:
            settings = FaultSettings.model_validate({**sim.faults.settings.model_dump(), **changes})
        except ValidationError as exc:
            details: dict[str, list[str]] = {}
            for error in exc.errors():
                where = ".".join(map(str, error["loc"])) or "faults"
                details.setdefault(where, []).append(error["msg"])
            raise invalid(details) from exc
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise invalid({"seed": ["is invalid"]})
        sim.faults.settings = settings
        if seed is not None:
            sim.reseed_faults(seed)
        return faults_shown(sim)

    @router.delete("/faults")
    async def clear_faults(request: Request) -> dict[str, Any]:
        """Back to the start-up fault settings and seed."""
        sim = simulated(request)
        sim.faults.settings = sim.start_faults
        sim.reseed_faults(sim.start_seed)
        return faults_shown(sim)

    @router.post("/tick")
    async def tick(request: Request) -> dict[str, int]:
        """Run the pump once: whatever is due (webhook deliveries and retries, timed events)."""
        return await simulated(request).tick()

    @router.get("/requests")
    async def inspect_requests(
        request: Request, bodies: Annotated[bool, Query()] = False
    ) -> dict[str, Any]:
        """Every API request received, oldest first; ``bodies=1`` shows what was sent, masked."""
        return {"data": simulated(request).requests.rows(with_bodies=bodies)}

    @router.post("/reset")
    async def reset(request: Request) -> dict[str, str]:
        """Forget every entity, push, booking, webhook and log entry; restart the sequences."""
        simulated(request).reset()
        return {"message": "Success"}

    return router
