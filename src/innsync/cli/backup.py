"""``innsync backup``: create, list, verify, restore, delete and prune backups.

Every command works on the database INNSYNC_DATABASE_URL names and the store the settings name
(INNSYNC_BACKUP_DIR); each operation is recorded in that database and shown by ``list``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from sqlalchemy import Engine

from innsync.backups.cipher import BackupError, BackupKey, generate_backup_key
from innsync.backups.keys import backup_key_from
from innsync.backups.restore import describe_rows, existing_rows
from innsync.backups.retention import Policy
from innsync.backups.service import (
    create_backup,
    delete_backup,
    list_backups,
    prune_backups,
    read_manifest,
    recent_operations,
    restore_backup,
    verify_backup,
)
from innsync.backups.store import BackupStore, store_from
from innsync.backups.transfer import export_tenant, import_tenant
from innsync.cli.database import open_database
from innsync.db.engine import session_factory
from innsync.errors import DomainError
from innsync.settings import Settings, get_settings
from innsync.tenants.service import find_tenant

T = TypeVar("T")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KiB", "MiB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


@contextmanager
def _context(*, may_create: bool = False) -> Iterator[tuple[Settings, Engine, BackupStore]]:
    settings = get_settings()
    engine = open_database(settings, may_create=may_create)
    try:
        yield settings, engine, store_from(settings)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


def _key(settings: Settings) -> BackupKey:
    try:
        return backup_key_from(settings)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


def _latest(store: BackupStore, name: str | None) -> str:
    if name is not None:
        return name
    backups = list_backups(store)
    if not backups:
        raise click.ClickException(f"no backups in {store.describe()}")
    return backups[-1].manifest.name


def _run(step: Callable[[], T]) -> T:
    try:
        return step()
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def backup() -> None:
    """Backups: consistent, encrypted, verified, portable between databases (docs/backups.md)."""


@backup.command("key")
def backup_key() -> None:
    """Print a new backup key for INNSYNC_BACKUP_KEY; keep a copy away from the backups."""
    click.echo(generate_backup_key())


@backup.command("create")
@click.option("--verify/--no-verify", default=False, help="Verify the new backup at once.")
@click.option(
    "--native/--portable",
    default=None,
    help="pg_dump/mariadb-dump where installed, or the portable format "
    "[default: INNSYNC_BACKUP_NATIVE_DUMPS, off].",
)
def backup_create(verify: bool, native: bool | None) -> None:
    """Back up the whole database while innsync keeps serving."""
    with _context() as (settings, engine, store):
        key = _key(settings)
        use_native = settings.backup_native_dumps if native is None else native
        manifest = _run(
            lambda: create_backup(engine, store, key, actor=_actor(), native=use_native)
        )
        click.echo(
            f"backup {manifest.name} created: {manifest.total_rows} rows in "
            f"{len(manifest.tables)} tables, {_size(manifest.data_bytes)}, "
            f"{manifest.dump_tool or manifest.data_format}, schema "
            f"{manifest.schema_revision}, in {store.describe()}"
        )
        if verify:
            _run(lambda: verify_backup(engine, store, manifest.name, key, actor=_actor()))
            click.echo(f"backup {manifest.name} verified")


@backup.command("list")
@click.option("--operations", default=10, show_default=True, help="Recent operations shown.")
def backup_list(operations: int) -> None:
    """The backups in the store, oldest first, and the latest operations on this database."""
    with _context() as (_settings, engine, store):
        backups = list_backups(store)
        click.echo(f"backups in {store.describe()}:")
        if not backups:
            click.echo("  none yet: `innsync backup create` makes one")
        for info in backups:
            manifest = info.manifest
            verified = (
                f"verified {info.verified_at:%Y-%m-%d %H:%M}Z" if info.verified_at else "unverified"
            )
            click.echo(
                f"  {manifest.name}  {manifest.created_at:%Y-%m-%d %H:%M:%S}Z  "
                f"{_size(info.size_bytes)}  {manifest.total_rows} rows  schema "
                f"{manifest.schema_revision}  from {manifest.source_database}  {verified}"
            )
        click.echo("operations:")
        for op in recent_operations(engine, operations):
            size = _size(op.size_bytes) if op.size_bytes is not None else "-"
            click.echo(
                f"  {op.started_at:%Y-%m-%d %H:%M:%S}Z  {op.operation:<7}  {op.outcome:<6}  "
                f"{op.backup_name or '-'}  {size}  {op.duration_ms} ms  by {op.actor}"
                + (f"  ({op.detail})" if op.detail else "")
            )


@backup.command("verify")
@click.argument("name", required=False)
def backup_verify(name: str | None) -> None:
    """Restore a backup (the newest when NAME is left out) into a scratch database and compare
    every table's rows and checksum with its manifest."""
    with _context() as (settings, engine, store):
        key = _key(settings)
        chosen = _latest(store, name)
        manifest = _run(lambda: verify_backup(engine, store, chosen, key, actor=_actor()))
        click.echo(
            f"backup {chosen} verified: {manifest.total_rows} rows in {len(manifest.tables)} "
            "tables restored and match the manifest"
        )


