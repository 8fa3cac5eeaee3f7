"""Notification targets of a tenant, and the notifications an alert transition owes them.

A transition (opened, resolved) writes one ``notifications`` row per matching target in the
evaluation's own transaction, so nothing is lost between the alert and the send; the
notification loop (``alerts.notify_send``) sends them, rate-limited per target and rule.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from innsync.alerts.models import Alert, Notification, NotificationTarget, TargetKind
from innsync.alerts.rules import Severity, severity
from innsync.alerts.schemas import (
    NotificationTargetCreate,
    NotificationTargetRead,
    NotificationTargetUpdate,
)
from innsync.crypto import SecretBox
from innsync.errors import NotFoundError

OPENED, RESOLVED = "opened", "resolved"
RANK = {Severity.WARNING: 0, Severity.CRITICAL: 1}


def create_target(
    session: Session, box: SecretBox, tenant_id: uuid.UUID, data: NotificationTargetCreate
) -> tuple[NotificationTarget, str | None]:
    """Store a target, its address (and a webhook's signing secret) encrypted; returns the
    secret to show once."""
    secret = None
    if data.kind == TargetKind.WEBHOOK:
        secret = data.secret or secrets.token_urlsafe(32)
    target = NotificationTarget(
        tenant_id=tenant_id,
        kind=data.kind,
        name=data.name,
        address_encrypted=box.encrypt(data.address),
        secret_encrypted=None if secret is None else box.encrypt(secret),
        rules=sorted({str(rule) for rule in data.rules}),
        min_severity=data.min_severity,
        is_active=True,
    )
    session.add(target)
    session.flush()
    return target, secret


def list_targets(session: Session, tenant_id: uuid.UUID) -> list[NotificationTarget]:
    query = select(NotificationTarget).where(NotificationTarget.tenant_id == tenant_id)
    return list(
        session.scalars(query.order_by(NotificationTarget.created_at, NotificationTarget.id))
    )


def get_target(session: Session, tenant_id: uuid.UUID, target_id: uuid.UUID) -> NotificationTarget:
    target = session.scalar(
        select(NotificationTarget).where(
            NotificationTarget.id == target_id, NotificationTarget.tenant_id == tenant_id
        )
    )
    if target is None:
        raise NotFoundError(f"notification target {target_id} not found")
    return target


def update_target(
    session: Session, tenant_id: uuid.UUID, target_id: uuid.UUID, data: NotificationTargetUpdate
) -> NotificationTarget:
    target = get_target(session, tenant_id, target_id)
    if data.name is not None:
        target.name = data.name
    if data.rules is not None:
        target.rules = sorted({str(rule) for rule in data.rules})
    if data.min_severity is not None:
        target.min_severity = data.min_severity
    if data.is_active is not None:
        target.is_active = data.is_active
    session.flush()
    return target


def remove_target(session: Session, tenant_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Delete the target; its notifications go with it (they were only ever for it)."""
    target = get_target(session, tenant_id, target_id)
    session.execute(delete(Notification).where(Notification.target_id == target.id))
    session.delete(target)
    session.flush()


def read_target(box: SecretBox, target: NotificationTarget) -> NotificationTargetRead:
    return NotificationTargetRead(
        id=target.id,
        kind=target.kind,
        name=target.name,
        address=shown_address(target.kind, box.decrypt(target.address_encrypted)),
        rules=list(target.rules),
        min_severity=target.min_severity,
        is_active=target.is_active,
        created_at=target.created_at,
    )


def shown_address(kind: str, address: str) -> str:
    """What is shown of an address: an e-mail whole, an URL only its scheme and host (the
    path of a Slack or PMS URL is its credential)."""
    if kind == TargetKind.EMAIL:
        return address
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def wants(target: NotificationTarget, rule: str) -> bool:
    """Whether the target takes this rule's alerts: listed (or none listed), loud enough."""
    if target.rules and rule not in target.rules:
        return False
    return RANK[severity(rule)] >= RANK[Severity(target.min_severity)]


def enqueue(session: Session, alert: Alert, transition: str, now: datetime) -> int:
    """In the evaluation's transaction: one pending notification per target that wants it."""
    targets = session.scalars(
        select(NotificationTarget).where(
            NotificationTarget.tenant_id == alert.tenant_id,
            NotificationTarget.is_active.is_(True),
        )
    )
    owed = [
        Notification(
            tenant_id=alert.tenant_id,
            target_id=target.id,
            alert_id=alert.id,
            rule=alert.rule,
            transition=transition,
            next_attempt_at=now,
            created_at=now,
        )
        for target in targets
        if wants(target, alert.rule)
    ]
    session.add_all(owed)
    return len(owed)
