"""Seeded, deterministic fault injection for a simulator's API and its webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Injected server errors are drawn from these statuses: what a load balancer or an overloaded
# API node answers; each simulator words them in its own error envelope.
SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultSettings(BaseModel):
    """What the simulator does wrong on purpose; all rates are probabilities per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    too_many_requests_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # 35 s is past both httpx's default (5 s) and the 30 s ceiling most clients configure.
    timeout_seconds: float = Field(default=35.0, ge=0.0)
    latency_seconds: float = Field(default=0.0, ge=0.0)
    latency_jitter_seconds: float = Field(default=0.0, ge=0.0)
    webhook_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    webhook_duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    webhook_reorder_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # A held-back delivery waits this long, so deliveries enqueued after it overtake it (§1.7).
    webhook_reorder_delay_seconds: float = Field(default=60.0, ge=0.0)

    @model_validator(mode="after")
    def _request_rates_fit(self) -> FaultSettings:
        total = self.server_error_rate + self.too_many_requests_rate + self.timeout_rate
        if total > 1.0:
            raise ValueError("server_error_rate + too_many_requests_rate + timeout_rate > 1")
        return self


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one API request before it reaches its handler."""

    delay_seconds: float
    error_status: int | None
    is_timeout: bool


class FaultInjector:
    """Draws fault decisions from a seeded generator, so a seed replays the same faults."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self._rng = Random(f"{seed}:faults")

    def reseed(self, seed: int) -> None:
        """Restart the fault sequence from ``seed``."""
        self.seed = seed
        self._rng = Random(f"{seed}:faults")

    def decide(self) -> FaultDecision:
        """The fault for the next API request."""
        # Always draw the same three numbers per request, whatever the settings, so the sequence
        # of decisions depends only on the seed and the number of requests.
        roll, jitter, pick = self._rng.random(), self._rng.random(), self._rng.random()
        s = self.settings
        delay = s.latency_seconds + jitter * s.latency_jitter_seconds
        if roll < s.server_error_rate:
            status = SERVER_ERROR_STATUSES[int(pick * len(SERVER_ERROR_STATUSES))]
            return FaultDecision(delay, status, is_timeout=False)
        if roll < s.server_error_rate + s.too_many_requests_rate:
            return FaultDecision(delay, 429, is_timeout=False)
        if roll < s.server_error_rate + s.too_many_requests_rate + s.timeout_rate:
            return FaultDecision(delay + s.timeout_seconds, None, is_timeout=True)
        return FaultDecision(delay, None, is_timeout=False)
