"""What every simulator runs on: its injected clock and sleep, and its background pump.

``Clock`` and ``Sleep`` are the start-up config's time collaborators (tests pass their own);
``pump_lifespan`` is the FastAPI lifespan that runs a pump's ``tick`` every so often under
uvicorn, or never (``None``: a test ticks through ``POST /_sim/tick``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from innsync.simulators.kit.control import Pump

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


async def _run(pump: Pump, interval_seconds: float) -> None:
    while True:
        await pump.tick()
        # Real time on purpose: the injected clock decides what is due, this only paces checks.
        await asyncio.sleep(interval_seconds)


def pump_lifespan(
    pump: Pump, interval_seconds: float | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan ticking ``pump`` every ``interval_seconds`` while the app serves."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = (
            None if interval_seconds is None else asyncio.create_task(_run(pump, interval_seconds))
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan
