"""A channel outage on a schedule (``innsync demo --outage-at M --outage-minutes N``).

The simulator answers every API call with a server error for the outage (``server_error_rate``
1.0 through its fault controls; its ``/_sim`` control plane and the OTA side keep working), then
returns to its start-up settings. innsync's alert rules see the channel down and its pulls
failing, and see both clear once it answers again. So that a short outage shows the whole
lifecycle in a ten-minute run, the demo evaluates the rules every ``ALERT_INTERVAL_SECONDS`` and
calls a channel down after ``CHANNEL_DOWN_MINUTES`` (production: 60 s and 5 minutes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

# innsync's settings for a demo with an outage, passed to its ``serve`` (see the docstring).
ALERT_INTERVAL_SECONDS = 10
CHANNEL_DOWN_MINUTES = 1
ALERT_SETTINGS = {
    "INNSYNC_ALERT_INTERVAL_SECONDS": str(ALERT_INTERVAL_SECONDS),
    "INNSYNC_ALERT_CHANNEL_DOWN_MINUTES": str(CHANNEL_DOWN_MINUTES),
}


@dataclass(frozen=True, slots=True)
class Outage:
    """When the outage starts, in minutes after the traffic, and how long it lasts."""

    at_minutes: float
    minutes: float


async def run_outage(
    outage: Outage,
    sim: httpx.AsyncClient,
    stop: asyncio.Event,
    echo: Callable[[str], None],
    down: Callable[[bool], None],
) -> None:
    """Break the channel at the outage's start, mend it at its end (or when the traffic stops
    first: the final check needs the channel answering); ``down`` is told both."""
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=outage.at_minutes * 60)
    if stop.is_set():
        return
    answer = await sim.post("/_sim/faults", json={"server_error_rate": 1.0})
    answer.raise_for_status()
    down(True)
    echo(f"channel outage: the simulator answers 5xx from {_now()} for {outage.minutes:g} min")
    try:
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=outage.minutes * 60)
    finally:
        (await sim.delete("/_sim/faults")).raise_for_status()
        down(False)
        echo(f"channel outage over at {_now()}")


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S UTC")
