"""A simulator app's lifespan that runs its pump (timed events) in the background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from innsync.simulators.kit.control import Pump


async def run_pump(pump: Pump, interval_seconds: float) -> None:
    """Run the pump until cancelled."""
    while True:
        await pump.tick()
        # Real time on purpose: the injected clock decides what is due, this only paces checks.
        await asyncio.sleep(interval_seconds)


def pump_lifespan(
    pump: Pump, interval_seconds: float | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan running ``pump`` every ``interval_seconds`` (None: tick only)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = None
        if interval_seconds is not None:
            task = asyncio.create_task(run_pump(pump, interval_seconds))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan
