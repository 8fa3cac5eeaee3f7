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


def best_allowed_latencies(
    change_times: Sequence[float],
    *,
    limit: int,
    window_seconds: float,
    earlier_sends: Sequence[float] = (),
) -> list[float]:
    """Latency of each change under an ideal sender and a sliding-window limit.

    The ideal sender has no processing time: when a change arrives and the window has room it
    sends at once; otherwise it sends at the moment the window next has room, carrying every
    change that arrived by then in that one request. ``earlier_sends`` are requests already in
    the window before the first change (they count against it, as they do for the real sender).
    """
    sends = sorted(earlier_sends)
    times = sorted(change_times)
    latencies: list[float] = []
    index = 0
    while index < len(times):
        arrived = times[index]
        recent = [sent for sent in sends if sent > arrived - window_seconds]
        # A call exactly one window old no longer counts (the simulator's sliding window).
        send_at = arrived if len(recent) < limit else recent[-limit] + window_seconds
        while index < len(times) and times[index] <= send_at:
            latencies.append(send_at - times[index])
            index += 1
        sends.append(send_at)
    return latencies
