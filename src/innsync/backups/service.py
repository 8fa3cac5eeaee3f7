"""Backup use-cases: create, verify, restore, delete, list; each one recorded.

``engine`` is always the installation's own database: where ``create`` reads, ``restore``
writes, and every operation is recorded (``BackupOperation``).
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from innsync.backups import native as native_dumps
from innsync.backups.archive import Manifest, read_native, read_stream, write_native, write_stream
from innsync.backups.cipher import BackupCorruptError, BackupError, BackupKey, BackupKeyError
from innsync.backups.format import TableSpec
from innsync.backups.models import BackupOperation
from innsync.backups.restore import (
    BackupTargetNotEmptyError,
    backed_up_tables,
    checksum_tables,
    delete_rows,
    existing_rows,
    load_rows,
    migrate_to,
)
from innsync.backups.retention import Kept, Policy, to_keep
from innsync.backups.snapshot import consistent_snapshot
from innsync.backups.store import DATA, MANIFEST, VERIFIED, BackupStore
from innsync.clock import Clock, utc_now
from innsync.db.engine import build_engine, session_factory, transaction
from innsync.db.migrate import current_revision, head_revision, upgrade

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupInfo:
    """A backup as ``list`` shows it."""

    manifest: Manifest
    size_bytes: int
    verified_at: datetime | None


@dataclass
class Recorder:
    """Records one operation when its block ends, successful or not."""

    engine: Engine
    operation: str
    actor: str
    clock: Clock
    backup_name: str | None = None
    size_bytes: int | None = None
    detail: str | None = None


@contextmanager
def recorded(
    engine: Engine, operation: str, actor: str, clock: Clock, backup_name: str | None = None
) -> Iterator[Recorder]:
    record = Recorder(engine, operation, actor, clock, backup_name)
    started_at = clock()
    started = time.monotonic()
    outcome = "failed"
    try:
        yield record
        outcome = "ok"
    except (BackupError, OSError) as exc:
        record.detail = str(exc)
        raise
    finally:
        _save(record, started_at, int((time.monotonic() - started) * 1000), outcome)


def _save(record: Recorder, started_at: datetime, duration_ms: int, outcome: str) -> None:
    try:
        with transaction(session_factory(record.engine)) as session:
            session.add(
                BackupOperation(
                    operation=record.operation,
                    backup_name=record.backup_name,
                    actor=record.actor,
                    started_at=started_at,
                    duration_ms=duration_ms,
                    size_bytes=record.size_bytes,
                    outcome=outcome,
                    detail=record.detail,
                )
            )
    except SQLAlchemyError:
        # A failed restore can leave a database without the table (a new, empty one); the
        # operation's own error is what the operator must see, so this is only logged.
        logger.warning("backup operation could not be recorded", exc_info=True)


def new_name(now: datetime) -> str:
    return f"innsync-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def create_backup(
    engine: Engine,
    store: BackupStore,
    key: BackupKey,
    *,
    actor: str,
    clock: Clock = utc_now,
    scratch_dir: Path | None = None,
    native: bool = False,
) -> Manifest:
    """Take a consistent snapshot of ``engine``'s database and store it encrypted: in the portable
    format, or with ``native`` the server's own dump tool when it is installed."""
    now = clock()
    name = new_name(now)
    data_format = native_dumps.native_format(engine) if native else None
    if native and data_format is None:
        logger.info("no native dump tool for this database: taking a portable backup")
    with recorded(engine, "create", actor, clock, name) as record:
        with (
            _snapshot(engine, data_format, scratch_dir) as (connection, started),
            tempfile.TemporaryDirectory(prefix="innsync-backup-", dir=scratch_dir) as folder,
        ):
            revision = current_revision(connection)
            if revision is None or revision != head_revision():
                raise BackupError(
                    f"the database is at schema revision {revision}, not this innsync's "
                    f"{head_revision()}: run `innsync migrate` first"
                )
            manifest = Manifest(
                name=name,
                created_at=now,
                schema_revision=revision,
                source_database=engine.dialect.name,
                key_fingerprint=key.fingerprint,
            )
            data_path = Path(folder) / (name + DATA)
            with data_path.open("wb") as sink:
                if data_format is None:
                    write_stream(connection, backed_up_tables(), manifest, key, sink)
                else:
                    _write_native(engine, connection, data_format, started, manifest, key, sink)
            store.put_file(name + DATA, data_path)
        # The manifest is written last: a backup without one is incomplete and never listed.
        store.put_bytes(name + MANIFEST, manifest.to_json())
        record.size_bytes = manifest.data_bytes
        record.detail = f"{manifest.total_rows} rows in {len(manifest.tables)} tables" + (
            f" ({data_format})" if data_format else ""
        )
    return manifest


