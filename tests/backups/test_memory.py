"""Backups stream: the memory a backup or a restore allocates does not grow with the table."""

from __future__ import annotations

import secrets
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, insert

from innsync.backups.cipher import BackupKey
from innsync.backups.service import create_backup, restore_backup
from innsync.backups.store import LocalStore
from innsync.db.engine import session_factory
from innsync.db.migrate import upgrade
from innsync.reservations.models import Guest
from tests.api.helpers import new_tenant

pytestmark = pytest.mark.backends("sqlite")

T = TypeVar("T")


def add_guests(engine: Engine, tenant_id: str, count: int) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with engine.begin() as connection:
        for _ in range(0, count, 3000):
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
                    for _ in range(3000)
                ],
            )


def traced(work: Callable[[], T]) -> tuple[T, float]:
    """What ``work`` returns, and the most memory (MiB) it had allocated at any moment."""
    tracemalloc.start()
    try:
        done = work()
        return done, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_data(
    committed: Engine, store: LocalStore, key: BackupKey, empty_database: Any
) -> None:
    tenant = new_tenant(session_factory(committed))
    # One small backup and restore first, untraced: what only the first one allocates (caches,
    # compiled statements) must not count in the small round's figures.
    warm = create_backup(committed, store, key, actor="test")
    restore_backup(empty_database("sqlite"), store, warm.name, key, actor="test")
    peaks = []
    for _ in range(2):
        # The same number of guests more each round, so the second backup holds twice the
        # first's data (checked below); still several times a batch of rows and a frame, so
        # a backup or restore that held the data would show it.
        add_guests(committed, tenant.tenant_id, 6_000)
        made, backup_peak = traced(lambda: create_backup(committed, store, key, actor="test"))
        # Migrated first: building the schema (alembic) is not the restore's streaming, and
        # would be most of what it allocates.
        target = empty_database("sqlite")
        upgrade(target)
        _, restore_peak = traced(
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
