"""``innsync demo --channel beds24``, shortened: innsync and the Beds24 simulator as real
processes on loopback, a few seconds of traffic, then the demo's own check must pass."""

from __future__ import annotations

from pathlib import Path

from innsync.demo.beds24_check import CHECKED_DAYS, SIM_ROOMS, Beds24Report
from innsync.demo.runner import DemoOptions, run_demo
from tests.servers import free_port


def test_a_short_beds24_demo_ends_with_both_sides_agreeing(tmp_path: Path) -> None:
    lines: list[str] = []
    options = DemoOptions(
        port=free_port(),
        sim_port=free_port(),
        # About 18 events in 6 s: every kind of event, without a long wait.
        minutes=0.1,
        seed=5,
        data_dir=tmp_path / "demo",
        rate=3.0,
        settle_seconds=120.0,
        channel="beds24",
    )

    report = run_demo(options, lines.append)

    assert isinstance(report, Beds24Report)
    assert report.passed, "\n".join(lines)
    assert report.settled
    assert report.ari_mismatches == []
    # Availability and price of each room on every checked day.
    assert report.values_compared == 2 * len(SIM_ROOMS) * CHECKED_DAYS
    assert report.booking_problems == []
    assert report.tally.made["OTA bookings"] > 0, "\n".join(lines)
    assert report.tally.made["direct bookings"] > 0, "\n".join(lines)
    assert report.ota_bookings == report.tally.made["OTA bookings"]
    assert report.direct_bookings == report.tally.made["direct bookings"]
    assert "VERIFICATION PASSED" in lines
    written = (tmp_path / "demo" / "verification.txt").read_text()
    assert written.rstrip().endswith("VERIFICATION PASSED")