@contextmanager
def _snapshot(
    engine: Engine, data_format: str | None, scratch_dir: Path | None
) -> Iterator[tuple[Connection, Callable[[], None]]]:
    """The backup's snapshot, and what to call once a native dump reads an equal one."""
    if data_format == native_dumps.MARIADB_DUMP:
        with (
            native_dumps.writes_held_off(engine) as (hold, release),
            consistent_snapshot(engine, scratch_dir, before=hold) as connection,
        ):
            yield connection, release
    else:
        with consistent_snapshot(engine, scratch_dir) as connection:
            yield connection, lambda: None


def _write_native(
    engine: Engine,
    connection: Connection,
    data_format: str,
    started: Callable[[], None],
    manifest: Manifest,
    key: BackupKey,
    sink: BinaryIO,
) -> None:
    manifest.data_format = data_format
    manifest.dump_tool = native_dumps.tool_version(data_format)

    def summaries() -> tuple[list[TableSpec], dict[str, tuple[int, str]]]:
        specs = [TableSpec.of(table) for table in backed_up_tables()]
        return specs, checksum_tables(connection, specs)

    write_native(
        lambda write: native_dumps.dump(connection, engine.url, data_format, write, started),
        summaries,
        manifest,
        key,
        sink,
    )


def read_manifest(store: BackupStore, name: str) -> Manifest:
    raw = store.read_bytes(name + MANIFEST)
    if raw is None:
        raise BackupError(f"no backup named {name} in {store.describe()}")
    return Manifest.from_json(raw)


def _check_key(manifest: Manifest, key: BackupKey) -> None:
    if manifest.key_fingerprint != key.fingerprint:
        raise BackupKeyError(
            f"wrong backup key: {manifest.name} was made with key {manifest.key_fingerprint}, "
            f"the configured INNSYNC_BACKUP_KEY is {key.fingerprint}"
        )


def authenticate(store: BackupStore, name: str, key: BackupKey) -> Manifest:
    """Read and decrypt the whole backup, checking every frame, checksum and the manifest,
    without writing anything anywhere."""
    manifest = read_manifest(store, name)
    _check_key(manifest, key)
    with store.open(name + DATA) as source:
        frames = (
            read_native(source, key, manifest)
            if manifest.is_native
            else read_stream(source, key, manifest)
        )
        # Reading is the check: each frame is authenticated as it is read, nothing is kept.
        deque(frames, maxlen=0)
    return manifest


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    replaced: dict[str, int]


def restore_backup(
    engine: Engine,
    store: BackupStore,
    name: str,
    key: BackupKey,
    *,
    actor: str,
    force: bool = False,
    clock: Clock = utc_now,
    migrate_to_head: bool = True,
) -> RestoreResult:
    """Replace ``engine``'s data with the backup's; refuses a non-empty database unless
    ``force``. The backup is authenticated whole before anything is written, and its rows are
    written in one transaction."""
    with recorded(engine, "restore", actor, clock, name) as record:
        manifest = authenticate(store, name, key)
        if manifest.tenant_id is not None:
            raise BackupError(
                f"{name} is an export of tenant {manifest.tenant_id}, not a whole installation: "
                "use `innsync backup import`"
            )
        record.size_bytes = manifest.data_bytes
        if manifest.is_native:
            native_dumps.check_target(manifest.data_format, engine)
        replaced = _restore_into(engine, store, manifest, key, force=force)
        if migrate_to_head:
            upgrade(engine)
        record.detail = f"{manifest.total_rows} rows restored" + (
            f"; replaced {sum(replaced.values())} rows" if replaced else ""
        )
    return RestoreResult(manifest, replaced)


def _restore_into(
    engine: Engine, store: BackupStore, manifest: Manifest, key: BackupKey, *, force: bool
) -> dict[str, int]:
    present = existing_rows(engine)
    if present and not force:
        raise BackupTargetNotEmptyError(present)
    if manifest.is_native:
        # The dump creates every table anew, its operation history included.
        native_dumps.drop_tables(engine)
        with store.open(manifest.name + DATA) as source:
            native_dumps.load(engine, manifest.data_format, read_native(source, key, manifest))
        return present
    same_schema = current_revision(engine) == manifest.schema_revision
    if present and not same_schema:
        # Rows go before the schema moves to the backup's revision; the backup was
        # authenticated whole first, so what follows cannot fail on its bytes.
        with engine.begin() as connection:
            delete_rows(connection)
    migrate_to(engine, manifest.schema_revision)
    with store.open(manifest.name + DATA) as source, engine.begin() as connection:
        if present and same_schema:
            delete_rows(connection)
        load_rows(connection, read_stream(source, key, manifest))
    return present


