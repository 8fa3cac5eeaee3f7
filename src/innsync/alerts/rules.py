"""The alert rules: each finds the subjects whose condition holds now, with the figures why.

A rule reads only aggregates (counts, times, states, at most a channel's error as innsync
describes it); what it finds goes into an alert's details, so no guest's data ever reaches an
alert. Thresholds come per tenant (``alert_settings``) or from the installation's settings
(:func:`global_thresholds`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from innsync.backups.models import BackupOperation
from innsync.backups.schedule import SCHEDULE_ACTOR as BACKUP_ACTOR
from innsync.channels import registry
from innsync.connections.credentials import ChannelCredential
from innsync.connections.lapse import refresh_token_lapses_at
from innsync.connections.models import (
    ACCOUNT_FEED_MEMBER,
    ChannelAccount,
    Connection,
    ConnectionState,
)
from innsync.events.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from innsync.inbox.models import (
    ACK_DUE,
    PARKED,
    PENDING,
    AccountPullCursor,
    InboxItem,
    PullCursor,
)
from innsync.marketplace.models import AriSource
from innsync.outbox.models import PUSH_DONE, PUSH_PENDING, BookingPush, DirtyMark
from innsync.reservations.models import Reservation, ReservationConflict
from innsync.settings import Settings
from innsync.sync.models import SyncLogEntry
from innsync.tenants.models import Tenant


class AlertRule(StrEnum):
    """The rules; stored as these strings (``alerts.rule``, keys of ``alert_settings``)."""

    SYNC_SUCCESS = "sync_success_low"
    BACKLOG = "backlog_high"
    CHANNEL_DOWN = "channel_down"
    NEEDS_ATTENTION = "connection_needs_attention"
    CONFLICTS = "conflicts_high"
    WEBHOOKS_FAILING = "webhook_deliveries_failing"
    PULL_FAILING = "pull_failing"
    MARKETPLACE_UNCONFIRMED = "marketplace_booking_unconfirmed"
    OVERBOOKING = "overbooking"
    BACKUP_FAILING = "backup_failing"
    TOKEN_REFRESH = "token_refresh_failing"  # noqa: S105  (a rule name, not a password)
    CONFIRMATION_OVERDUE = "confirmation_overdue"


class Severity(StrEnum):
    """How loud a rule is; a notification target takes its rules at or above a severity."""

    WARNING = "warning"
    CRITICAL = "critical"


SYNC_SUCCESS = AlertRule.SYNC_SUCCESS
BACKLOG = AlertRule.BACKLOG
CHANNEL_DOWN = AlertRule.CHANNEL_DOWN
NEEDS_ATTENTION = AlertRule.NEEDS_ATTENTION
CONFLICTS = AlertRule.CONFLICTS
WEBHOOKS_FAILING = AlertRule.WEBHOOKS_FAILING
PULL_FAILING = AlertRule.PULL_FAILING
MARKETPLACE_UNCONFIRMED = AlertRule.MARKETPLACE_UNCONFIRMED
OVERBOOKING = AlertRule.OVERBOOKING
BACKUP_FAILING = AlertRule.BACKUP_FAILING
TOKEN_REFRESH = AlertRule.TOKEN_REFRESH
CONFIRMATION_OVERDUE = AlertRule.CONFIRMATION_OVERDUE
# Rules where a guest, a booking or the installation's safety net is at stake now; the others
# are warnings. Notification targets filter on it (``min_severity``).
CRITICAL_RULES = frozenset(
    {
        OVERBOOKING,
        CHANNEL_DOWN,
        BACKUP_FAILING,
        TOKEN_REFRESH,
        CONFIRMATION_OVERDUE,
        MARKETPLACE_UNCONFIRMED,
    }
)

# Sync log outcomes where the channel answered; "unavailable" and "auth" mean it did not (down).
ANSWERED = ("accepted", "partial", "rejected")
DOWN = ("unavailable", "auth")
# The windows the rules look at, from the Beds24 design's operator alerts.
SYNC_WINDOW = timedelta(hours=1)
CONFLICT_WINDOW = timedelta(days=1)
WEBHOOK_WINDOW = timedelta(hours=1)
# How far back a down channel's failures are read: bounds the scan of the sync log.
DOWN_LOOKBACK = timedelta(days=1)
# Inbox items whose booking the channel has not had acknowledged yet (besides ``ack_status``
# due): still to apply, or parked for a person (an unmapped room, say).
UNCONFIRMED_STATUSES = (PENDING, PARKED)
DISABLED = ConnectionState.DISABLED


@dataclass(frozen=True)
class Finding:
    """A subject of one tenant for which a rule's condition holds now."""

    tenant_id: uuid.UUID
    subject_kind: str
    subject_id: str
    details: dict[str, Any] = field(default_factory=dict)


