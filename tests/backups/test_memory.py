"""Backups stream: the memory a backup or a restore allocates does not grow with the table."""

from __future__ import annotations

import secrets
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from innsync.backups.cipher import BackupKey
from innsync.backups.service import create_backup, restore_backup
from innsync.backups.store import LocalStore
from innsync.db.engine import session_factory
from innsync.reservations.models import Guest
from tests.api.helpers import new_tenant

pytestmark = pytest.mark.backends("sqlite")


def add_guests(engine: Engine, tenant_id: str, count: int) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with engine.begin() as connection:
        for _ in range(0, count, 5000):
            connection.execute(
                insert(Guest),
                [
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": uuid.UUID(tenant_id),
                        "last_name": secrets.token_urlsafe(90),
                        "address": secrets.token_urlsafe(300),
                        "created_at": at,
                        "updated_at": at,
                    }
                    for _ in range(5000)
                ],
            )


def peak_mib(work: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_data(
    committed: Engine, store: LocalStore, key: BackupKey, empty_database: Any
) -> None:
    tenant = new_tenant(session_factory(committed))
    peaks = []
    for _ in range(2):
        # About 5 MiB more rows each round: 10 MiB, then 20 MiB of guests.
        add_guests(committed, tenant.tenant_id, 10_000)
        made = create_backup(committed, store, key, actor="test")
        backup_peak = peak_mib(lambda: create_backup(committed, store, key, actor="test"))
        target = empty_database("sqlite")
        restore_peak = peak_mib(
            lambda target=target, name=made.name: restore_backup(
                target, store, name, key, actor="test"
            )
        )
        peaks.append((made.data_bytes / 2**20, backup_peak, restore_peak))

    (small_size, small_backup, small_restore), (large_size, large_backup, large_restore) = peaks
    assert large_size > 1.8 * small_size
    # Twice the data, about the same memory: bounded by a batch of rows and a frame.
    assert large_backup < 1.3 * small_backup + 2, peaks
    assert large_restore < 1.3 * small_restore + 2, peaks
    assert large_backup < 64, peaks
