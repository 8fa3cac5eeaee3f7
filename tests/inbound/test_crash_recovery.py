"""A worker killed with SIGKILL between storing and processing, and between commit and
acknowledgement: after a restart every booking is applied once and acknowledged.

Real processes, real HTTP (Channex simulator ↔ innsync), real databases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from innsync.crypto import SecretBox, generate_key
from innsync.reservations.models import ReservationChange
from tests.channels.channex_live import LiveChannex, live_channex

REPO = Path(__file__).resolve().parents[2]
# Well past the processor's lease (15 s) and the acknowledgement lease (30 s) a killed worker left.
AFTER_LEASES = 300

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def run_worker(engine: Engine, key: str, crash_at: str, offset: float) -> int:
    url = engine.url.render_as_string(hide_password=False)
    finished = subprocess.run(
        [sys.executable, "-m", "tests.inbound.crash_worker", url, key, crash_at, str(offset)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO / "src"), str(REPO)))},
        capture_output=True,
        timeout=120,
        check=False,
    )
    if finished.returncode not in (0, -9):
        raise AssertionError(finished.stderr.decode()[-2000:])
    return finished.returncode


def created_per_booking(live: LiveChannex) -> Counter[str]:
    with live.sessions() as session:
        rows = session.execute(
            select(ReservationChange.reservation_id).where(ReservationChange.action == "created")
        ).all()
    by_id = {r.id: r.channel_booking_id for r in live.reservations()}
    return Counter(by_id[row.reservation_id] for row in rows if row.reservation_id in by_id)


def test_sigkill_between_store_and_apply_and_between_commit_and_ack(committed: Engine) -> None:
    key = generate_key()
    with live_channex(committed, SecretBox([key])) as live:
        bookings = [live.book(room=n % 2, offset=10 + n) for n in range(3)]
        assert [item.status for item in live.items()] == ["pending"] * 3  # stored, answered

        # Killed while applying the first item: its transaction never commits.
        assert run_worker(committed, key, "apply", 0) == -9
        assert live.reservations() == []
        assert [item.status for item in live.items()] == ["pending"] * 3

        # Restarted after the lease, killed again right after the first commit.
        assert run_worker(committed, key, "ack", AFTER_LEASES) == -9
        assert len(live.reservations()) == 1
        first = live.items()[0]
        assert (first.status, first.ack_status) == ("applied", "due")
        assert not any(r["acked_at"] for r in live.sim_revisions())

        # Restarted once more: everything is applied once and acknowledged.
        assert run_worker(committed, key, "none", 2 * AFTER_LEASES) == 0
        assert created_per_booking(live) == Counter(bookings)
        assert {(i.status, i.ack_status) for i in live.items()} == {("applied", "done")}
        revisions = live.sim_revisions()
        assert len(revisions) == 3
        assert all(r["acked_at"] for r in revisions)
