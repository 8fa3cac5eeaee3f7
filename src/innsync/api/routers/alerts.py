"""Alerts of the caller's tenant (open ones and their history) and who is notified of them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import AwareDatetime
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from innsync.alerts import notify, service
from innsync.alerts.models import NotificationTarget, TargetKind
from innsync.alerts.notify_send import send_test
from innsync.alerts.notify_transports import SmtpConfig
from innsync.alerts.rules import AlertRule
from innsync.alerts.schemas import AlertRead, TestNotificationResult
from innsync.alerts.schemas import NotificationTargetCreate as TargetCreate
from innsync.alerts.schemas import NotificationTargetCreated as TargetCreated
from innsync.alerts.schemas import NotificationTargetRead as TargetRead
from innsync.alerts.schemas import NotificationTargetUpdate as TargetUpdate
from innsync.api.deps import Admin, Box, Db, Outbound, Reader
from innsync.errors import FieldProblem, InvalidInputError
from innsync.outbound import OutboundPolicy, OutboundRefusedError, sync_client

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


def _check_target(outbound: OutboundPolicy, smtp_host: str | None, data: TargetCreate) -> None:
    """An URL target is held to the outbound policy; an e-mail one needs the operator's SMTP."""
    if data.kind == TargetKind.EMAIL:
        if not smtp_host:
            raise InvalidInputError(
                "this installation sends no e-mail (no SMTP server is set)",
                [FieldProblem("/kind", "use a webhook or slack target")],
            )
        return
    try:
        outbound.check_url(data.address)
    except OutboundRefusedError as exc:
        raise InvalidInputError(
            "this installation does not deliver to that URL", [FieldProblem("/address", str(exc))]
        ) from exc


@router.post("/notification-targets", status_code=status.HTTP_201_CREATED)
async def create_target(
    data: TargetCreate, request: Request, db: Db, who: Admin, box: Box, outbound: Outbound
) -> TargetCreated:
    """Tell someone about the tenant's alerts: an e-mail address, a signed webhook (the PMS
    webhooks' signature; the secret is returned this once) or a Slack-compatible incoming
    webhook, for some rules (empty: all) at or above a severity.

    An URL the operator's outbound policy refuses, or an e-mail target on an installation
    without SMTP, is a 422.
    """
    smtp_host = request.app.state.settings.alert_smtp_host
    await run_in_threadpool(_check_target, outbound, smtp_host, data)

    def create(session: Session) -> TargetCreated:
        target, secret = notify.create_target(session, box, who.tenant_id, data)
        return TargetCreated(**notify.read_target(box, target).model_dump(), secret=secret)

    return await db.write(create)


@router.get("/notification-targets")
async def list_targets(db: Db, who: Admin, box: Box) -> list[TargetRead]:
    """The tenant's notification targets (an URL shown by its host only)."""
    return await db.read(
        lambda s: [notify.read_target(box, t) for t in notify.list_targets(s, who.tenant_id)]
    )


@router.get("/notification-targets/{target_id}")
async def get_target(target_id: uuid.UUID, db: Db, who: Admin, box: Box) -> TargetRead:
    """One notification target."""
    return await db.read(
        lambda s: notify.read_target(box, notify.get_target(s, who.tenant_id, target_id))
    )


@router.patch("/notification-targets/{target_id}")
async def update_target(
    target_id: uuid.UUID, data: TargetUpdate, db: Db, who: Admin, box: Box
) -> TargetRead:
    """Change a target's name, rules, severity or whether it is active."""
    return await db.write(
        lambda s: notify.read_target(box, notify.update_target(s, who.tenant_id, target_id, data))
    )


@router.delete("/notification-targets/{target_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_target(target_id: uuid.UUID, db: Db, who: Admin) -> None:
    """Remove a target and what was recorded of its notifications."""
    await db.write(lambda s: notify.remove_target(s, who.tenant_id, target_id))


@router.post("/notification-targets/{target_id}/test")
async def test_target(
    target_id: uuid.UUID, request: Request, db: Db, who: Admin, box: Box, outbound: Outbound
) -> TestNotificationResult:
    """Send a test message to the target now (not rate-limited, not recorded): whether it was
    taken, and if not, why."""
    settings = request.app.state.settings
    target = await db.read(lambda s: _detached(s, notify.get_target(s, who.tenant_id, target_id)))

    def send() -> str | None:
        with sync_client(outbound, timeout=settings.webhook_timeout_seconds) as client:
            return send_test(
                box, client, SmtpConfig.from_settings(settings), target, datetime.now(UTC)
            )

    error = await run_in_threadpool(send)
    return TestNotificationResult(delivered=error is None, error=error)


def _detached(session: Session, target: NotificationTarget) -> NotificationTarget:
    session.expunge(target)
    return target
