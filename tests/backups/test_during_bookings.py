"""Backups taken while guests book: each restores to a state where the inventory ledger equals
the confirmed reservations, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from innsync.backups.cipher import BackupKey
from innsync.backups.service import create_backup, restore_backup, verify_backup
from innsync.backups.store import LocalStore
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.reservations.models import Reservation
from tests.api.helpers import new_tenant
from tests.backups.conftest import api, book, make_hotel, unlink_derived_plans
from tests.backups.test_roundtrip import ledger_matches_confirmed, table_sums
from tests.servers import serving

BOOKERS = 6
BACKUPS = 3


@pytest.mark.backends("sqlite", "postgresql", "mariadb")
@pytest.mark.parametrize("native", [False, True], ids=["portable", "native"])
def test_backups_during_a_booking_storm_restore_an_exact_ledger(
    native: bool,
    committed: Engine,
    secret_box: SecretBox,
    store: LocalStore,
    key: BackupKey,
    empty_database: Any,
) -> None:
    caller = new_tenant(session_factory(committed))
    stop = threading.Event()
    with (
        serving(api(committed, secret_box)) as base_url,
        httpx.Client(base_url=base_url, headers=caller.headers, timeout=60) as http,
    ):
        hotel = make_hotel(http, caller, units=1000)

        started = threading.Semaphore(0)

        def booker(worker: int) -> int:
            made = 0
            while not stop.is_set():
                response = book(http, hotel, worker * 1000 + made, nights=1 + made % 3)
                assert response.status_code == 201, response.text
                made += 1
                started.release()
            return made

        with ThreadPoolExecutor(max_workers=BOOKERS) as pool:
            running = [pool.submit(booker, worker) for worker in range(BOOKERS)]
            try:
                for _ in range(BOOKERS):  # the storm is on before the first backup starts
                    assert started.acquire(timeout=30)
                manifests = [
                    create_backup(committed, store, key, actor="test", native=native)
                    for _ in range(BACKUPS)
                ]
            finally:
                stop.set()
            booked = sum(future.result() for future in running)
    unlink_derived_plans(committed)

    with committed.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(Reservation))
    assert stored == booked
    assert booked > 0
    kind = "mariadb" if committed.dialect.name == "mysql" else committed.dialect.name
    for manifest in manifests:
        # A native dump (where the tools are) restores into its own kind, and is verified
        # there: the manifest's checksums were read in the very snapshot the tool dumped.
        if manifest.is_native:
            verify_backup(committed, store, manifest.name, key, actor="test")
        target = empty_database(kind if manifest.is_native else "sqlite")
        restore_backup(target, store, manifest.name, key, actor="test")
        sums = table_sums(target)
        assert sums == {table.name: (table.rows, table.checksum) for table in manifest.tables}
        ledger, implied = ledger_matches_confirmed(target)
        assert ledger == implied
        assert BOOKERS <= sums["reservations"][0] <= booked
        target.dispose()
