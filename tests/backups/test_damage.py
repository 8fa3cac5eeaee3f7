"""A damaged, truncated or edited backup, or the wrong key, fails clearly and restores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from innsync.backups.cipher import (
    BackupCorruptError,
    BackupKey,
    BackupKeyError,
    generate_backup_key,
)
from innsync.backups.models import BackupOperation
from innsync.backups.restore import BackupTargetNotEmptyError, existing_rows
from innsync.backups.service import create_backup, restore_backup, verify_backup
from innsync.backups.store import DATA, MANIFEST, VERIFIED, LocalStore
from innsync.reservations.models import Reservation
from tests.backups.conftest import Hotel, book

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def made(
    hotel_client: tuple[httpx.Client, Hotel], committed: Engine, store: LocalStore, key: BackupKey
) -> str:
    http, hotel = hotel_client
    for guest in range(4):
        assert book(http, hotel, guest).status_code == 201
    return create_backup(committed, store, key, actor="test").name


def data_file(store: LocalStore, name: str) -> Path:
    return store.root / (name + DATA)


def flip_byte(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def outcomes(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(BackupOperation.operation, BackupOperation.outcome).order_by(BackupOperation.id)
        )
        return [(operation, outcome) for operation, outcome in rows]


@pytest.mark.parametrize("where", ["first frame", "last byte"])
def test_a_tampered_backup_fails_verify_and_restores_nothing(
    made: str,
    committed: Engine,
    store: LocalStore,
    key: BackupKey,
    empty_database: Any,
    where: str,
) -> None:
    path = data_file(store, made)
    flip_byte(path, 40 if where == "first frame" else path.stat().st_size - 1)

    with pytest.raises(BackupCorruptError, match="fails authentication"):
        verify_backup(committed, store, made, key, actor="test")
    target = empty_database("sqlite")
    with pytest.raises(BackupCorruptError, match="fails authentication"):
        restore_backup(target, store, made, key, actor="test")
    assert existing_rows(target) == {}
    assert not (store.root / (made + VERIFIED)).exists()
    assert outcomes(committed)[-1] == ("verify", "failed")


def test_a_truncated_backup_fails_verify(
    made: str, committed: Engine, store: LocalStore, key: BackupKey
) -> None:
    path = data_file(store, made)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(BackupCorruptError, match="truncated"):
        verify_backup(committed, store, made, key, actor="test")


def test_an_edited_manifest_is_caught(
    made: str, committed: Engine, store: LocalStore, key: BackupKey
) -> None:
    path = store.root / (made + MANIFEST)
    manifest = json.loads(path.read_text())
    reservations = next(t for t in manifest["tables"] if t["name"] == "reservations")
    reservations["rows"] = 3
    path.write_text(json.dumps(manifest))

    with pytest.raises(BackupCorruptError, match="manifest does not match"):
        verify_backup(committed, store, made, key, actor="test")


def test_a_wrong_key_is_named_as_such(
    made: str, committed: Engine, store: LocalStore, key: BackupKey, empty_database: Any
) -> None:
    wrong = BackupKey(generate_backup_key())

    with pytest.raises(BackupKeyError, match=f"wrong backup key: .*{wrong.fingerprint}"):
        verify_backup(committed, store, made, wrong, actor="test")
    target = empty_database("sqlite")
    with pytest.raises(BackupKeyError):
        restore_backup(target, store, made, wrong, actor="test")
    assert existing_rows(target) == {}


def test_restore_refuses_a_database_with_rows_unless_forced(
    made: str,
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    store: LocalStore,
    key: BackupKey,
) -> None:
    http, hotel = hotel_client
    assert book(http, hotel, 99).status_code == 201  # one booking after the backup

    with pytest.raises(BackupTargetNotEmptyError, match="reservations 5 rows") as refused:
        restore_backup(committed, store, made, key, actor="test")
    assert refused.value.present["reservations"] == 5

    result = restore_backup(committed, store, made, key, actor="test", force=True)

    assert result.replaced["reservations"] == 5
    with committed.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Reservation)) == 4
    assert outcomes(committed)[-2:] == [("restore", "failed"), ("restore", "ok")]


def test_a_forced_restore_of_a_damaged_backup_keeps_the_data(
    made: str, committed: Engine, store: LocalStore, key: BackupKey
) -> None:
    path = data_file(store, made)
    flip_byte(path, path.stat().st_size - 5)

    with pytest.raises(BackupCorruptError):
        restore_backup(committed, store, made, key, actor="test", force=True)

    with committed.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Reservation)) == 4
