"""iCal: the unauthenticated ``.ics`` export platforms poll, and its management by the tenant.

The export URL is the credential (256 random bits); rotating it stops the old one at once.
An unchanged export is answered 304 from its stored ETag after one lookup by token.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from innsync.api.deps import Db, Reader, Writer
from innsync.ical_export import service
from innsync.ical_export.models import IcalExport

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
    served = await db.write(lambda session: service.serve(session, token, now))
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


class ExportRead(BaseModel):
    url: str
    horizon_days: int
    events: int
    etag: str | None
    last_modified: datetime | None


def _read(request: Request, export: IcalExport) -> ExportRead:
    base = request.app.state.settings.public_url or str(request.base_url)
    return ExportRead(
        url=f"{base.rstrip('/')}/ical/{export.token}.ics",
        horizon_days=export.horizon_days,
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
            request, service.enable(session, who.tenant_id, connection_id, data.horizon_days)
        )

    return await db.write(work)


@manage.get("/connections/{connection_id}/ical-export")
async def read_export(
    connection_id: uuid.UUID, request: Request, db: Db, who: Reader
) -> ExportRead:
    return await db.read(
        lambda session: _read(request, service.find(session, who.tenant_id, connection_id))
    )


@manage.delete("/connections/{connection_id}/ical-export", status_code=204)
async def revoke_export(connection_id: uuid.UUID, db: Db, who: Writer) -> None:
    """Revoke the export URL: it answers 404 from now on."""
    await db.write(lambda session: service.revoke(session, who.tenant_id, connection_id))
