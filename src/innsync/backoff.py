"""The one backoff: exponential with a cap and jitter, never retrying before the other side's hint.

Used by the outbound worker (full jitter), the inbound passes (no jitter: one connection's own
retries) and PMS webhook deliveries (a quarter added at most).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    """Delays between retries: the ``ceiling`` ``min(cap, base * multiplier**attempt)``, spread
    to ``uniform(ceiling * (1 - jitter_below), ceiling * (1 + jitter_above))``.

    The default, full jitter (``uniform(0, ceiling)``), spreads the retries of many connections
    that failed together (a channel outage) instead of sending them back in lockstep. A
    retry-after hint from the other side is a floor.
    """

    base_seconds: float = 1.0
    # Ten minutes: long enough to ride out an outage, short enough that a recovered channel is
    # caught up within one horizon refresh.
    cap_seconds: float = 600.0
    multiplier: float = 2.0
    jitter_below: float = 1.0
    jitter_above: float = 0.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("backoff needs 0 < base_seconds <= cap_seconds")
        if self.multiplier <= 1:
            raise ValueError("backoff multiplier must be greater than 1")
        if not 0 <= self.jitter_below <= 1 or self.jitter_above < 0:
            raise ValueError("backoff jitter must be within [0, 1] below and >= 0 above")

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
        ceiling = self.ceiling(attempt)
        if self.jitter_below or self.jitter_above:
            low, high = ceiling * (1 - self.jitter_below), ceiling * (1 + self.jitter_above)
            ceiling = self.rng.uniform(low, high)
        if retry_after is None:
            return ceiling
        return max(ceiling, retry_after)

    def wait(self, attempt: int, retry_after: float | None = None) -> timedelta:
        """:meth:`delay` as a ``timedelta``."""
        return timedelta(seconds=self.delay(attempt, retry_after))
