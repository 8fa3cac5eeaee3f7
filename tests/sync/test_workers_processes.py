"""Three worker processes on PostgreSQL, one killed with SIGKILL mid-run: every connection
converges, no channel limit is exceeded, and no bucket is ever served by two workers at once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import Engine, func, select

from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.outbox.models import DirtyMark
from tests.servers import serving
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel
from tests.sync.remote_fake import LoggedRequest, RemoteFakeServer, connection_code

REPO = Path(__file__).resolve().parents[2]
WORKERS = 3
HOTELS = 6
LEASE_SECONDS = 2.0


def start_worker(
    database_url: str, base_url: str, name: str, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sync.worker_process",
            database_url,
            base_url,
            name,
            str(LEASE_SECONDS),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def served_at_once(log: list[LoggedRequest]) -> list[str]:
    """Buckets where a worker's run of requests overlaps another worker's in time."""
    overlaps = []
    by_bucket: dict[str, list[LoggedRequest]] = {}
    for entry in log:
        by_bucket.setdefault(entry.channel_code, []).append(entry)
    for code, entries in by_bucket.items():
        entries.sort(key=lambda entry: entry.received)
        runs: list[list[LoggedRequest]] = []
        for entry in entries:
            if runs and runs[-1][0].holder == entry.holder:
                runs[-1].append(entry)
            else:
                runs.append([entry])
        for before, after in itertools.pairwise(runs):
            if max(e.finished for e in before) > min(e.received for e in after):
                overlaps.append(code)
    return overlaps


@pytest.mark.backends("postgresql")
def test_three_workers_one_killed_converge_without_sharing_a_bucket(
    committed: Engine, secret_box: SecretBox, tmp_path: Path
) -> None:
    sessions = session_factory(committed)
    hotels: list[SyncedHotel] = [build_hotel(sessions, secret_box, Clock()) for _ in range(HOTELS)]
    server = RemoteFakeServer()
    url = committed.url.render_as_string(hide_password=False)
    with serving(server.app()) as base_url:
        logs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(WORKERS)]
        workers = [start_worker(url, base_url, f"worker-{n}", logs[n]) for n in range(WORKERS)]
        try:
            started = time.monotonic()
            killed = False
            change = 0
            while time.monotonic() - started < 6 or not killed:
                # A liveness guard, not a timing check: a worker process imports the whole app
                # before its first pass, which alone took over 13 s on a loaded 2-core machine.
                assert time.monotonic() - started < 120, "worker-0 never sent anything"
                hotel = hotels[change % HOTELS]
                hotel.ari(
                    {
                        "rate_plan_id": str(hotel.rate_plan_ids[change % 4]),
                        "date_from": hotel.day(change % 40),
                        "date_to": hotel.day(change % 40 + 3),
                        "price": str(Decimal(150 + change)),
                    }
                )
                change += 1
                if not killed and any(entry.holder == "worker-0" for entry in server.log):
                    workers[0].send_signal(signal.SIGKILL)
                    killed = True
                time.sleep(0.05)
            deadline = time.monotonic() + 90
            while True:
                with sessions() as session:
                    pending = session.scalar(select(func.count()).select_from(DirtyMark))
                if pending == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            errors = "".join(path.read_text()[-2000:] for path in tmp_path.glob("worker-*.log"))
            assert pending == 0, f"workers did not drain the dirty marks: {errors}"
        finally:
            for process, log in zip(workers, logs, strict=True):
                process.kill()
                process.wait(timeout=10)
                log.close()

    assert workers[0].returncode == -signal.SIGKILL
    holders = {entry.holder for entry in server.log}
    assert "worker-0" in holders, holders
    assert holders - {"worker-0"}, holders
    assert [entry for entry in server.log if entry.outcome == "limited"] == []
    assert served_at_once(server.log) == []
    for hotel in hotels:
        channel = server.channels[connection_code(hotel.connection_id)]
        availability, rates = hotel.desired()
        assert channel.availability_state() == availability
        assert channel.rates_state() == rates
    assert change > 50  # the changes really streamed in while workers ran
