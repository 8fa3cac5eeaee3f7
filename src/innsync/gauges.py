"""Gauges read from the database: the backlog, the inbox queue, unacknowledged revisions, open
alerts and open breakers.

Refreshed by the background loops once a pass (``loops.py``, every ``GAUGE_INTERVAL``), with one
aggregate query each, so a scrape never touches the database and many scrapers cost nothing.
Every process running the loops reports the same values: aggregate them with ``max``, not
``sum``, across processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.alerts import metrics as alert_metrics
from innsync.alerts.models import Alert, AlertState
from innsync.alerts.rules import RULE_NAMES
from innsync.connections.models import Connection
from innsync.inbox import metrics as inbox_metrics
from innsync.inbox.models import ACK_DUE, ACK_REFUSED, PARKED, PENDING, REJECTED, InboxItem
from innsync.sync import metrics as sync_metrics
from innsync.sync.state import backlog

# Inbox states that are a queue or need a person; applied and ignored items are history, and
# counting them would read the whole table.
WAITING_STATES = (str(PENDING), str(PARKED), str(REJECTED))
ACK_STATES = (str(ACK_DUE), str(ACK_REFUSED))


def refresh(session: Session, now: datetime) -> None:
    """Set every database gauge from the current rows."""
    marks, oldest_age = backlog(session, now)
    sync_metrics.BACKLOG.set(marks)
    sync_metrics.OLDEST_MARK_AGE.set(oldest_age)
    open_breakers = session.scalar(select(func.count()).where(Connection.breaker_open_until > now))
    sync_metrics.BREAKERS_OPEN.set(int(open_breakers or 0))
    _set_by_label(
        inbox_metrics.INBOX_ITEMS,
        WAITING_STATES,
        session.execute(
            select(InboxItem.status, func.count())
            .where(InboxItem.status.in_(WAITING_STATES))
            .group_by(InboxItem.status)
        ).all(),
    )
    _set_by_label(
        inbox_metrics.UNACKNOWLEDGED,
        ACK_STATES,
        session.execute(
            select(InboxItem.ack_status, func.count())
            .where(InboxItem.ack_status.in_(ACK_STATES))
            .group_by(InboxItem.ack_status)
        ).all(),
    )
    _set_by_label(
        alert_metrics.OPEN,
        RULE_NAMES,
        session.execute(
            select(Alert.rule, func.count())
            .where(Alert.state == AlertState.OPEN)
            .group_by(Alert.rule)
        ).all(),
    )


def _set_by_label(gauge: Gauge, known: tuple[str, ...], rows: Iterable[Sequence[Any]]) -> None:
    """Every label value known or reported before is set, to 0 when no row names it now, so a
    cleared state reads 0 rather than keeping its last count."""
    counts = {str(label): int(count) for label, count in rows}
    reported = {
        value
        for metric in gauge.collect()
        for sample in metric.samples
        for value in sample.labels.values()
    }
    for label in {*known, *reported, *counts}:
        gauge.labels(label).set(counts.get(label, 0))
