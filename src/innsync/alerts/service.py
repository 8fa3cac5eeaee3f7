"""Evaluating the rules into alerts (open, keep, resolve), listing them, tenant thresholds."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.alerts import notify
from innsync.alerts.lease import take_pass
from innsync.alerts.models import Alert, AlertSettings, AlertState
from innsync.alerts.rules import RULES, AlertRule, Finding
from innsync.errors import InvalidInputError
from innsync.events import kinds
from innsync.events.service import emit

logger = logging.getLogger(__name__)
MAX_PAGE = 500


@dataclass
class Evaluation:
    """What one evaluation pass changed."""

    opened: int = 0
    resolved: int = 0
    open: int = 0


def open_key(rule: str, subject_kind: str, subject_id: str) -> str:
    return f"{rule}:{subject_kind}:{subject_id}"


def evaluate(session: Session, now: datetime, thresholds: Mapping[AlertRule, float]) -> Evaluation:
    """Run every rule once: open an alert for each new finding, refresh the ones that persist,
    resolve the ones whose condition cleared. Each transition is logged and emitted as an event.
    """
    result = Evaluation()
    overrides: dict[tuple[str, uuid.UUID], float] = {
        (rule, row.tenant_id): float(value)
        for row in session.scalars(select(AlertSettings))
        for rule, value in row.thresholds.items()
    }
    for rule, check in RULES.items():

        def threshold(tenant_id: uuid.UUID, rule: AlertRule = rule) -> float:
            return overrides.get((rule, tenant_id), thresholds[rule])

        findings: dict[tuple[uuid.UUID, str | None], Finding] = {
            (f.tenant_id, open_key(rule, f.subject_kind, f.subject_id)): f
            for f in check(session, now, threshold)
        }
        current: dict[tuple[uuid.UUID, str | None], Alert] = {
            (alert.tenant_id, alert.open_key): alert
            for alert in session.scalars(
                select(Alert).where(Alert.rule == rule, Alert.state == AlertState.OPEN)
            )
        }
        for key, finding in findings.items():
            alert = current.get(key)
            if alert is not None:
                alert.last_seen_at, alert.details = now, finding.details
            elif open_alert(session, rule, finding, now):
                result.opened += 1
        for key, alert in current.items():
            if key not in findings and resolve_alert(session, alert, now):
                result.resolved += 1
        result.open += len(findings)
    return result


def evaluate_pass(
    session: Session,
    holder: str,
    now: datetime,
    interval: timedelta,
    thresholds: Mapping[AlertRule, float],
) -> Evaluation | None:
    """The loops' pass: evaluate when this process takes the pass due at ``now`` (one process
    per pass, ``alerts.lease``); None when another process has it."""
    if not take_pass(session, holder, now, interval):
        return None
    return evaluate(session, now, thresholds)


def open_alert(session: Session, rule: str, finding: Finding, now: datetime) -> bool:
    """Insert the open alert; False when a concurrent evaluator opened it first (the unique
    open key), which is the deduplication, not an error."""
    alert = Alert(
        tenant_id=finding.tenant_id,
        rule=rule,
        subject_kind=finding.subject_kind,
        subject_id=finding.subject_id,
        state=AlertState.OPEN,
        open_key=open_key(rule, finding.subject_kind, finding.subject_id),
        opened_at=now,
        last_seen_at=now,
        details=finding.details,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return False
    logger.warning(
        "alert opened",
        extra={"alert_rule": rule, "tenant_id": str(finding.tenant_id), "subject": alert.open_key},
    )
    emit(session, finding.tenant_id, kinds.ALERT_OPENED, _payload(alert), subject_id=str(alert.id))
    notify.enqueue(session, alert, notify.OPENED, now)
    return True


def resolve_alert(session: Session, alert: Alert, now: datetime) -> bool:
    """Resolve the alert unless a concurrent evaluator did first: the conditional UPDATE (it
    waits for the other's row lock, then finds the row resolved) keeps one ``alert.resolved``."""
    subject = alert.open_key
    changed = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.state == AlertState.OPEN)
        .values(state=AlertState.RESOLVED, resolved_at=now, open_key=None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(alert)
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    logger.info(
        "alert resolved",
        extra={"alert_rule": alert.rule, "tenant_id": str(alert.tenant_id), "subject": subject},
    )
    emit(session, alert.tenant_id, kinds.ALERT_RESOLVED, _payload(alert), subject_id=str(alert.id))
    notify.enqueue(session, alert, notify.RESOLVED, now)
    return True


def _payload(alert: Alert) -> dict[str, object]:
    return {
        "alert_id": str(alert.id),
        "rule": alert.rule,
        "subject_kind": alert.subject_kind,
        "subject_id": alert.subject_id,
        "state": alert.state,
        "details": alert.details,
    }


def list_alerts(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    state: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Alert]:
    """A tenant's alerts, newest first; ``since`` keeps those open at or after that time."""
    query = select(Alert).where(Alert.tenant_id == tenant_id)
    if state is not None:
        query = query.where(Alert.state == state)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    if since is not None:
        query = query.where((Alert.resolved_at.is_(None)) | (Alert.resolved_at >= since))
    order = (Alert.opened_at.desc(), Alert.id)
    return list(session.scalars(query.order_by(*order).limit(min(limit, MAX_PAGE))))


def set_threshold(session: Session, tenant_id: uuid.UUID, rule: str, value: float | None) -> None:
    """Set (or, with None, remove) a tenant's own threshold for a rule."""
    if rule not in RULES:
        raise InvalidInputError(f"unknown alert rule '{rule}'; known: {list(RULES)}")
    row = session.get(AlertSettings, tenant_id)
    if row is None:
        row = AlertSettings(tenant_id=tenant_id, thresholds={})
        session.add(row)
    # A new dict, so the JSON column is seen as changed.
    thresholds = {name: limit for name, limit in row.thresholds.items() if name != rule}
    if value is not None:
        thresholds[rule] = value
    row.thresholds = thresholds
    session.flush()
