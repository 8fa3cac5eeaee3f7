"""What the Aiosell simulator holds: pushed ARI per code and date, reservations, deliveries."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from innsync.simulators.aiosell.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

RoomDay = tuple[str, str, date]
"""(hotelCode, roomCode, stay date)."""
RateDay = tuple[str, str, str, date]
"""(hotelCode, roomCode, rateplanCode, stay date)."""


@dataclass(slots=True)
class Attempt:
    """One POST of a delivery to the PMS URL."""

    at: datetime
    status_code: int | None
    error: str | None
    is_duplicate: bool = False


@dataclass(slots=True)
class Delivery:
    """One reservation event on its way to the PMS URL (§1.10)."""

    sequence: int
    booking_id: str
    action: str
    body: dict[str, Any]
    next_attempt_at: datetime | None
    status: str = "pending"
    """pending, delivered, failed (refused and not retried) or exhausted (retries used up)."""
    attempts: list[Attempt] = field(default_factory=list)


class SimulatorState:
    """Everything the simulator knows; `reset()` forgets it and restarts the seeded sequences."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, config.seed)
        self.requests = RequestLog(config.request_log_size, config.logged_body_bytes)
        self.reset()

    def reset(self) -> None:
        self.inventory: dict[RoomDay, int] = {}
        self.room_restrictions: dict[RoomDay, dict[str, Any]] = {}
        self.rates: dict[RateDay, float] = {}
        self.rate_restrictions: dict[RateDay, dict[str, Any]] = {}
        # bookingId -> the latest full reservation (§1.10 shape), generated or pushed to us.
        self.reservations: dict[str, dict[str, Any]] = {}
        # The bookingIds this simulator made up: only these are modified, cancelled or resent
        # by the generator (a pushed reservation may lack the fields it rebuilds).
        self.generated: set[str] = set()
        self.deliveries: list[Delivery] = []
        self.update_times: deque[datetime] = deque()
        self.rng = Random(f"{self.config.seed}:bookings")
        self.delivery_rng = Random(f"{self.config.seed}:deliveries")
        self._sequence = 0
        self.faults.settings = self.config.faults
        self.faults.reseed(self.config.seed)
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)
        self.delivery_rng = Random(f"{seed}:deliveries")

    def now(self) -> datetime:
        return self.config.clock()

    def is_over_update_limit(self) -> bool:
        """Count one update call; whether it is past `updates_per_second` in a rolling second."""
        limit = self.config.updates_per_second
        if limit is None:
            return False
        now = self.now()
        while self.update_times and self.update_times[0] <= now - timedelta(seconds=1):
            self.update_times.popleft()
        if len(self.update_times) >= limit:
            return True
        self.update_times.append(now)
        return False

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def masker(self) -> Masker:
        """Masks the partner password and the PMS webhook password wherever they appear."""
        secrets = {self.config.password}
        if self.config.webhook_password:
            secrets.add(self.config.webhook_password)
        return Masker(frozenset(secrets))
