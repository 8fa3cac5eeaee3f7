"""``innsync worker --metrics-port`` serves the worker's own metrics, with the database gauges
its loops refresh."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from innsync.crypto import generate_key
from tests.servers import free_port

INNSYNC = (sys.executable, "-c", "from innsync.cli.main import cli; cli()")
# Imports, migrations and the first gauge pass of a fresh process; polled, never slept through.
START_SECONDS = 60
# A scrape may land in the middle of a gauge pass, which sets one gauge after another: the test
# waits until every gauge it checks has been set once.
GAUGES = (
    'innsync_inbox_items{status="pending"}',
    'innsync_alerts_open{rule="channel_down"}',
    "innsync_sync_dirty_marks",
)


def test_a_worker_serves_its_metrics_with_the_database_gauges(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INNSYNC_")},
        "INNSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'innsync.sqlite3'}",
        "INNSYNC_SECRET_KEYS": generate_key(),
        "INNSYNC_BACKUP_SCHEDULE_MINUTES": "0",
    }
    subprocess.run([*INNSYNC, "migrate", "--quiet"], env=env, check=True)
    port = free_port()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [*INNSYNC, "worker", "--metrics-port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        text = ""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and not all(gauge in text for gauge in GAUGES):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert 'innsync_inbox_items{status="pending"} 0.0' in text
    assert 'innsync_alerts_open{rule="channel_down"} 0.0' in text
    assert "innsync_sync_dirty_marks 0.0" in text
