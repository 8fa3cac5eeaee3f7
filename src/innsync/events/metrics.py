"""Prometheus metrics of the PMS-facing webhook deliveries."""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOK_DELIVERIES = Counter(
    "innsync_webhook_deliveries_total",
    "Attempts to deliver an event to a PMS webhook subscription, by outcome",
    ["outcome"],
)
