"""Exponential backoff with full jitter and a cap, never retrying before the channel's hint."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Delays between retries: ``uniform(0, min(cap, base * multiplier**attempt))``.

    Full jitter spreads the retries of many connections that failed together (a channel outage)
    instead of sending them back in lockstep. A retry-after hint from the channel is a floor.
    """

    base_seconds: float = 1.0
    # Ten minutes: long enough to ride out an outage, short enough that a recovered channel is
    # caught up within one horizon refresh.
    cap_seconds: float = 600.0
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("backoff needs 0 < base_seconds <= cap_seconds")
        if self.multiplier <= 1:
            raise ValueError("backoff multiplier must be greater than 1")

    def ceiling(self, attempt: int) -> float:
        """The largest delay the ``attempt``-th retry (0 for the first) can draw."""
        if attempt < 0:
            raise ValueError("attempt cannot be negative")
        # Compared in logarithms so that huge attempt counts do not overflow a float.
        if attempt * math.log(self.multiplier) >= math.log(self.cap_seconds / self.base_seconds):
            return self.cap_seconds
        return min(self.cap_seconds, self.base_seconds * self.multiplier**attempt)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the ``attempt``-th retry; never less than ``retry_after``."""
        jittered = self.rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is None:
            return jittered
        return max(jittered, retry_after)
