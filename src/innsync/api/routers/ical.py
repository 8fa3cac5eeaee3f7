"""iCal: the unauthenticated ``.ics`` export platforms poll, and its management by the tenant.

The export URL is the credential (256 random bits); rotating it stops the old one at once.
An unchanged export is answered 304 from its stored ETag after one lookup by token.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from innsync.api.deps import Box, Db, Reader, Writer
from innsync.channels.ical import IcalConfig
from innsync.channels.ical.adapter import STATE_NAME, FeedState
from innsync.connections.configs import effective_config
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.errors import NotFoundError
from innsync.ical_export import service
from innsync.ical_export.models import IcalExport
from innsync.inbox.models import PullCursor
from innsync.properties.service import get_owned

router = APIRouter(tags=["ical"])
manage = APIRouter(tags=["ical"])


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _unchanged(request: Request, served: service.Served) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return served.etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return served.last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


@router.get("/ical/{token}.ics", include_in_schema=False)
async def export(token: str, request: Request, db: Db) -> Response:
    now = datetime.now(UTC)
    found = await db.read(lambda session: service.cached(session, token, now))
    served = (
        await db.write(lambda session: service.serve(session, token, now))
        if isinstance(found, service.Rebuild)
        else found
    )
    if served is None:
        return Response(status_code=404, content=b"not found\n", media_type="text/plain")
    headers = {
        "etag": served.etag,
        "last-modified": _http_date(served.last_modified),
        # Platforms may keep it, but must ask again: the ETag makes asking cheap.
        "cache-control": "no-cache",
    }
    if _unchanged(request, served):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=served.body, media_type="text/calendar; charset=utf-8", headers=headers)


class ExportSettings(BaseModel):
    horizon_days: int = Field(default=365, ge=1, le=750)
    unit_id: uuid.UUID | None = None
    """One unit of the mapped room type (a rental sold unit by unit); unset: the room type."""


class ExportRead(BaseModel):
    url: str
    horizon_days: int
    unit_id: uuid.UUID | None
    events: int
    etag: str | None
    last_modified: datetime | None


def _read(request: Request, export: IcalExport) -> ExportRead:
    base = request.app.state.settings.public_url or str(request.base_url)
    return ExportRead(
        url=f"{base.rstrip('/')}/ical/{export.token}.ics",
        horizon_days=export.horizon_days,
        unit_id=export.unit_id,
        events=export.events,
        etag=export.etag,
        last_modified=export.last_modified,
    )


@manage.put("/connections/{connection_id}/ical-export")
async def enable_export(
    connection_id: uuid.UUID, data: ExportSettings, request: Request, db: Db, who: Writer
) -> ExportRead:
    """Create the listing's export URL, or rotate it (the old URL answers 404 from now on)."""

    def work(session: Session) -> ExportRead:
        return _read(
            request,
            service.enable(session, who.tenant_id, connection_id, data.horizon_days, data.unit_id),
        )

    return await db.write(work)


@manage.get("/connections/{connection_id}/ical-export")
async def read_export(
    connection_id: uuid.UUID, request: Request, db: Db, who: Reader
) -> ExportRead:
    """The listing's export URL, its horizon and what it holds now."""
    return await db.read(
        lambda session: _read(request, service.find(session, who.tenant_id, connection_id))
    )


@manage.delete("/connections/{connection_id}/ical-export", status_code=204)
async def revoke_export(connection_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Revoke the export URL: it answers 404 from now on."""
    await db.write(lambda session: service.revoke(session, who.tenant_id, connection_id))


class FeedHealth(BaseModel):
    """How reading the platform's feed goes (iCal fails quietly elsewhere: here it shows)."""

    needs_attention: bool
    """The last read failed, or no read succeeded for the config's ``stale_after_seconds``."""
    last_success: datetime | None
    last_pulled_at: datetime | None
    next_pull_at: datetime | None
    consecutive_failures: int
    last_error: str
    last_http_status: int | None
    events_seen: int | None
    bookings_seen: int | None
    blocks_seen: int | None


@manage.get("/connections/{connection_id}/ical-health")
async def feed_health(
    connection_id: uuid.UUID, request: Request, db: Db, box: Box, who: Reader
) -> FeedHealth:
    """How reading the platform's feed goes: last read, failures, status and events seen."""

    def cursor(session: Session) -> tuple[PullCursor | None, IcalConfig]:
        connection = get_owned(session, Connection, who.tenant_id, connection_id)
        if connection.channel != "ical":
            raise NotFoundError(f"connection {connection_id} is not an iCal connection")
        row = session.get(PullCursor, connection_id)
        if row is not None:
            session.expunge(row)
        return row, IcalConfig.model_validate(effective_config(connection, box))

    row, config = await db.read(cursor)
    store = DatabaseCredentialStore(request.app.state.sessions, box, connection_id)
    stored = await store.load(STATE_NAME)
    health = FeedState.load(stored.token if stored else None).health
    failures = row.failures if row else 0
    last_success = health.get("last_success")
    stale = config.feed_url is not None and (
        last_success is None
        or datetime.now(UTC) - datetime.fromisoformat(last_success)
        > timedelta(seconds=config.stale_after_seconds)
    )
    return FeedHealth(
        needs_attention=failures > 0 or stale,
        last_success=last_success,
        last_pulled_at=row.last_pulled_at if row else None,
        next_pull_at=row.next_pull_at if row else None,
        consecutive_failures=failures,
        last_error=row.last_error if row else "",
        last_http_status=health.get("last_status"),
        events_seen=health.get("events_seen"),
        bookings_seen=health.get("bookings_seen"),
        blocks_seen=health.get("blocks_seen"),
    )
