"""What the dashboard shows: every property and connection of one tenant, with its state.

Each figure comes from one grouped query over the whole tenant, so the page costs the same
number of queries for one property as for fifty (``tests/admin/test_dashboard.py`` counts them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from innsync.alerts.models import Alert, AlertState
from innsync.connections.models import Connection, ConnectionState
from innsync.inbox.models import PullCursor
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property
from innsync.reservations.models import Reservation, ReservationConflict
from innsync.sync.models import DeadLetter, SyncLogEntry

# Outcomes of a channel request that mean the channel took (some of) what was sent.
PUSHED = ("accepted", "partial")
# Open alerts listed at most (the newest); the count beside the list is exact.
ALERTS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """One connection as the dashboard shows it."""

    id: uuid.UUID
    name: str
    channel: str
    status: str  # "connected" | "needs attention" | "paused" | "pending" | "disabled"
    reason: str
    backlog: int
    dead_letters: int
    last_push: datetime | None
    last_pull: datetime | None
    pull_error: str
    is_paused: bool


@dataclass(frozen=True, slots=True)
class PropertyStatus:
    """One property with its figures for today and its connections."""

    id: uuid.UUID
    name: str
    bookings_today: int
    overbookings: int
    conflicts: int
    connections: list[ConnectionStatus] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    rule: str
    subject_kind: str
    subject_id: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class Dashboard:
    properties: list[PropertyStatus]
    open_alerts: int
    alerts: list[OpenAlert]
    needing_attention: int


def _status(connection: Connection) -> tuple[str, bool]:
    if connection.state == ConnectionState.DISABLED:
        return "disabled", False
    if connection.state == ConnectionState.NEEDS_ATTENTION:
        return "needs attention", False
    if not connection.push_enabled and not connection.pull_enabled:
        return "paused", True
    return ("connected" if connection.state == ConnectionState.CONNECTED else "pending"), False


def _grouped(session: Session, query: object) -> dict[uuid.UUID, int]:
    return {key: int(count) for key, count in session.execute(query)}  # type: ignore[call-overload]


def build_dashboard(session: Session, tenant_id: uuid.UUID, now: datetime) -> Dashboard:
    """The dashboard of one tenant at ``now`` (UTC)."""
    properties = list(
        session.execute(
            select(Property.id, Property.name, Property.timezone)
            .where(Property.tenant_id == tenant_id)
            .order_by(Property.name, Property.id)
        )
    )
    connections = list(
        session.scalars(
            select(Connection)
            .where(Connection.tenant_id == tenant_id)
            .order_by(Connection.name, Connection.id)
        )
    )
    owned = select(Connection.id).where(Connection.tenant_id == tenant_id)
    backlog = _grouped(
        session,
        select(DirtyMark.connection_id, func.count())
        .where(DirtyMark.connection_id.in_(owned))
        .group_by(DirtyMark.connection_id),
    )
    dead = _grouped(
        session,
        select(DeadLetter.connection_id, func.count())
        .where(DeadLetter.connection_id.in_(owned), DeadLetter.replayed_at.is_(None))
        .group_by(DeadLetter.connection_id),
    )
    last_push: dict[uuid.UUID, datetime] = {
        connection_id: moment
        for connection_id, moment in session.execute(
            select(SyncLogEntry.connection_id, func.max(SyncLogEntry.created_at))
            .where(SyncLogEntry.connection_id.in_(owned), SyncLogEntry.outcome.in_(PUSHED))
            .group_by(SyncLogEntry.connection_id)
        )
    }
    pulls = {
        cursor.connection_id: cursor
        for cursor in session.scalars(select(PullCursor).where(PullCursor.tenant_id == tenant_id))
    }
    # "Today" is each property's own calendar day, so one OR of per-property midnights.
    midnights = {
        pid: datetime.combine(now.astimezone(ZoneInfo(tz)).date(), datetime.min.time())
        .replace(tzinfo=ZoneInfo(tz))
        .astimezone(now.tzinfo)
        for pid, _name, tz in properties
    }
    today = or_(
        false(),
        *(
            and_(Reservation.property_id == pid, Reservation.created_at >= midnight)
            for pid, midnight in midnights.items()
        ),
    )
    bookings_today = _grouped(
        session,
        select(Reservation.property_id, func.count())
        .where(Reservation.tenant_id == tenant_id, today)
        .group_by(Reservation.property_id),
    )
    overbooked = _grouped(
        session,
        select(Reservation.property_id, func.count())
        .where(
            Reservation.tenant_id == tenant_id,
            Reservation.is_overbooked.is_(True),
            Reservation.status == "confirmed",
        )
        .group_by(Reservation.property_id),
    )
    conflicts = _grouped(
        session,
        select(ReservationConflict.property_id, func.count())
        .where(ReservationConflict.tenant_id == tenant_id, ReservationConflict.status == "open")
        .group_by(ReservationConflict.property_id),
    )
    is_open = and_(Alert.tenant_id == tenant_id, Alert.state == AlertState.OPEN)
    open_alerts = session.scalar(select(func.count()).select_from(Alert).where(is_open)) or 0
    alerts = [
        OpenAlert(alert.rule, alert.subject_kind, alert.subject_id, alert.opened_at)
        for alert in session.scalars(
            select(Alert)
            .where(is_open)
            .order_by(Alert.opened_at.desc(), Alert.id)
            .limit(ALERTS_SHOWN)
        )
    ]
    by_property: dict[uuid.UUID, list[ConnectionStatus]] = {pid: [] for pid, _n, _t in properties}
    attention = 0
    for connection in connections:
        status, is_paused = _status(connection)
        attention += status == "needs attention"
        cursor = pulls.get(connection.id)
        by_property.setdefault(connection.property_id, []).append(
            ConnectionStatus(
                id=connection.id,
                name=connection.name,
                channel=connection.channel,
                status=status,
                reason=connection.state_reason,
                backlog=backlog.get(connection.id, 0),
                dead_letters=dead.get(connection.id, 0),
                last_push=last_push.get(connection.id),
                last_pull=cursor.last_pulled_at if cursor else None,
                pull_error=cursor.last_error if cursor and cursor.failures else "",
                is_paused=is_paused,
            )
        )
    return Dashboard(
        properties=[
            PropertyStatus(
                id=pid,
                name=name,
                bookings_today=bookings_today.get(pid, 0),
                overbookings=overbooked.get(pid, 0),
                conflicts=conflicts.get(pid, 0),
                connections=by_property[pid],
            )
            for pid, name, _tz in properties
        ],
        open_alerts=open_alerts,
        alerts=alerts,
        needing_attention=attention,
    )


def since(moment: datetime | None, now: datetime) -> str:
    """'3 min ago' style text for a past moment; 'never' for none."""
    if moment is None:
        return "never"
    elapsed = max(now - moment, timedelta(0))
    if elapsed < timedelta(minutes=1):
        return "just now"
    if elapsed < timedelta(hours=1):
        return f"{int(elapsed.total_seconds() // 60)} min ago"
    if elapsed < timedelta(days=1):
        return f"{int(elapsed.total_seconds() // 3600)} h ago"
    return moment.strftime("%Y-%m-%d %H:%M UTC")