Thresholds = Callable[[uuid.UUID], float]
RuleCheck = Callable[[Session, datetime, Thresholds], list[Finding]]


def sync_success_low(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Connections whose share of accepted channel requests in the last hour is below the
    threshold (percent)."""
    rows = session.execute(
        select(
            Connection.tenant_id,
            Connection.id,
            func.count(),
            func.sum(case((SyncLogEntry.outcome == "accepted", 1), else_=0)),
        )
        .select_from(SyncLogEntry)
        .join(Connection, Connection.id == SyncLogEntry.connection_id)
        .where(SyncLogEntry.created_at > now - SYNC_WINDOW, SyncLogEntry.created_at <= now)
        .group_by(Connection.tenant_id, Connection.id)
    ).all()
    found = []
    for tenant_id, connection_id, total, accepted in rows:
        percent = 100.0 * int(accepted or 0) / int(total)
        if percent < threshold(tenant_id):
            details: dict[str, Any] = {"requests": int(total), "accepted": int(accepted or 0)}
            details |= {"success_percent": round(percent, 2), "threshold": threshold(tenant_id)}
            found.append(Finding(tenant_id, "connection", str(connection_id), details))
    return found


def backlog_high(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Tenants with more dirty marks waiting to be pushed than the threshold."""
    rows = session.execute(
        select(Connection.tenant_id, func.count())
        .select_from(DirtyMark)
        .join(Connection, Connection.id == DirtyMark.connection_id)
        .group_by(Connection.tenant_id)
    ).all()
    return [
        Finding(tenant_id, "tenant", str(tenant_id), {"marks": int(count), "threshold": limit})
        for tenant_id, count in rows
        if int(count) > (limit := threshold(tenant_id))
    ]


def channel_down(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Connections whose channel has not answered (unavailable or auth) for longer than the
    threshold (minutes): every request since the first failure after the last answer failed."""
    since = now - DOWN_LOOKBACK
    last_answer = (
        select(SyncLogEntry.connection_id, func.max(SyncLogEntry.created_at).label("at"))
        .where(SyncLogEntry.outcome.in_(ANSWERED), SyncLogEntry.created_at > since)
        .group_by(SyncLogEntry.connection_id)
        .subquery()
    )
    rows = session.execute(
        select(Connection.tenant_id, Connection.id, func.min(SyncLogEntry.created_at))
        .select_from(SyncLogEntry)
        .join(Connection, Connection.id == SyncLogEntry.connection_id)
        .outerjoin(last_answer, last_answer.c.connection_id == SyncLogEntry.connection_id)
        .where(
            SyncLogEntry.outcome.in_(DOWN),
            SyncLogEntry.created_at > since,
            SyncLogEntry.created_at <= now,
            (last_answer.c.at.is_(None)) | (SyncLogEntry.created_at > last_answer.c.at),
        )
        .group_by(Connection.tenant_id, Connection.id)
    ).all()
    found = []
    for tenant_id, connection_id, failing_since in rows:
        minutes = (now - _aware(failing_since, now)).total_seconds() / 60
        if minutes > threshold(tenant_id):
            details = {"down_minutes": round(minutes, 1), "threshold": threshold(tenant_id)}
            found.append(Finding(tenant_id, "connection", str(connection_id), details))
    return found


def connection_needs_attention(
    session: Session, now: datetime, threshold: Thresholds
) -> list[Finding]:
    """Connections in ``needs_attention`` (refresh token lapsing or refused, credentials
    rejected, a test kind outside development...); the threshold is unused."""
    rows = session.execute(
        select(Connection.tenant_id, Connection.id, Connection.channel).where(
            Connection.state == ConnectionState.NEEDS_ATTENTION
        )
    ).all()
    return [
        Finding(tenant_id, "connection", str(connection_id), {"channel": channel})
        for tenant_id, connection_id, channel in rows
    ]


def conflicts_high(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Tenants whose conflicts of the last day exceed the threshold (percent) of the bookings
    created or changed in that day."""
    since = now - CONFLICT_WINDOW
    conflicts = dict(
        session.execute(
            select(ReservationConflict.tenant_id, func.count())
            .where(ReservationConflict.created_at > since, ReservationConflict.created_at <= now)
            .group_by(ReservationConflict.tenant_id)
        ).all()
    )
    if not conflicts:
        return []
    bookings = dict(
        session.execute(
            select(Reservation.tenant_id, func.count())
            .where(
                Reservation.tenant_id.in_(list(conflicts)),
                Reservation.updated_at > since,
                Reservation.updated_at <= now,
            )
            .group_by(Reservation.tenant_id)
        ).all()
    )
    found = []
    for tenant_id, count in conflicts.items():
        # A conflict's reservation was changed by it, so it counts among the day's bookings.
        total = max(int(bookings.get(tenant_id, 0)), int(count))
        percent = 100.0 * int(count) / total
        if percent > threshold(tenant_id):
            details: dict[str, Any] = {"conflicts": int(count), "bookings": total}
            details |= {"conflict_percent": round(percent, 2), "threshold": threshold(tenant_id)}
            found.append(Finding(tenant_id, "tenant", str(tenant_id), details))
    return found


def webhook_deliveries_failing(
    session: Session, now: datetime, threshold: Thresholds
) -> list[Finding]:
    """PMS webhook subscriptions with at least the threshold of deliveries of the last hour
    not delivered after an attempt (still retrying, or given up)."""
    rows = session.execute(
        select(WebhookSubscription.tenant_id, WebhookSubscription.id, func.count())
        .select_from(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status != DeliveryStatus.DELIVERED,
            # An attempt that failed: a delivery only claimed (attempts counted, the answer not
            # recorded yet) is in flight, not failing.
            WebhookDelivery.last_error.is_not(None),
            WebhookDelivery.created_at > now - WEBHOOK_WINDOW,
            WebhookDelivery.created_at <= now,
        )
        .group_by(WebhookSubscription.tenant_id, WebhookSubscription.id)
    ).all()
    return [
        Finding(tenant_id, "subscription", str(sub_id), {"failing": int(n), "threshold": limit})
        for tenant_id, sub_id, n in rows
        if int(n) >= (limit := threshold(tenant_id))
    ]


def pull_failing(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Connections whose reading of booking revisions (feed or pull) failed at least the
    threshold of times in a row, read on their own or with their channel account's feed
    (:func:`account_feed_failing`); a successful read resets the count and clears it."""
    rows = session.execute(
        select(PullCursor.tenant_id, PullCursor.connection_id, PullCursor.failures).where(
            PullCursor.failures > 0
        )
    ).all()
    found = {
        connection_id: Finding(
            tenant_id, "connection", str(connection_id), {"failures": n, "threshold": limit}
        )
        for tenant_id, connection_id, n in rows
        if n >= (limit := threshold(tenant_id))
    }
    # A connection read account-wide has its own count cleared on its next turn: until then a
    # count left from before it joined the account is stale, and the account's read is the one
    # that tells.
    found |= {uuid.UUID(f.subject_id): f for f in account_feed_failing(session, threshold)}
    return list(found.values())


def account_feed_failing(session: Session, threshold: Thresholds) -> list[Finding]:
    """The connections an account-wide feed is read for (``inbox.account_feeds``) while that
    read has failed at least their tenant's threshold of times in a row.

    Told per connection, not once per account: an alert belongs to a tenant and the account
    to none (several tenants' connections share it), and this rule's subject is the connection
    whose bookings are not coming in. The error is the channel's answer as the account's
    cursor keeps it (``containment.describe``, bounded), the text the connections' own
    ``needs_attention`` reason shows their tenant; never a key.
    """
    rows = session.execute(
        select(
            Connection.tenant_id,
            Connection.id,
            ChannelAccount.name,
            AccountPullCursor.failures,
            AccountPullCursor.last_error,
        )
        .select_from(AccountPullCursor)
        .join(ChannelAccount, ChannelAccount.id == AccountPullCursor.account_id)
        .join(Connection, Connection.account_id == AccountPullCursor.account_id)
        .where(
            AccountPullCursor.failures > 0,
            *ACCOUNT_FEED_MEMBER,
        )
    ).all()
    found = []
    for tenant_id, connection_id, account, n, last_error in rows:
        if n >= (limit := threshold(tenant_id)):
            message = f"the account-wide read of booking revisions (channel account '{account}')"
            message += f" failed {n} times in a row: {last_error}"
            details: dict[str, Any] = {"failures": n, "threshold": limit, "account": account}
            details |= {"last_error": last_error, "message": message}
            found.append(Finding(tenant_id, "connection", str(connection_id), details))
    return found


def marketplace_booking_unconfirmed(
    session: Session, now: datetime, threshold: Thresholds
) -> list[Finding]:
    """Marketplace bookings still ``pending`` or ``pushed`` (the hotel has not accepted them)
    longer than the threshold (minutes) after their current revision was queued."""
    rows = session.execute(
        select(
            BookingPush.tenant_id,
            BookingPush.reservation_id,
            BookingPush.state,
            BookingPush.queued_at,
            BookingPush.attempts,
        ).where(
            BookingPush.state.in_((PUSH_PENDING, PUSH_DONE)),
            BookingPush.queued_at.is_not(None),
            BookingPush.connection_id.in_(select(AriSource.connection_id)),
        )
    ).all()
    found = []
    for tenant_id, reservation_id, state, queued_at, attempts in rows:
        if queued_at is None:  # excluded by the query; typed as nullable
            continue
        minutes = (now - _aware(queued_at, now)).total_seconds() / 60
        if minutes > (limit := threshold(tenant_id)):
            details = {"status": state, "waiting_minutes": round(minutes, 1), "threshold": limit}
            details["attempts"] = attempts
            found.append(Finding(tenant_id, "reservation", str(reservation_id), details))
    return found


def overbooking(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Confirmed reservations flagged overbooked whose stay is not over: opens on the first
    pass that sees the flag (no delay; the threshold is unused), resolves when the booking is
    cancelled or its stay has passed."""
    rows = session.execute(
        select(
            Reservation.tenant_id,
            Reservation.id,
            Reservation.property_id,
            Reservation.channel,
            Reservation.arrival,
            Reservation.departure,
        ).where(
            Reservation.is_overbooked.is_(True),
            Reservation.status == "confirmed",
            Reservation.departure > now.date(),
        )
    ).all()
    return [
        Finding(
            tenant_id,
            "reservation",
            str(reservation_id),
            {
                "property_id": str(property_id),
                "channel": channel,
                "arrival": arrival.isoformat(),
                "departure": departure.isoformat(),
            },
        )
        for tenant_id, reservation_id, property_id, channel, arrival, departure in rows
    ]


def backup_failing(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """The installation's scheduled backups, told to every tenant: the last scheduled backup
    (or its verification) failed, or none succeeded within the threshold (minutes) although
    the schedule has been trying for longer. A threshold of 0 turns the rule off (no schedule).
    """
    last = session.execute(
        select(BackupOperation.outcome, BackupOperation.started_at, BackupOperation.detail)
        .where(
            BackupOperation.actor == BACKUP_ACTOR,
            BackupOperation.operation.in_(("create", "verify")),
            BackupOperation.started_at <= now,
        )
        .order_by(BackupOperation.started_at.desc(), BackupOperation.id.desc())
        .limit(1)
    ).first()
    first_try = session.scalar(
        select(func.min(BackupOperation.started_at)).where(BackupOperation.actor == BACKUP_ACTOR)
    )
    last_ok = session.scalar(
        select(func.max(BackupOperation.started_at)).where(
            BackupOperation.actor == BACKUP_ACTOR,
            BackupOperation.operation == "create",
            BackupOperation.outcome == "ok",
            BackupOperation.started_at <= now,
        )
    )
    if first_try is None:
        return []  # the schedule has not run here: nothing to judge
    found = []
    for tenant_id in session.scalars(select(Tenant.id)):
        limit = threshold(tenant_id)
        if limit <= 0:
            continue
        details: dict[str, Any] = {"threshold": limit}
        if last is not None and last.outcome != "ok":
            details |= {"last_failed_at": _aware(last.started_at, now).isoformat()}
        since = _aware(last_ok if last_ok is not None else first_try, now)
        late = (now - since).total_seconds() / 60
        if last_ok is None or late > limit:
            details |= {"minutes_without_success": round(late, 1)}
        if len(details) > 1:
            found.append(Finding(tenant_id, "installation", "backups", details))
    return found


def token_refresh_failing(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Connections whose last refresh of a channel credential failed (a success clears it), or
    whose refresh token lapses unused within the threshold (days; ``connections/lapse.py``)."""
    failing: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    rows = session.execute(
        select(
            Connection.tenant_id,
            Connection.id,
            func.max(ChannelCredential.refresh_failures),
            func.max(ChannelCredential.refresh_failed_at),
        )
        .join(ChannelCredential, ChannelCredential.connection_id == Connection.id)
        .where(ChannelCredential.refresh_failures > 0, Connection.state != DISABLED)
        .group_by(Connection.tenant_id, Connection.id)
    ).all()
    for tenant_id, connection_id, failures, failed_at in rows:
        failing[(tenant_id, connection_id)] = {
            "refresh_failures": int(failures),
            "last_failed_at": _aware(failed_at, now).isoformat() if failed_at else None,
        }
    lapsing = [name for name in registry.kinds() if registry.get(name).refresh_token_lapse]
    watched = session.scalars(
        select(Connection).where(Connection.state != DISABLED, Connection.channel.in_(lapsing))
    )
    for connection in watched:
        lapses_at = refresh_token_lapses_at(session, connection)
        days = threshold(connection.tenant_id)
        if lapses_at is not None and now >= lapses_at - timedelta(days=days):
            details = failing.setdefault((connection.tenant_id, connection.id), {})
            details |= {"refresh_token_lapses_at": lapses_at.isoformat(), "threshold": days}
    return [
        Finding(tenant_id, "connection", str(connection_id), details)
        for (tenant_id, connection_id), details in failing.items()
    ]


def confirmation_overdue(session: Session, now: datetime, threshold: Thresholds) -> list[Finding]:
    """Connections of a channel kind with a confirmation deadline (``ChannelKind.
    confirm_deadline``: Booking.com's e-mail fallback, Expedia's BC) holding a booking received
    longer than the threshold (minutes) ago and not yet acknowledged: still to apply, parked,
    or applied with its acknowledgement not taken yet."""
    deadlines = {
        name: deadline
        for name in registry.kinds()
        if (deadline := registry.get(name).confirm_deadline) is not None
    }
    if not deadlines:
        return []
    rows = session.execute(
        select(
            Connection.tenant_id,
            Connection.id,
            Connection.channel,
            func.count(),
            func.min(InboxItem.received_at),
        )
        .select_from(InboxItem)
        .join(Connection, Connection.id == InboxItem.connection_id)
        .where(
            Connection.channel.in_(list(deadlines)),
            InboxItem.received_at <= now,
            (InboxItem.status.in_(UNCONFIRMED_STATUSES)) | (InboxItem.ack_status == ACK_DUE),
        )
        .group_by(Connection.tenant_id, Connection.id, Connection.channel)
    ).all()
    found = []
    for tenant_id, connection_id, channel, count, oldest in rows:
        minutes = (now - _aware(oldest, now)).total_seconds() / 60
        if minutes > (limit := threshold(tenant_id)):
            details: dict[str, Any] = {"channel": channel, "unconfirmed": int(count)}
            details |= {"oldest_minutes": round(minutes, 1), "threshold": limit}
            details |= {"deadline_minutes": deadlines[channel].total_seconds() / 60}
            found.append(Finding(tenant_id, "connection", str(connection_id), details))
    return found


RULES: Mapping[AlertRule, RuleCheck] = {
    SYNC_SUCCESS: sync_success_low,
    BACKLOG: backlog_high,
    CHANNEL_DOWN: channel_down,
    NEEDS_ATTENTION: connection_needs_attention,
    CONFLICTS: conflicts_high,
    WEBHOOKS_FAILING: webhook_deliveries_failing,
    PULL_FAILING: pull_failing,
    MARKETPLACE_UNCONFIRMED: marketplace_booking_unconfirmed,
    OVERBOOKING: overbooking,
    BACKUP_FAILING: backup_failing,
    TOKEN_REFRESH: token_refresh_failing,
    CONFIRMATION_OVERDUE: confirmation_overdue,
}
RULE_NAMES = tuple(str(rule) for rule in RULES)


def global_thresholds(settings: Settings) -> dict[AlertRule, float]:
    """The installation's threshold of each rule, from the settings."""
    return {
        SYNC_SUCCESS: settings.alert_sync_success_percent,
        BACKLOG: float(settings.alert_backlog_marks),
        CHANNEL_DOWN: settings.alert_channel_down_minutes,
        NEEDS_ATTENTION: 0.0,
        CONFLICTS: settings.alert_conflict_percent,
        WEBHOOKS_FAILING: float(settings.alert_webhook_failures),
        PULL_FAILING: float(settings.alert_pull_failures),
        MARKETPLACE_UNCONFIRMED: settings.alert_marketplace_unconfirmed_minutes,
        OVERBOOKING: 0.0,
        BACKUP_FAILING: backup_threshold(settings),
        TOKEN_REFRESH: settings.refresh_token_warning_days,
        CONFIRMATION_OVERDUE: settings.alert_confirmation_minutes,
    }


def severity(rule: str) -> Severity:
    return Severity.CRITICAL if rule in CRITICAL_RULES else Severity.WARNING


def backup_threshold(settings: Settings) -> float:
    """Minutes without a successful scheduled backup before the alert; 0 (off) when the
    schedule is off, twice its interval unless the setting says otherwise."""
    if settings.backup_key is None or settings.backup_schedule_minutes <= 0:
        return 0.0
    return settings.alert_backup_late_minutes or 2.0 * settings.backup_schedule_minutes


def _aware(moment: datetime, now: datetime) -> datetime:
    """Aggregates (MIN/MAX) come back naive on SQLite: they are UTC like every stored time."""
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)
