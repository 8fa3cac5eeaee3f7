"""What the Aiosell simulator holds: pushed ARI per code and date, reservations, deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
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
        self.deliveries: list[Delivery] = []
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

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def masker(self) -> Masker:
        """Masks the partner password and the PMS webhook password wherever they appear."""
        secrets = {self.config.password}
        if self.config.webhook_password:
            secrets.add(self.config.webhook_password)
        return Masker(frozenset(secrets))