def verify_backup(
    engine: Engine,
    store: BackupStore,
    name: str,
    key: BackupKey,
    *,
    actor: str,
    clock: Clock = utc_now,
    scratch_dir: Path | None = None,
) -> Manifest:
    """Restore into a scratch SQLite database and compare every table with the manifest."""
    with recorded(engine, "verify", actor, clock, name) as record:
        # No separate authentication pass: what is restored here is thrown away, and the
        # restore itself fails on any damaged byte.
        manifest = read_manifest(store, name)
        _check_key(manifest, key)
        record.size_bytes = manifest.data_bytes
        restored = (
            _restored_native(engine, store, manifest, key)
            if manifest.is_native
            else _restored_portable(store, manifest, key, scratch_dir)
        )
        for table in manifest.tables:
            rows, checksum = restored.get(table.name, (0, ""))
            if (rows, checksum) != (table.rows, table.checksum):
                raise BackupCorruptError(
                    f"verify failed: restored {table.name} has {rows} rows (checksum "
                    f"{checksum[:12]}), the manifest says {table.rows} ({table.checksum[:12]})"
                )
        store.put_bytes(
            name + VERIFIED,
            json.dumps({"verified_at": clock().isoformat(), "rows": manifest.total_rows}).encode(),
        )
        record.detail = f"{manifest.total_rows} rows in {len(manifest.tables)} tables match"
    return manifest


def _restored_portable(
    store: BackupStore, manifest: Manifest, key: BackupKey, scratch_dir: Path | None
) -> dict[str, tuple[int, str]]:
    """Rows and checksums of the backup's tables once restored into a scratch SQLite file."""
    with tempfile.TemporaryDirectory(prefix="innsync-verify-", dir=scratch_dir) as folder:
        scratch = build_engine(f"sqlite:///{Path(folder) / 'verify.sqlite3'}")
        try:
            # One pass: the load checks every frame, checksum and the manifest as it goes, and
            # a failure only leaves a scratch file behind.
            migrate_to(scratch, manifest.schema_revision)
            with store.open(manifest.name + DATA) as source, scratch.begin() as connection:
                specs = load_rows(connection, read_stream(source, key, manifest))
            with scratch.connect() as connection:
                return checksum_tables(connection, specs)
        finally:
            scratch.dispose()


def _restored_native(
    engine: Engine, store: BackupStore, manifest: Manifest, key: BackupKey
) -> dict[str, tuple[int, str]]:
    """The same, for a native dump loaded by its own tool into a scratch database beside
    ``engine``'s (same kind, same server)."""
    native_dumps.check_target(manifest.data_format, engine)
    specs = [TableSpec.from_record(record) for record in manifest.table_specs]
    with native_dumps.scratch_database(engine) as scratch:
        _restore_into(scratch, store, manifest, key, force=False)
        with scratch.connect() as connection:
            return checksum_tables(connection, specs)


def list_backups(store: BackupStore) -> list[BackupInfo]:
    """Every complete backup in the store, oldest first."""
    infos: list[BackupInfo] = []
    for object_name in store.names():
        if not object_name.endswith(MANIFEST):
            continue
        name = object_name.removesuffix(MANIFEST)
        try:
            manifest = read_manifest(store, name)
        except BackupCorruptError:
            logger.warning("unreadable backup manifest", extra={"backup": name})
            continue
        marker = store.read_bytes(name + VERIFIED)
        verified_at = datetime.fromisoformat(json.loads(marker)["verified_at"]) if marker else None
        size = store.size(name + DATA) if (name + DATA) in store.names() else 0
        infos.append(BackupInfo(manifest, size, verified_at))
    return sorted(infos, key=lambda info: info.manifest.created_at)


def delete_backup(
    engine: Engine, store: BackupStore, name: str, *, actor: str, clock: Clock = utc_now
) -> None:
    with recorded(engine, "delete", actor, clock, name) as record:
        manifest = read_manifest(store, name)
        record.size_bytes = manifest.data_bytes
        # The manifest goes first: a backup without it is no longer listed or restorable.
        for suffix in (MANIFEST, VERIFIED, DATA):
            store.delete(name + suffix)


def recent_operations(engine: Engine, limit: int = 20) -> list[BackupOperation]:
    with session_factory(engine)() as session:
        rows = session.scalars(
            select(BackupOperation)
            .order_by(BackupOperation.started_at.desc(), BackupOperation.id.desc())
            .limit(limit)
        )
        return list(rows)


def prune_backups(
    engine: Engine,
    store: BackupStore,
    policy: Policy,
    *,
    actor: str,
    clock: Clock = utc_now,
) -> list[str]:
    """Delete the backups the retention policy does not keep; returns their names."""
    with recorded(engine, "prune", actor, clock) as record:
        backups = list_backups(store)
        keep = to_keep(
            [
                Kept(info.manifest.name, info.manifest.created_at, info.verified_at is not None)
                for info in backups
            ],
            policy,
        )
        deleted = [info.manifest.name for info in backups if info.manifest.name not in keep]
        for name in deleted:
            for suffix in (MANIFEST, VERIFIED, DATA):
                store.delete(name + suffix)
        record.size_bytes = sum(
            info.size_bytes for info in backups if info.manifest.name in deleted
        )
        record.detail = f"kept {len(keep)}, deleted {len(deleted)}"
    return deleted
