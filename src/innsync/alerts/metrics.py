"""Prometheus metrics of the alert rules; set from the database by ``innsync.gauges``."""

from __future__ import annotations

from prometheus_client import Gauge

OPEN = Gauge("innsync_alerts_open", "Alerts open now, across tenants, by rule", ["rule"])
