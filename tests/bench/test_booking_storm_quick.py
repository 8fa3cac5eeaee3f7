"""booking_storm --quick through the CLI: four channels racing for the last rooms on
PostgreSQL; nothing lost or duplicated, and exactly the expected reservations flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from innsync.cli.main import cli
from innsync_bench import registry
from innsync_bench.channel_fleet import busiest_window
from innsync_bench.results import TABLE_END, TABLE_START
from tests.databases import postgres_server_or_skip

POSTGRES_SERVER = registry.DEFAULT_POSTGRES_SERVER


def run_scenario(name: str, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    """``innsync bench NAME --quick`` into ``tmp_path``: exit code, its JSON, the docs page."""
    postgres_server_or_skip(POSTGRES_SERVER)
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\n{TABLE_START}\n{TABLE_END}\n")
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            name,
            "--quick",
            "--results-dir",
            str(tmp_path / "results"),
            "--docs",
            str(docs),
            "--postgres",
            POSTGRES_SERVER,
        ],
        catch_exceptions=False,
    )
    written: dict[str, Any] = json.loads((tmp_path / "results" / f"{name}.json").read_text())
    assert written["is_quick"] is True
    assert f"### `{name}`" in docs.read_text()
    return result.exit_code, written["outcome"]["data"], result.output


# About 2.5 minutes, most of it innsync waiting out Channex's availability limit after the
# storm, as it should: slow, like the other scenarios' quick runs.
@pytest.mark.slow
def test_booking_storm_quick_loses_nothing_and_flags_exactly_the_races(tmp_path: Path) -> None:
    exit_code, data, output = run_scenario("booking_storm", tmp_path)
    assert exit_code == 0, output
    (figures,) = data["backends"]
    assert figures["backend"] == "postgresql"
    bookings = figures["bookings"]
    assert bookings["generated"] == figures["sold"]["booked"] > 0
    assert bookings["stored_once"] == bookings["generated"]
    assert bookings["lost"] == []
    assert bookings["duplicated"] == []
    assert bookings["wrong_state"] == []
    assert bookings["unacked_revisions"] == 0
    assert figures["overbooked_flagged"] == figures["overbooked_expected"]
    assert figures["ledger_mismatches"] == 0
    assert figures["rate_limit_violations"] == 0
    assert figures["limit_429s"] == 0
    assert set(figures["ari_mismatches"].values()) == {0}
    assert figures["revisions_applied"] >= bookings["generated"]


def test_the_busiest_window_is_half_open() -> None:
    assert busiest_window([]) == 0
    assert busiest_window([0.0, 59.9, 60.0, 119.9]) == 2
    assert busiest_window([float(n) for n in range(11)]) == 11


def test_chaos_is_registered_but_not_part_of_all() -> None:
    assert "booking_storm" in registry.names()
    assert "chaos" in registry.names()
    assert {"chaos"} == registry.NOT_IN_ALL
