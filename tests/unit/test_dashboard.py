"""The Grafana dashboard in docs/ only uses metrics innsync exports, so it cannot rot unseen."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana" / "innsync-dashboard.json"
METRIC_NAME = re.compile(r"\binnsync_[a-z0-9_]+")
# The series each metric type exports beside (or instead of) its family name.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def exported_series() -> set[str]:
    """Every series name innsync's metrics can export, whether or not they have samples yet."""
    # The app and the loops import every module that defines a metric.
    for module in ("innsync.api.app", "innsync.loops"):
        importlib.import_module(module)
    names = set()
    for family in REGISTRY.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    exported = exported_series()
    used = {name for expr in dashboard_expressions() for name in METRIC_NAME.findall(expr)}
    assert used, "the dashboard queries no innsync metric"
    assert sorted(used - exported) == []


def test_the_check_would_catch_a_renamed_metric() -> None:
    exported = exported_series()
    assert "innsync_sync_pushes_total" in exported
    assert "innsync_sync_pushes_renamed_total" not in exported


def test_the_panels_the_operations_docs_promise_are_there() -> None:
    used = {name for expr in dashboard_expressions() for name in METRIC_NAME.findall(expr)}
    for wanted in (
        "innsync_sync_pushes_total",
        "innsync_inbox_pulls_total",
        "innsync_sync_change_to_ack_seconds_bucket",
        "innsync_sync_dirty_marks",
        "innsync_inbox_items",
        "innsync_inbox_unacknowledged",
        "innsync_bookings_received_total",
        "innsync_overbookings_total",
        "innsync_conflicts_total",
        "innsync_alerts_open",
        "innsync_webhook_deliveries_total",
        "innsync_http_requests_total",
    ):
        assert wanted in used, wanted
