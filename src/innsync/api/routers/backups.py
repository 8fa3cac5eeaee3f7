"""Backups of the whole installation, for its operator only (``INNSYNC_OPERATOR_TOKEN``).

A tenant's API key is never accepted here, whatever its scopes: a backup holds every tenant.
Restoring is left to ``innsync backup restore``: it replaces the database this API serves from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from innsync.api.deps import audited_authentication
from innsync.backups.archive import Manifest
from innsync.backups.cipher import BackupCorruptError, BackupError, BackupKey, BackupKeyError
from innsync.backups.keys import backup_key_from
from innsync.backups.service import (
    create_backup,
    delete_backup,
    list_backups,
    read_manifest,
    recent_operations,
    verify_backup,
)
from innsync.backups.store import BackupStore, store_from
from innsync.crypto import constant_time_equal
from innsync.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from innsync.settings import Settings

router = APIRouter(tags=["backups"])
_bearer = HTTPBearer(auto_error=False, description="The operator token: `Bearer ...`")
ACTOR = "api:operator"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Settings:
    settings = _settings(request)
    if settings.operator_token is None:
        raise PermissionDeniedError("backups over the API are off: INNSYNC_OPERATOR_TOKEN is unset")
    # The operator token opens every tenant's data: wrong tokens share the failed-auth budget.
    with audited_authentication(request, (AuthenticationError, PermissionDeniedError)):
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise AuthenticationError("send the operator token as 'Authorization: Bearer <token>'")
        token = settings.operator_token.get_secret_value()
        if not constant_time_equal(credentials.credentials, token):
            raise PermissionDeniedError("backups need the operator token; tenant API keys cannot")
    return settings


Operator = Annotated[Settings, Depends(operator)]


class TableRead(BaseModel):
    name: str
    rows: int
    checksum: str


class BackupRead(BaseModel):
    name: str
    created_at: datetime
    innsync_version: str
    schema_revision: str
    source_database: str
    # "portable", or the native tool that made it ("pg_dump", "mariadb-dump").
    data_format: str
    key_fingerprint: str
    size_bytes: int
    rows: int
    verified_at: datetime | None = None
    tables: list[TableRead] | None = None


class OperationRead(BaseModel):
    operation: str
    backup_name: str | None
    actor: str
    started_at: datetime
    duration_ms: int
    size_bytes: int | None
    outcome: str
    detail: str | None


class BackupList(BaseModel):
    backups: list[BackupRead]
    operations: list[OperationRead]


def _read(manifest: Manifest, verified_at: datetime | None, *, tables: bool) -> BackupRead:
    return BackupRead(
        name=manifest.name,
        created_at=manifest.created_at,
        innsync_version=manifest.innsync_version,
        schema_revision=manifest.schema_revision,
        source_database=manifest.source_database,
        data_format=manifest.data_format,
        key_fingerprint=manifest.key_fingerprint,
        size_bytes=manifest.data_bytes,
        rows=manifest.total_rows,
        verified_at=verified_at,
        tables=[TableRead(**vars(t)) for t in manifest.tables] if tables else None,
    )


def _problem(exc: BackupError) -> DomainError:
    if isinstance(exc, BackupKeyError):
        return ConflictError(str(exc))
    if isinstance(exc, BackupCorruptError):
        return InvalidInputError(str(exc))
    if str(exc).startswith("no backup named"):
        return NotFoundError(str(exc))
    return ConflictError(str(exc))


def _tools(request: Request, settings: Settings) -> tuple[Engine, BackupStore]:
    engine: Engine = request.app.state.engine
    return engine, store_from(settings)


def _key(settings: Settings) -> BackupKey:
    try:
        return backup_key_from(settings)
    except BackupError as exc:
        raise _problem(exc) from exc


@router.get("/backups")
async def list_all(request: Request, settings: Operator) -> BackupList:
    """Every backup in the store, oldest first, and the latest backup operations."""
    engine, store = _tools(request, settings)

    def read() -> BackupList:
        return BackupList(
            backups=[_read(i.manifest, i.verified_at, tables=False) for i in list_backups(store)],
            operations=[
                OperationRead.model_validate(op, from_attributes=True)
                for op in recent_operations(engine)
            ],
        )

    return await run_in_threadpool(read)


@router.post("/backups", status_code=status.HTTP_201_CREATED)
async def create(request: Request, settings: Operator, verify: bool = False) -> BackupRead:
    """Back up the whole installation now (and verify it when ``verify=true``)."""
    engine, store = _tools(request, settings)
    key = _key(settings)

    def make() -> BackupRead:
        manifest = create_backup(
            engine, store, key, actor=ACTOR, native=settings.backup_native_dumps
        )
        verified_at = None
        if verify:
            verify_backup(engine, store, manifest.name, key, actor=ACTOR)
            verified_at = next(
                i.verified_at for i in list_backups(store) if i.manifest.name == manifest.name
            )
        return _read(manifest, verified_at, tables=True)

    try:
        return await run_in_threadpool(make)
    except BackupError as exc:
        raise _problem(exc) from exc


@router.get("/backups/{name}")
async def show(name: str, request: Request, settings: Operator) -> BackupRead:
    """One backup's manifest: what it holds, readable without the key."""
    _engine, store = _tools(request, settings)
    try:
        manifest = await run_in_threadpool(read_manifest, store, name)
    except BackupError as exc:
        raise _problem(exc) from exc
    return _read(manifest, None, tables=True)


@router.post("/backups/{name}/verify")
async def verify(name: str, request: Request, settings: Operator) -> BackupRead:
    """Restore the backup into a scratch database and compare it with its manifest; a damaged
    backup answers 422 with what failed."""
    engine, store = _tools(request, settings)
    key = _key(settings)
    try:
        manifest = await run_in_threadpool(
            lambda: verify_backup(engine, store, name, key, actor=ACTOR)
        )
    except BackupError as exc:
        raise _problem(exc) from exc
    return _read(manifest, None, tables=True)


@router.delete("/backups/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(name: str, request: Request, settings: Operator) -> None:
    """Delete one backup from the store."""
    engine, store = _tools(request, settings)
    try:
        await run_in_threadpool(lambda: delete_backup(engine, store, name, actor=ACTOR))
    except BackupError as exc:
        raise _problem(exc) from exc
