"""The notification loop: send what alert transitions owe their targets, rate-limited.

**Rate limit.** Per target and rule at most one message per window
(``INNSYNC_ALERT_NOTIFY_WINDOW_MINUTES``): a notification due while the window of the last one
sent is running is held until it ends; then every notification held for that target and rule
goes out as one summary (the newest state of each alert, and each change in order). A condition
flapping all day therefore sends one message per window, not one per change.

**Durability.** Rows are claimed with a lease (``SKIP LOCKED``), sent outside any transaction,
then recorded: sent (the first of a summary), folded (the others, pointing at it) or retried
with backoff, and failed after the last attempt. A process that dies mid-send leaves them to
the next pass when the lease ends; the evaluation pass never waits for a send.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.alerts.models import (
    Alert,
    Notification,
    NotificationStatus,
    NotificationTarget,
    TargetKind,
)
from innsync.alerts.notify_transports import (
    Message,
    NotificationSendError,
    SmtpConfig,
    post_slack,
    post_webhook,
    send_email,
)
from innsync.alerts.rules import severity
from innsync.backoff import Backoff
from innsync.crypto import SecretBox, SecretBoxError
from innsync.db import claims
from innsync.db.engine import transaction

logger = logging.getLogger(__name__)
PENDING, SENT = NotificationStatus.PENDING, NotificationStatus.SENT
FOLDED, FAILED = NotificationStatus.FOLDED, NotificationStatus.FAILED
# Longer than one SMTP conversation or webhook call can take (their time-outs are 20 s and
# 10 s), so a live send is not taken twice.
SEND_LEASE = timedelta(seconds=60)
BATCH = 100
# First retry after 30 s, doubling up to every hour: an SMTP server or chat back within the
# day still gets the news, with the default 10 attempts.
RETRY = Backoff(base_seconds=30, cap_seconds=3600, jitter_below=0.0, jitter_above=0.25)


@dataclass(frozen=True)
class Outgoing:
    """One message to send, decided in the claiming transaction."""

    notification_ids: list[int]
    kind: str
    address: str
    secret: str | None
    message: Message


def send_due(
    sessions: sessionmaker[Session],
    box: SecretBox,
    client: httpx.Client,
    smtp: SmtpConfig | None,
    now: datetime,
    *,
    window: timedelta,
    max_attempts: int,
) -> int:
    """One pass; returns how many notifications it settled (sent, folded or held)."""
    with transaction(sessions) as session:
        outgoing, held = _claim(session, box, now, window)
    for item in outgoing:
        error = None
        try:
            deliver(item, client, smtp, now)
        except NotificationSendError as exc:
            error = str(exc)
            logger.warning(
                "alert notification failed",
                exc_info=exc.__cause__,
                extra={"notification_id": item.message.notification_id, "kind": item.kind},
            )
        with transaction(sessions) as session:
            _record(session, item, error, now, max_attempts)
    return held + sum(len(item.notification_ids) for item in outgoing)


def deliver(item: Outgoing, client: httpx.Client, smtp: SmtpConfig | None, now: datetime) -> None:
    if item.kind == TargetKind.EMAIL:
        send_email(smtp, item.address, item.message)
    elif item.kind == TargetKind.WEBHOOK:
        post_webhook(client, item.address, item.secret or "", item.message, int(now.timestamp()))
    else:
        post_slack(client, item.address, item.message)


def _claim(
    session: Session, box: SecretBox, now: datetime, window: timedelta
) -> tuple[list[Outgoing], int]:
    due = claims.claim_due(
        session,
        Notification,
        Notification.next_attempt_at,
        now,
        SEND_LEASE,
        Notification.status == PENDING,
        limit=BATCH,
        order_by=Notification.id,
    )
    groups: dict[tuple[uuid.UUID, str], list[Notification]] = defaultdict(list)
    for row in due:
        groups[(row.target_id, row.rule)].append(row)
    outgoing, held = [], 0
    for (target_id, rule), rows in groups.items():
        target = session.get(NotificationTarget, target_id)
        if target is None or not target.is_active:
            for row in rows:
                row.status, row.last_error = FAILED, "the target was turned off"
            continue
        last_sent = session.scalar(
            select(func.max(Notification.sent_at)).where(
                Notification.target_id == target_id,
                Notification.rule == rule,
                Notification.status == SENT,
            )
        )
        if last_sent is not None and now < _aware(last_sent, now) + window:
            for row in rows:  # held: sent together as one summary when the window ends
                row.next_attempt_at = _aware(last_sent, now) + window
            held += len(rows)
            continue
        try:
            address = box.decrypt(target.address_encrypted)
            secret = (
                None if target.secret_encrypted is None else box.decrypt(target.secret_encrypted)
            )
        except SecretBoxError:
            for row in rows:
                row.status = FAILED
                row.last_error = "the target's address cannot be decrypted with the current keys"
            continue
        message = compose(session, rule, rows)
        ids = [row.id for row in rows]
        outgoing.append(Outgoing(ids, target.kind, address, secret, message))
    return outgoing, held


def _record(
    session: Session, item: Outgoing, error: str | None, now: datetime, max_attempts: int
) -> None:
    rows = [session.get_one(Notification, nid) for nid in item.notification_ids]
    lead = rows[0]
    # One delay for the whole group, so a summary that failed is retried as one summary.
    retry_at = now + RETRY.wait(lead.attempts)
    for row in rows:
        row.attempts += 1
        if error is None:
            row.status = SENT if row is lead else FOLDED
            row.sent_at = now if row is lead else None
            row.folded_into = None if row is lead else lead.id
            row.last_error = None
        elif row.attempts >= max_attempts:
            row.status, row.last_error = FAILED, error[:500]
        else:
            row.last_error, row.next_attempt_at = error[:500], retry_at


def compose(session: Session, rule: str, rows: list[Notification]) -> Message:
    """One alert change as itself; several (a summary after the rate limit) as a list of the
    changes in order and the state each alert is in now."""
    alerts = {
        alert.id: alert
        for alert in session.scalars(select(Alert).where(Alert.id.in_({r.alert_id for r in rows})))
    }
    level = severity(rule)
    changes = [
        {
            "alert_id": str(row.alert_id),
            "transition": row.transition,
            "at": row.created_at.isoformat(),
            "subject": _subject(alerts.get(row.alert_id)),
        }
        for row in rows
    ]
    states = [_state(alert) for alert in alerts.values()]
    if len(rows) == 1:
        alert = alerts.get(rows[0].alert_id)
        subject = f"[innsync] {rows[0].transition.upper()} {rule} ({level}): {_subject(alert)}"
        lines = [
            f"Alert {rule} ({level}) {rows[0].transition} for {_subject(alert)}.",
            *(_describe(state) for state in states),
        ]
    else:
        open_now = sum(1 for state in states if state["state"] == "open")
        subject = f"[innsync] {rule} ({level}): {len(rows)} changes, {open_now} open now"
        lines = [
            f"Rate-limited summary of {len(rows)} changes of alert {rule} ({level}):",
            *(f"- {c['at']} {c['transition']}: {c['subject']}" for c in changes),
            "Now:",
            *(_describe(state) for state in states),
        ]
    document: dict[str, Any] = {
        "kind": "alert.notification",
        "rule": rule,
        "severity": str(level),
        "summary": len(rows) > 1,
        "changes": changes,
        "alerts": states,
    }
    return Message(rows[0].id, subject, "\n".join(lines) + "\n", document)


def trial_message(target: NotificationTarget, now: datetime) -> Message:
    text = (
        f"This is a test notification to '{target.name}' ({target.kind}) sent at "
        f"{now.isoformat()}. Alerts of your innsync tenant will arrive here.\n"
    )
    document = {"kind": "alert.test", "target_id": str(target.id), "at": now.isoformat()}
    return Message(0, "[innsync] test notification", text, document)


def send_test(
    box: SecretBox,
    client: httpx.Client,
    smtp: SmtpConfig | None,
    target: NotificationTarget,
    now: datetime,
) -> str | None:
    """Send a test message to the target at once; the error, or None when it was taken."""
    address = box.decrypt(target.address_encrypted)
    secret = None if target.secret_encrypted is None else box.decrypt(target.secret_encrypted)
    item = Outgoing([], target.kind, address, secret, trial_message(target, now))
    try:
        deliver(item, client, smtp, now)
    except NotificationSendError as exc:
        logger.warning("test notification failed", exc_info=exc.__cause__)
        return str(exc)
    return None


def _subject(alert: Alert | None) -> str:
    return "an alert since deleted" if alert is None else f"{alert.subject_kind} {alert.subject_id}"


def _state(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": str(alert.id),
        "subject_kind": alert.subject_kind,
        "subject_id": alert.subject_id,
        "state": alert.state,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "details": alert.details,
    }


def _describe(state: dict[str, Any]) -> str:
    figures = ", ".join(f"{key}={value}" for key, value in sorted(state["details"].items()))
    when = f"opened {state['opened_at']}"
    if state["resolved_at"]:
        when += f", resolved {state['resolved_at']}"
    subject = f"{state['subject_kind']} {state['subject_id']}"
    return f"- {subject}: {state['state']} ({when}){': ' + figures if figures else ''}"


def _aware(moment: datetime, now: datetime) -> datetime:
    """Aggregates come back naive on SQLite: they are UTC like every stored time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
