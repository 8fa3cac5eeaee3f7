"""A sliding-window request limiter that never lets more than N requests into any W seconds.

It is pure: the caller passes the time, and the state round-trips through plain JSON so the worker
holding a channel's rate-limit bucket can persist it beside the lease.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import NotRequired, TypedDict

from innsync.channels.types import ChannelLimits

# The margin a limiter counts its window longer than the channel's. A channel counts a request
# when it arrives, at most one round trip after its grant; so if the window is counted longer by
# the longest recent round trip, two arrivals are never closer than the channel's window even
# when the first was as slow as any and the second instant. The round trips are measured on the
# bucket's own calls, from the grant to the answer (saving the grant, the loop's delay, the
# RTT; ``sync.worker``'s gate grants once the transaction saving it has begun, so on SQLite
# a wait for the writer lock comes before the grant); a safety factor covers a round
# trip slower than any recent one, a floor the jitter of a scheduler, and the margin never
# exceeds a tenth of the window (at most a tenth of the throughput). Before anything is
# measured: one second, the flat margin this replaced.
MARGIN_SAFETY = 1.5
MARGIN_FLOOR_SECONDS = 0.05
MARGIN_MAX_FRACTION = 0.1
MARGIN_UNMEASURED_SECONDS = 1.0
# Round trips kept per bucket: enough for a stable maximum, small enough to save every request.
ROUND_TRIP_SAMPLES = 20
# The share of a window's requests a shaped limiter lets go at once (``burst_for``). A sender
# that spends the whole window at once makes everything after wait for the window to turn: a
# steady stream of changes at Channex's 10 per 60 s then waits 47-57 s at its 95th percentile.
# Spending a burst of 3 at once and the other 7 evenly keeps a steady stream at 8 s and lets
# a few changes in a row go at once (simulated in docs/sync.md, measured by `change_latency`).
BURST_SHARE = 0.3
# A rates budget of its own (Channex's restrictions) has no burst by default: an even pace, one
# request every window / limit (6 s at Channex's), keeps a steady stream of price changes (a
# revenue-management tool's) within 6 s where the burst's slower refill costs 8 s; a second
# change within those 6 s waits for the next request. Availability keeps its burst: bookings
# that come together are what overbooking is made of (``Settings.sync_rates_burst_share``).
RATES_BURST_SHARE = 0.0
# How late (in intervals of window / limit) an even pace's grant may come and still keep the
# pace's grid. A worker takes a token a little after it is whole (it was serving other buckets, or
# woke a few milliseconds late); were the next interval counted from that grant, every grant's
# lateness would push all later ones back, and a steady stream would drift behind the pace the
# limit allows. Within the slack the next token is due an interval after the last one's due time;
# later than that, the bucket was idle and a new grid starts at the grant.
PACE_SLACK_TOKENS = 0.5
# Token arithmetic in floats: a token this close to whole is whole.
_TOKEN_EPSILON = 1e-9


def burst_for(limit: int, share: float = BURST_SHARE) -> int | None:
    """The burst a shaped limiter of ``limit`` requests allows with ``share`` of them at once (0:
    an even pace), or None when the window is too small to shape (a burst must be at most half
    the limit: see ``SlidingWindowLimiter``)."""
    if limit < 2:
        return None
    return max(0, min(limit // 2, round(limit * share)))


def window_margin(window_seconds: float, round_trips: Iterable[float]) -> float:
    """Seconds to count ``window_seconds`` longer, from the bucket's recent round trips."""
    slowest = max(round_trips, default=None)
    margin = (
        MARGIN_UNMEASURED_SECONDS
        if slowest is None
        else max(MARGIN_FLOOR_SECONDS, MARGIN_SAFETY * slowest)
    )
    return min(margin, window_seconds * MARGIN_MAX_FRACTION)


class LimiterState(TypedDict):
    """The JSON form of a limiter."""

    limit: int
    window_seconds: float
    grants: list[float]
    latest: float | None
    # A shaped limiter's bucket: its tokens after the last grant, and when that was.
    tokens: NotRequired[float]
    tokens_at: NotRequired[float]


