"""Small statistics for benchmark figures: percentiles and the best a rate limit allows."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ideal_sender_latencies(
    change_times: Sequence[float],
    *,
    limit: int,
    window_seconds: float,
    burst: int | None = None,
    earlier_sends: Sequence[float] = (),
) -> list[float]:
    """Latency of each change under an ideal sender and a sliding-window limit.

    The ideal sender has no processing time: when a change arrives and it may send, it sends at
    once; otherwise it sends at the first moment it may, carrying every change that arrived by
    then in that one request. Without a ``burst`` it may send whenever the window has room (it
    spends the window at once); with one, also only when a token bucket of ``burst`` tokens,
    refilled at ``(limit - burst) / window``, holds a token (it spreads a steady stream); a
    burst of 0 sends evenly, one request every ``window / limit`` at most.
    ``earlier_sends`` are requests already in the window before the first change (they count
    against it, as they do for the real sender).
    """
    rate = (limit - burst) / window_seconds if burst is not None else 0.0
    capacity = max(burst or 0, 1)
    tokens, tokens_at = float(capacity), None
    sends: list[float] = []

    def send(at: float) -> None:
        nonlocal tokens, tokens_at
        if burst is not None:
            tokens = _refilled(tokens, tokens_at, at, rate, capacity) - 1
            tokens_at = at
        sends.append(at)

    for earlier in sorted(earlier_sends):
        send(earlier)
    times = sorted(change_times)
    latencies: list[float] = []
    index = 0
    while index < len(times):
        arrived = times[index]
        send_at = max(arrived, sends[-1] if sends else arrived)
        recent = [sent for sent in sends if sent > send_at - window_seconds]
        if len(recent) >= limit:
            # A call exactly one window old no longer counts (the simulator's sliding window).
            send_at = recent[-limit] + window_seconds
        if burst is not None:
            short = 1 - _refilled(tokens, tokens_at, send_at, rate, capacity)
            if short > 1e-9:
                send_at += short / rate
        while index < len(times) and times[index] <= send_at:
            latencies.append(send_at - times[index])
            index += 1
        send(send_at)
    return latencies


def _refilled(tokens: float, at: float | None, now: float, rate: float, capacity: int) -> float:
    return float(capacity) if at is None else min(float(capacity), tokens + (now - at) * rate)


def best_allowed_latencies(
    change_times: Sequence[float],
    *,
    limit: int,
    window_seconds: float,
    earlier_sends: Sequence[float] = (),
) -> list[float]:
    """The latencies of the ideal sender with the lowest 95th percentile for these changes,
    among the one spending the window at once, the one sending evenly and those spreading it
    with every burst from 1 to half the limit: no one sender is best for every stream (a burst
    serves a few changes in a row, an even pace a steady stream), so the best is chosen per
    stream, knowing it."""
    candidates = [
        ideal_sender_latencies(
            change_times,
            limit=limit,
            window_seconds=window_seconds,
            burst=burst,
            earlier_sends=earlier_sends,
        )
        for burst in (None, *range(limit // 2 + 1))
    ]
    return min(candidates, key=lambda latencies: percentile(latencies, 0.95))
