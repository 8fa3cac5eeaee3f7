"""Draw innsync's Grafana dashboard from a real run, without Grafana.

Reads ``innsync-dashboard.json`` beside this file, runs each panel's own PromQL expressions over
a time window against a Prometheus server's HTTP API (``/api/v1/query_range``) and draws the
panels in the dashboard's grid layout with matplotlib. The picture in docs/operations.md was
made this way from the documented demo run.

    .venv/bin/python docs/grafana/render.py --prometheus http://127.0.0.1:9090 \\
        --start 2026-12-03T13:02:50Z --end 2026-12-03T13:15:00Z --out docs/grafana/dashboard.png
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import matplotlib

matplotlib.use("Agg")  # files only: no display on a server

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

DASHBOARD = Path(__file__).with_name("innsync-dashboard.json")
GRID_COLUMNS = 24  # Grafana's grid width
# Inches per grid column and per grid row (a Grafana row is 30 px, a column ~1/24 of 1900 px).
COLUMN_INCHES, ROW_INCHES = 0.85, 0.5
# Space for the figure's title line, each panel's title (above) and tick labels (below), and
# the y tick labels and gap between panels side by side (fractions of the width).
TITLE_INCHES, PAD_ABOVE, PAD_BELOW = 0.6, 0.35, 0.35
PAD_LEFT, PAD_RIGHT = 0.028, 0.008
_LEGEND_FIELD = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def query_range(
    prometheus: str, expr: str, start: datetime, end: datetime, step: float
) -> list[dict[str, Any]]:
    """The series Prometheus answers for ``expr`` over the window."""
    answer = httpx.get(
        f"{prometheus}/api/v1/query_range",
        params={
            "query": expr,
            "start": start.timestamp(),
            "end": end.timestamp(),
            "step": step,
        },
        timeout=60,
    )
    answer.raise_for_status()
    body = answer.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {expr!r}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's ``{{label}}`` legend format."""
    return _LEGEND_FIELD.sub(lambda m: labels.get(m.group(1), ""), template).strip()


def render(
    dashboard: dict[str, Any],
    prometheus: str,
    start: datetime,
    end: datetime,
    step: float,
    out: Path,
) -> None:
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    # One title line above the grid; each panel keeps room for its title and tick labels.
    height = rows * ROW_INCHES + TITLE_INCHES
    figure = plt.figure(figsize=(GRID_COLUMNS * COLUMN_INCHES, height))
    row_fraction = (1 - TITLE_INCHES / height) / rows
    for panel in panels:
        pos = panel["gridPos"]
        top = 1 - TITLE_INCHES / height - pos["y"] * row_fraction
        axes = figure.add_axes(
            (
                pos["x"] / GRID_COLUMNS + PAD_LEFT,
                top - pos["h"] * row_fraction + PAD_BELOW / height,
                pos["w"] / GRID_COLUMNS - PAD_LEFT - PAD_RIGHT,
                pos["h"] * row_fraction - (PAD_ABOVE + PAD_BELOW) / height,
            )
        )
        stacked = (
            panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {}).get("stacking", {})
        ).get("mode") == "normal"
        labels, series_values = [], []
        for target in panel["targets"]:
            for series in query_range(prometheus, target["expr"], start, end, step):
                labels.append(legend(target["legendFormat"], series["metric"]))
                series_values.append({float(t): float(v) for t, v in series["values"]})
        drawn = len(series_values)
        if stacked and drawn:
            # Grafana's "stacking: normal": each series on top of the ones before it.
            stamps = sorted({stamp for values in series_values for stamp in values})
            axes.stackplot(
                [_num(datetime.fromtimestamp(stamp, UTC)) for stamp in stamps],
                [[values.get(stamp, 0.0) for stamp in stamps] for values in series_values],
                labels=labels,
                alpha=0.7,
            )
        else:
            for label, values in zip(labels, series_values, strict=True):
                times = [_num(datetime.fromtimestamp(stamp, UTC)) for stamp in values]
                axes.plot(times, list(values.values()), linewidth=1.3, label=label)
        axes.set_title(panel["title"], fontsize=10, loc="left")
        axes.set_xlim(_num(start), _num(end))
        # Whole minutes, about six labels a panel, so every label names its own tick.
        span_minutes = max(int((end - start).total_seconds() // 60), 1)
        axes.xaxis.set_major_locator(
            mdates.MinuteLocator(interval=max(span_minutes // 6, 1))  # type: ignore[no-untyped-call]
        )
        axes.xaxis.set_major_formatter(
            mdates.DateFormatter("%H:%M", tz=UTC)  # type: ignore[no-untyped-call]
        )
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        axes.set_ylim(bottom=0)
        if drawn:
            axes.legend(fontsize=6, loc="upper left", ncols=2, frameon=False)
        else:
            axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    figure.suptitle(
        f"{dashboard['title']} — {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC, drawn by "
        "docs/grafana/render.py from the dashboard's own queries (not by Grafana)",
        fontsize=11,
        y=1 - 0.2 / height,
    )
    figure.savefig(out, dpi=90)


def _num(moment: datetime) -> float:
    """matplotlib's date number (the axes are dated by the formatter)."""
    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give a time with its offset (…Z)")
    return moment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--start", type=_instant, required=True)
    parser.add_argument("--end", type=_instant, required=True)
    parser.add_argument("--step", type=float, default=10.0, help="seconds between points")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--out", type=Path, default=DASHBOARD.with_name("dashboard.png"))
    args = parser.parse_args()
    dashboard = json.loads(args.dashboard.read_text())
    render(dashboard, args.prometheus, args.start, args.end, args.step, args.out)


if __name__ == "__main__":
    main()
