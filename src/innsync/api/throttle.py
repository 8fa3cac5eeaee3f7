"""Budgets for failures (wrong API keys, rejected webhooks) per key, kept in the process.

Each server process keeps its own budgets: with N processes a client gets at most N times the
budget, which still turns thousands of guesses a minute into a handful. No shared store is
needed (innsync runs without Redis), and a restart forgets them, which only helps the client.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.requests import Request

# Keys tracked at most; the least recently failing are forgotten first, so a client rotating
# addresses cannot grow this without bound.
MAX_TRACKED_KEYS = 10_000


class FailureBudget:
    """At most ``limit`` failures per ``window`` seconds per key (a sliding window)."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_KEYS,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or ``None`` while it is within budget."""
        if self.limit <= 0:
            return None
        failures = self._failures.get(key)
        if failures is None or len(failures) < self.limit:
            return None
        wait = failures[0] + self.window - self._clock()
        return max(1, math.ceil(wait)) if wait > 0 else None

    def record(self, key: str) -> None:
        """Count one failure of ``key``."""
        if self.limit <= 0:
            return
        failures = self._failures.get(key)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.limit)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        failures.append(self._clock())


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy, what uvicorn's ``--forwarded-allow-ips`` makes it)."""
    return request.client.host if request.client else "unknown"