@backup.command("restore")
@click.argument("name")
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def backup_restore(name: str, force: bool) -> None:
    """Restore a backup into the configured database (which may be another kind than the
    backup's: this is how SQLite moves to PostgreSQL), then migrate it to this innsync."""
    with _context(may_create=True) as (settings, engine, store):
        key = _key(settings)
        manifest = _run(lambda: read_manifest(store, name))
        click.echo(
            f"restoring {name}: {manifest.total_rows} rows from {manifest.source_database}, "
            f"made {manifest.created_at:%Y-%m-%d %H:%M:%S}Z, schema {manifest.schema_revision}"
        )
        present = existing_rows(engine)
        if present and force:
            click.echo(f"this replaces everything in the database: {describe_rows(present)}")
        result = _run(lambda: restore_backup(engine, store, name, key, actor=_actor(), force=force))
        click.echo(
            f"restored {result.manifest.total_rows} rows; the database is at the newest schema"
        )


@backup.command("export")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
def backup_export(tenant_ref: str) -> None:
    """Back up one tenant's rows only, to move it to another installation (`backup import`)."""
    with _context() as (settings, engine, store):
        key = _key(settings)
        with session_factory(engine)() as session:
            try:
                tenant_id = find_tenant(session, tenant_ref).id
            except DomainError as exc:
                raise click.ClickException(str(exc)) from exc
        manifest = _run(lambda: export_tenant(engine, store, key, tenant_id, actor=_actor()))
        click.echo(
            f"backup {manifest.name} created: tenant {tenant_id}, {manifest.total_rows} rows, "
            f"{_size(manifest.data_bytes)}, in {store.describe()}"
        )


@backup.command("import")
@click.argument("name")
def backup_import(name: str) -> None:
    """Add a tenant exported from another installation beside this one's tenants."""
    with _context() as (settings, engine, store):
        key = _key(settings)
        manifest = _run(lambda: import_tenant(engine, store, name, key, actor=_actor()))
        click.echo(f"tenant {manifest.tenant_id} imported: {manifest.total_rows} rows")
        click.echo(
            "its secrets are encrypted with the source's keys: add the source's key after this "
            "installation's in INNSYNC_SECRET_KEYS, then run `innsync keys rotate`"
        )


@backup.command("delete")
@click.argument("name")
def backup_delete(name: str) -> None:
    """Delete one backup from the store."""
    with _context() as (_settings, engine, store):
        _run(lambda: delete_backup(engine, store, name, actor=_actor()))
        click.echo(f"backup {name} deleted")


@backup.command("prune")
def backup_prune() -> None:
    """Delete the backups the retention policy (INNSYNC_BACKUP_KEEP_*) does not keep; the
    newest verified backup is always kept."""
    with _context() as (settings, engine, store):
        policy = Policy(
            settings.backup_keep_hourly, settings.backup_keep_daily, settings.backup_keep_weekly
        )
        deleted = _run(lambda: prune_backups(engine, store, policy, actor=_actor()))
        click.echo(f"{len(deleted)} backups deleted" + "".join(f"\n  {n}" for n in deleted))
