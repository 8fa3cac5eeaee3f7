"""Start-up settings of the iCal simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from innsync.simulators.kit.faults import FaultSettings


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=20.0)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    seed: int = 1
    clock: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)
    request_log_size: int = 1_000
    logged_body_bytes: int = 64_000
    max_body_bytes: int = 64_000
    """The largest request body a feed takes; a larger one is refused with 413."""
    http: Callable[[], httpx.AsyncClient] = _client
    """Builds the client the simulated platform polls innsync's exports with."""
    slow_seconds: float = 30.0
    """How long the ``slow`` feed fault waits before answering."""
    huge_bytes: int = 20_000_000
    """The size of the ``huge`` feed fault's body."""
    pump_interval_seconds: float | None = None
    """When set, the server polls every import URL this often (like a platform would)."""
