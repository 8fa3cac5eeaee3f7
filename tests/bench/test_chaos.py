"""chaos --quick through the CLI (slow: about two minutes): workers SIGKILLed, 5xx, 429s and
time-outs, duplicated and reordered webhooks, and a restart of the PostgreSQL server. After
converging nothing is lost, duplicated or over the limit, and every channel shows innsync's ARI.

It restarts the local PostgreSQL cluster (``pg_ctlcluster``): run it only where that is
allowed, and alone — ``make slow`` runs the slow tests in one process, so no other test uses
PostgreSQL meanwhile. The run waits until the server is back before it checks anything or
drops its database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.test_booking_storm_quick import run_scenario


@pytest.mark.slow
def test_chaos_quick_loses_nothing_duplicates_nothing_and_keeps_the_limit(
    tmp_path: Path,
) -> None:
    exit_code, data, output = run_scenario("chaos", tmp_path)
    assert data["failed_checks"] == [], output
    assert exit_code == 0, output
    assert data["converged"] is True
    bookings = data["bookings"]
    assert bookings["generated"] == data["activity"]["booked"] > 0
    assert bookings["stored_once"] == bookings["generated"]
    assert bookings["lost"] == []
    assert bookings["duplicated"] == []
    assert bookings["wrong_state"] == []
    assert bookings["unacked_revisions"] == 0
    assert set(data["ari_mismatches"].values()) == {0}
    assert data["rate_limit_violations"] == 0
    assert data["limit_429s"] == 0
    # The faults really happened.
    assert data["activity"]["worker_kills"] > 0
    assert data["webhooks"]["duplicates"] > 0
    assert data["activity"]["postgres_restart"] in ("restart", "stop + start")
    # The convergence timeline ends with nothing open, and says when each kind cleared.
    timeline = data["converge_timeline"]
    assert timeline, output
    last = {measure: left for measure, left in timeline[-1].items() if measure != "seconds"}
    assert [measure for measure, left in last.items() if left] == [], last
    cleared = data["converge_cleared_at"]
    assert {"inbox_pending", "acks_pending", "dirty_marks", "ari_dates_differing"} <= set(cleared)
    assert max(cleared.values()) <= data["converge_seconds"]
