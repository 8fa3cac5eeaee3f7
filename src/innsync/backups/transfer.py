"""Export and import of one tenant (what moves and what does not: ``innsync.backups.tenant``)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from sqlalchemy import Engine

from innsync.backups.archive import Manifest, read_stream, write_stream
from innsync.backups.cipher import BackupError, BackupKey
from innsync.backups.restore import load_rows
from innsync.backups.service import authenticate, new_name, recorded
from innsync.backups.snapshot import consistent_snapshot
from innsync.backups.store import DATA, MANIFEST, BackupStore
from innsync.backups.tenant import (
    check_exportable,
    check_importable,
    renumbered_tables,
    tenant_scope,
    tenant_tables,
)
from innsync.clock import Clock, utc_now
from innsync.db.migrate import current_revision, head_revision


def export_tenant(
    engine: Engine,
    store: BackupStore,
    key: BackupKey,
    tenant_id: uuid.UUID,
    *,
    actor: str,
    clock: Clock = utc_now,
    scratch_dir: Path | None = None,
) -> Manifest:
    """A backup of one tenant's rows only (``innsync.backups.tenant``)."""
    now = clock()
    name = new_name(now).replace("innsync-", "innsync-tenant-", 1)
    with recorded(engine, "export", actor, clock, name) as record:
        check_exportable(engine, tenant_id)
        with (
            consistent_snapshot(engine, scratch_dir) as connection,
            tempfile.TemporaryDirectory(prefix="innsync-backup-", dir=scratch_dir) as folder,
        ):
            revision = current_revision(connection)
            if revision is None or revision != head_revision():
                raise BackupError("the database is not at this innsync's schema: migrate first")
            manifest = Manifest(
                name=name,
                created_at=now,
                schema_revision=revision,
                source_database=engine.dialect.name,
                key_fingerprint=key.fingerprint,
                tenant_id=str(tenant_id),
            )
            data_path = Path(folder) / (name + DATA)
            with data_path.open("wb") as sink:
                write_stream(
                    connection, tenant_tables(), manifest, key, sink, tenant_scope(tenant_id)
                )
            store.put_file(name + DATA, data_path)
        store.put_bytes(name + MANIFEST, manifest.to_json())
        record.size_bytes = manifest.data_bytes
        record.detail = f"tenant {tenant_id}: {manifest.total_rows} rows"
    return manifest


def import_tenant(
    engine: Engine,
    store: BackupStore,
    name: str,
    key: BackupKey,
    *,
    actor: str,
    clock: Clock = utc_now,
) -> Manifest:
    """Add an exported tenant to this installation, beside its own tenants, in one transaction.
    The installation must be at the export's schema revision (the same innsync version)."""
    with recorded(engine, "import", actor, clock, name) as record:
        manifest = authenticate(store, name, key)
        if manifest.tenant_id is None:
            raise BackupError(f"{name} is a whole installation: use `innsync backup restore`")
        record.size_bytes = manifest.data_bytes
        current = current_revision(engine)
        if current != manifest.schema_revision:
            raise BackupError(
                f"this installation is at schema {current}, the export at "
                f"{manifest.schema_revision}: import with the same innsync version"
            )
        check_importable(engine, uuid.UUID(manifest.tenant_id))
        with store.open(name + DATA) as source, engine.begin() as connection:
            load_rows(connection, read_stream(source, key, manifest), renumbered_tables())
        record.detail = f"tenant {manifest.tenant_id}: {manifest.total_rows} rows"
    return manifest
