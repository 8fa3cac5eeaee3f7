"""Alerts of the caller's tenant: open ones and their history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from innsync.alerts import service
from innsync.alerts.rules import AlertRule
from innsync.alerts.schemas import AlertRead
from innsync.api.deps import Db, Reader

router = APIRouter(tags=["alerts"])


@router.get("/alerts")
async def list_alerts(
    db: Db,
    who: Reader,
    state: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    rule: Annotated[AlertRule | None, Query()] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Alerts open at or after this time")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
) -> list[AlertRead]:
    """The tenant's alerts, newest first: what is wrong now (open) and what was (resolved)."""
    return await db.read(
        lambda s: [
            AlertRead.of(alert)
            for alert in service.list_alerts(
                s, who.tenant_id, state=state, rule=rule, since=since, limit=limit
            )
        ]
    )
