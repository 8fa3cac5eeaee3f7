"""Prometheus metrics of the outbound engine."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("innsync_sync_requests_total", "Requests sent to channels", ["channel", "kind"])
ERRORS = Counter(
    "innsync_sync_errors_total",
    "Channel requests that failed, by error class",
    ["channel", "error"],
)
ENTRIES = Counter(
    "innsync_sync_entries_total",
    "ARI entries sent, by the channel's answer",
    ["channel", "outcome"],
)
PUSHES = Counter(
    "innsync_sync_pushes_total",
    "Pushes to channels, one per request kind sent (availability, rates, booking), by outcome",
    ["channel", "kind", "outcome"],
)
BACKLOG = Gauge("innsync_sync_dirty_marks", "Dirty marks waiting to be synced")
OLDEST_MARK_AGE = Gauge("innsync_sync_oldest_mark_seconds", "Age of the oldest dirty mark")
BREAKERS_OPEN = Gauge("innsync_sync_breakers_open", "Connections whose circuit breaker is open")
LATENCY = Histogram(
    "innsync_sync_change_to_ack_seconds",
    "From a change being marked to the channel accepting it",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
