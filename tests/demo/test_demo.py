"""``innsync demo`` end to end, shortened: both servers as real processes on loopback, a few
seconds of traffic, then the demo's own check must pass with exact counts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from innsync.cli.main import cli
from innsync.demo.runner import DemoError, DemoOptions, run_demo
from tests.servers import free_port


def test_a_short_demo_ends_with_both_sides_agreeing(tmp_path: Path) -> None:
    lines: list[str] = []
    # About 6 events in 12 s, with the initial full sync, stay within Channex's 10 + 10 calls a
    # minute, so innsync need not wait out the window before the check (16 events in 15 s
    # did not: the check then waited ~45 s for the next minute); a double sale every 3 events.
    options = DemoOptions(
        port=free_port(),
        sim_port=free_port(),
        minutes=0.2,
        seed=3,
        data_dir=tmp_path / "demo",
        rate=0.5,
        summary_seconds=2.0,
        overbook_every=3,
        settle_seconds=90.0,
    )

    report = run_demo(options, lines.append)

    assert report.passed, "\n".join(lines)
    assert report.settled
    assert report.ari.mismatches == []
    # Three room types and six plans over a 365-day horizon, from today on.
    assert report.ari.values_compared > 3 * 300
    bookings = report.bookings
    assert bookings.generated > 0
    assert bookings.stored_once == bookings.generated
    assert (bookings.missing, bookings.duplicated, bookings.behind, bookings.unknown) == (
        [],
        [],
        [],
        [],
    )
    assert bookings.unacked == []
    assert bookings.overbookings_expected >= 1
    assert bookings.overbookings_not_flagged == []
    assert report.rate_limited == 0
    assert report.ari_calls > 0
    assert report.logs.error_lines == 0
    assert report.refused_traffic == []
    assert any(line.startswith("[00:") for line in lines), "no live summary line"
    assert "VERIFICATION PASSED" in lines
    written = (tmp_path / "demo" / "verification.txt").read_text()
    assert written.rstrip().endswith("VERIFICATION PASSED")
    assert (tmp_path / "demo" / "innsync.log").stat().st_size > 0


def test_a_data_directory_that_holds_a_demo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "innsync.sqlite3").write_bytes(b"")
    with pytest.raises(DemoError, match="already holds a demo database"):
        run_demo(DemoOptions(data_dir=tmp_path, port=free_port(), sim_port=free_port()), print)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["innsync.sqlite3"]


def test_the_command_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            [
                "demo",
                "--port",
                str(port),
                "--sim-port",
                str(free_port()),
                "--data-dir",
                str(tmp_path),
            ],
        )
    assert result.exit_code == 1
    assert f"port {port} is in use" in result.output
    assert not (tmp_path / "innsync.sqlite3").exists()
