"""Create, restore and verify on every database; the restored tables equal the original."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, insert, select

from innsync.backups.cipher import FRAME_BYTES, BackupKey
from innsync.backups.format import TableSpec
from innsync.backups.restore import backed_up_tables, checksum_tables
from innsync.backups.service import create_backup, restore_backup, verify_backup
from innsync.backups.store import LocalStore
from innsync.db.engine import session_factory
from innsync.db.migrate import current_revision, head_revision
from innsync.inventory.models import InventoryLedgerDay
from innsync.reservations.models import Guest, Reservation, ReservationRoom
from tests.api.helpers import new_tenant
from tests.backups.conftest import Hotel, book


def table_sums(engine: Engine) -> dict[str, tuple[int, str]]:
    specs = [TableSpec.of(table) for table in backed_up_tables()]
    with engine.connect() as connection:
        return checksum_tables(connection, specs)


def ledger_matches_confirmed(engine: Engine) -> tuple[dict[Any, int], dict[Any, int]]:
    """The ledger's sold counts, and the counts the confirmed reservations' nights imply."""
    with engine.connect() as connection:
        ledger = {
            (str(room), night): sold
            for room, night, sold in connection.execute(
                select(
                    InventoryLedgerDay.room_type_id,
                    InventoryLedgerDay.stay_date,
                    InventoryLedgerDay.sold,
                )
            )
            if sold
        }
        implied: dict[Any, int] = {}
        rows = connection.execute(
            select(ReservationRoom.room_type_id, Reservation.arrival, Reservation.departure)
            .join(Reservation, Reservation.id == ReservationRoom.reservation_id)
            .where(Reservation.status == "confirmed")
        )
        for room, arrival, departure in rows:
            night = arrival
            while night < departure:
                implied[(str(room), night)] = implied.get((str(room), night), 0) + 1
                night = night.fromordinal(night.toordinal() + 1)
    return ledger, implied


def test_backup_restores_every_table_equal(
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    empty_database: Any,
    store: LocalStore,
    key: BackupKey,
) -> None:
    http, hotel = hotel_client
    assert [book(http, hotel, guest).status_code for guest in range(12)] == [201] * 12
    before = table_sums(committed)

    manifest = create_backup(committed, store, key, actor="test")

    assert {t.name: (t.rows, t.checksum) for t in manifest.tables} == before
    assert manifest.schema_revision == head_revision()
    assert before["reservations"][0] == 12
    target = empty_database(committed.dialect.name)
    result = restore_backup(target, store, manifest.name, key, actor="test")
    assert result.replaced == {}
    assert current_revision(target) == head_revision()
    assert table_sums(target) == before
    ledger, implied = ledger_matches_confirmed(target)
    assert ledger == implied
    assert sum(ledger.values()) == 24
    assert verify_backup(committed, store, manifest.name, key, actor="test").name == manifest.name


@pytest.mark.parametrize("other", ["sqlite", "postgresql", "mariadb"])
def test_round_trip_through_another_kind_of_database(
    other: str,
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    empty_database: Any,
    store: LocalStore,
    key: BackupKey,
) -> None:
    """Portable format: this database → ``other`` → a new database of this kind, tables equal."""
    kind = "mariadb" if committed.dialect.name == "mysql" else committed.dialect.name
    if other == kind:
        pytest.skip("same kind: test_backup_restores_every_table_equal covers it")
    http, hotel = hotel_client
    for guest in range(5):
        assert book(http, hotel, guest).status_code == 201
    before = table_sums(committed)
    first = create_backup(committed, store, key, actor="test")
    there = empty_database(other)
    restore_backup(there, store, first.name, key, actor="test")
    assert table_sums(there) == before

    second = create_backup(there, store, key, actor="test")
    assert second.source_database == there.dialect.name
    back = empty_database(kind)
    restore_backup(back, store, second.name, key, actor="test")
    assert table_sums(back) == before
    with back.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Reservation)) == 5


def test_a_backup_of_many_frames_restores_equal(
    committed: Engine, empty_database: Any, store: LocalStore, key: BackupKey
) -> None:
    """Rows cut across frame boundaries and non-ASCII text: still equal after restore."""
    tenant = new_tenant(session_factory(committed))
    at = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    with committed.begin() as connection:
        connection.execute(
            insert(Guest),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": uuid.UUID(tenant.tenant_id),
                    "first_name": "Zoë 🛎️",
                    "last_name": f"Ōkubo {index} {secrets.token_urlsafe(120)}",
                    "address": secrets.token_urlsafe(300),
                    "created_at": at,
                    "updated_at": at,
                }
                for index in range(8000)
            ],
        )
    before = table_sums(committed)

    manifest = create_backup(committed, store, key, actor="test")

    assert manifest.data_bytes > FRAME_BYTES  # several frames, even compressed
    target = empty_database(committed.dialect.name)
    restore_backup(target, store, manifest.name, key, actor="test")
    assert table_sums(target) == before
    assert before["guests"][0] == 8000