class SlidingWindowLimiter:
    """Grants a request at ``now`` only if fewer than ``limit`` were granted after ``now - window``.

    Windows are half-open, so a request exactly ``window_seconds`` after an earlier one does not
    compete with it. Time is taken as never going backwards: an attempt earlier than the latest
    time seen counts as made at that time, which keeps the guarantee when a wall clock steps back.

    With a ``burst``, grants are also shaped by a token bucket of that many tokens refilled at
    ``(limit - burst) / window``: a burst goes at once, a steady demand is spread evenly, and
    the window is never spent in one go. A burst of 0 is an even pace: a bucket of one token
    refilled at ``limit / window``, whose grid a grant a little late does not move
    (``PACE_SLACK_TOKENS``). Such a bucket grants at most ``limit`` in any window by
    itself (one more, at a burst of 0); the window is still counted, so the limit holds whatever
    the bucket says. The bucket's level is kept with the grants (``to_state``); a limiter
    without it starts full.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        grants: Iterable[float] = (),
        latest: float | None = None,
        burst: int | None = None,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("a limiter needs a positive limit and window")
        if burst is not None and not 0 <= burst <= limit // 2:
            raise ValueError(f"a burst must be 0 to half the limit ({limit}), not {burst}")
        self.limit = limit
        self.window_seconds = window_seconds
        self.burst = burst
        self._tokens: tuple[float, float] | None = None  # (tokens, at): None is a full bucket
        self._grants: deque[float] = deque(sorted(grants))
        if len(self._grants) > limit:
            raise ValueError(f"{len(self._grants)} grants recorded but the limit is {limit}")
        last_grant = self._grants[-1] if self._grants else None
        self._latest = max((t for t in (latest, last_grant) if t is not None), default=None)

    @classmethod
    def for_limits(cls, limits: ChannelLimits) -> SlidingWindowLimiter:
        return cls(limits.requests_per_window, limits.window_seconds)

    def try_acquire(self, now: float) -> bool:
        """Grant and record one request at ``now`` if the window (and the bucket) has room."""
        if self.wait_time(now) > 0:
            return False
        now = self._advance(now)
        if self.burst is not None:
            self._tokens = (self._level_at_grant(now) - 1, now)
        self._grants.append(now)
        return True

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until a request would be granted (0 when it would be now)."""
        seen = self._advance(now)
        ready = seen
        if len(self._grants) >= self.limit:
            # Only `limit` grants can be in the window, so the oldest must leave it first.
            ready = self._grants[0] + self.window_seconds
        # And the bucket must hold a token then (an even pace's may not, when the window turns).
        ready += self._bucket_wait(ready)
        return 0.0 if ready == seen else ready - now

    def _refill_rate(self, burst: int) -> float:
        return (self.limit - burst) / self.window_seconds

    def _level(self, now: float) -> float:
        """The bucket's tokens at ``now``."""
        if self.burst is None:
            return 0.0
        capacity = float(max(self.burst, 1))  # a burst of 0 still holds the next request's token
        accrued = self._accrued(now, self.burst)
        return capacity if accrued is None else min(capacity, accrued)

    def _accrued(self, now: float, burst: int) -> float | None:
        """The bucket's tokens at ``now`` were it never full (None: it was never spent)."""
        if self._tokens is None:
            return None
        tokens, at = self._tokens
        return tokens + (now - at) * self._refill_rate(burst)

    def _level_at_grant(self, now: float) -> float:
        """The tokens a grant at ``now`` takes its token from: an even pace's grant within the
        slack of its due time keeps what it accrued past the whole token (the grid holds)."""
        if self.burst == 0:
            accrued = self._accrued(now, 0)
            if accrued is not None and accrued <= 1 + PACE_SLACK_TOKENS:
                return accrued
        return self._level(now)

    def _bucket_wait(self, now: float) -> float:
        """Seconds until the token bucket holds a whole token (0 without a burst)."""
        if self.burst is None:
            return 0.0
        tokens = self._level(now)
        if tokens >= 1 - _TOKEN_EPSILON:
            return 0.0
        return (1 - tokens) / self._refill_rate(self.burst)

    def to_state(self) -> LimiterState:
        state: LimiterState = {
            "limit": self.limit,
            "window_seconds": self.window_seconds,
            "grants": list(self._grants),
            "latest": self._latest,
        }
        if self._tokens is not None:
            state["tokens"], state["tokens_at"] = self._tokens
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> SlidingWindowLimiter:
        """Rebuild a limiter from :meth:`to_state`'s output (as read back from JSON)."""
        limit = state["limit"]
        window = state["window_seconds"]
        grants = state["grants"]
        latest = state.get("latest")
        if not isinstance(limit, int) or not isinstance(window, int | float):
            raise ValueError("limiter state needs an integer limit and a numeric window")
        if not isinstance(grants, list) or not all(isinstance(t, int | float) for t in grants):
            raise ValueError("limiter state needs a list of grant times")
        if latest is not None and not isinstance(latest, int | float):
            raise ValueError("limiter state has a non-numeric latest time")
        limiter = cls(limit, float(window), (float(t) for t in grants), latest)
        tokens, tokens_at = state.get("tokens"), state.get("tokens_at")
        if isinstance(tokens, int | float) and isinstance(tokens_at, int | float):
            limiter._tokens = (float(tokens), float(tokens_at))
        return limiter

    def _advance(self, now: float) -> float:
        """Clamp ``now`` to the latest time seen and forget grants that left the window."""
        if self._latest is not None and now < self._latest:
            now = self._latest
        self._latest = now
        while self._grants and self._grants[0] <= now - self.window_seconds:
            self._grants.popleft()
        return now
