"""Native dumps (pg_dump, mariadb-dump) through the same encryption and manifest: round trip,
verify into a scratch database of the same kind, refusal across kinds, damage, and credentials
kept off the command line. Real tools against the real servers."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, inspect, make_url

from innsync.backups import native
from innsync.backups.cipher import BackupCorruptError, BackupError, BackupKey
from innsync.backups.restore import existing_rows
from innsync.backups.service import create_backup, restore_backup, verify_backup
from innsync.backups.store import DATA, VERIFIED, LocalStore
from innsync.db.migrate import current_revision, head_revision
from tests.backups.conftest import Hotel, book
from tests.backups.test_damage import flip_byte
from tests.backups.test_roundtrip import ledger_matches_confirmed, table_sums
from tests.databases import missing

pytestmark = pytest.mark.backends("postgresql", "mariadb")
TOOLS = {"postgresql": native.PG_DUMP, "mysql": native.MARIADB_DUMP}


@pytest.fixture
def tools(committed: Engine) -> str:
    """The native format of the database under test; skips where its tools are missing."""
    format_name = TOOLS[committed.dialect.name]
    if not all(shutil.which(tool) for tool in native.TOOLS[format_name]):
        missing(f"{' and '.join(native.TOOLS[format_name])} are not installed")
    return format_name


def kind_of(engine: Engine) -> str:
    return "mariadb" if engine.dialect.name == "mysql" else engine.dialect.name


def test_a_native_dump_restores_every_table_equal_and_verifies(
    tools: str,
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    empty_database: Any,
    store: LocalStore,
    key: BackupKey,
) -> None:
    http, hotel = hotel_client
    assert [book(http, hotel, guest).status_code for guest in range(12)] == [201] * 12
    before = table_sums(committed)

    manifest = create_backup(committed, store, key, actor="test", native=True)

    assert (manifest.data_format, manifest.is_native) == (tools, True)
    assert manifest.dump_tool is not None
    assert manifest.dump_tool.startswith(native.TOOLS[tools][0])
    assert {t.name: (t.rows, t.checksum) for t in manifest.tables} == before
    assert before["reservations"][0] == 12
    raw = (store.root / (manifest.name + DATA)).read_bytes()
    assert b"CREATE TABLE" not in raw
    assert "Gäst".encode() not in raw

    target = empty_database(kind_of(committed))
    restore_backup(target, store, manifest.name, key, actor="test")
    assert current_revision(target) == head_revision()
    assert table_sums(target) == before
    ledger, implied = ledger_matches_confirmed(target)
    assert ledger == implied
    assert sum(ledger.values()) == 24

    assert verify_backup(committed, store, manifest.name, key, actor="test").name == manifest.name
    assert (store.root / (manifest.name + VERIFIED)).exists()


def test_a_native_dump_restores_only_into_its_own_kind(
    tools: str,
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    empty_database: Any,
    store: LocalStore,
    key: BackupKey,
) -> None:
    http, hotel = hotel_client
    assert book(http, hotel, 1).status_code == 201
    manifest = create_backup(committed, store, key, actor="test", native=True)
    other = empty_database("postgresql" if committed.dialect.name == "mysql" else "sqlite")

    with pytest.raises(BackupError, match=f"{tools} dump: it restores only into"):
        restore_backup(other, store, manifest.name, key, actor="test")

    assert inspect(other).get_table_names() == []


def test_a_damaged_native_dump_restores_nothing(
    tools: str,
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    empty_database: Any,
    store: LocalStore,
    key: BackupKey,
) -> None:
    http, hotel = hotel_client
    assert book(http, hotel, 1).status_code == 201
    manifest = create_backup(committed, store, key, actor="test", native=True)
    path = store.root / (manifest.name + DATA)
    flip_byte(path, path.stat().st_size - 5)
    target = empty_database(kind_of(committed))

    with pytest.raises(BackupCorruptError, match="fails authentication"):
        restore_backup(target, store, manifest.name, key, actor="test")
    with pytest.raises(BackupCorruptError, match="fails authentication"):
        verify_backup(committed, store, manifest.name, key, actor="test")

    assert inspect(target).get_table_names() == []
    assert not (store.root / (manifest.name + VERIFIED)).exists()


def test_a_forced_native_restore_replaces_the_data(
    tools: str,
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    store: LocalStore,
    key: BackupKey,
) -> None:
    http, hotel = hotel_client
    assert [book(http, hotel, guest).status_code for guest in range(3)] == [201] * 3
    manifest = create_backup(committed, store, key, actor="test", native=True)
    before = table_sums(committed)
    assert [book(http, hotel, guest).status_code for guest in range(3, 5)] == [201] * 2

    with pytest.raises(BackupError, match="--force"):
        restore_backup(committed, store, manifest.name, key, actor="test")
    assert existing_rows(committed)["reservations"] == 5

    result = restore_backup(committed, store, manifest.name, key, actor="test", force=True)

    assert result.replaced["reservations"] == 5
    assert table_sums(committed) == before


def test_portable_when_asked_for_native_without_a_tool(
    committed: Engine, store: LocalStore, key: BackupKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    manifest = create_backup(committed, store, key, actor="test", native=True)

    assert (manifest.data_format, manifest.is_native, manifest.table_specs) == (
        "portable",
        False,
        [],
    )


def test_credentials_never_reach_a_command_line() -> None:
    secret = 'pa ss#w0"rd\\x;y'
    postgres = make_url("postgresql://innsync:x@db.example:6432/hotels").set(password=secret)
    with native.client_access(postgres) as (args, env):
        assert args == []
        assert env["PGPASSWORD"] == secret
        assert (env["PGHOST"], env["PGPORT"], env["PGDATABASE"]) == ("db.example", "6432", "hotels")

    mariadb = make_url("mysql://innsync:x@db.example:3307/hotels").set(password=secret)
    with native.client_access(mariadb) as (args, env):
        assert len(args) == 1
        assert args[0].startswith("--defaults-extra-file=")
        assert secret not in args[0]
        defaults = Path(args[0].split("=", 1)[1])
        assert stat.S_IMODE(defaults.stat().st_mode) == 0o600
        # Quoted (# and ; start comments), backslash and quote escaped: checked against
        # MariaDB 10.11's client with a user of this password.
        assert 'password="pa ss#w0\\"rd\\\\x;y"' in defaults.read_text().splitlines()
        assert "PGPASSWORD" not in env
    assert not defaults.exists()
