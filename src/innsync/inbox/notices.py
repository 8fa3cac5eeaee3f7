"""Telling the PMS about inbound trouble: channel notices (webhooks that are not booking
revisions) and whatever waits for a person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from innsync import containment
from innsync.channels.types import ChannelNotice
from innsync.connections.models import Connection
from innsync.connections.otas import record_ota
from innsync.events import kinds
from innsync.events.service import emit
from innsync.inbox.models import AccountPullCursor, PullCursor


def report_notice(
    session: Session, connection: Connection, notice: ChannelNotice, item_id: int, now: datetime
) -> None:
    """Tell the PMS, in the item's transaction; a missed acknowledgement makes innsync read the
    channel's revisions again at once (the reconciler acknowledges what it applies)."""
    payload = {
        "connection_id": str(connection.id),
        "inbox_item_id": item_id,
        "kind": notice.kind,
        "message": notice.message[:500],
        "details": dict(notice.details),
    }
    emit(
        session,
        connection.tenant_id,
        kinds.CONNECTION_CHANNEL_NOTICE,
        payload,
        property_id=connection.property_id,
        subject_id=str(connection.id),
    )
    if notice.kind == "needs_attention":
        report_needs_attention(session, connection, "channel_notice", notice.message, item_id)
    if notice.ota is not None:
        record_ota(session, connection, notice.ota, notice.details.get("event", notice.kind), now)
    elif notice.kind == "sync_error":  # an error naming no OTA still needs a person
        containment.needs_attention(session, connection, notice.message)
    if notice.kind == "revision_unacknowledged":
        # Read the feed again now: the connection's own, or its account's when the account's
        # feed is read for it (inbox.account_feeds).
        session.execute(
            update(PullCursor)
            .where(PullCursor.connection_id == connection.id, PullCursor.next_pull_at > now)
            .values(next_pull_at=now)
        )
        if connection.account_id is not None:
            session.execute(
                update(AccountPullCursor)
                .where(
                    AccountPullCursor.account_id == connection.account_id,
                    AccountPullCursor.next_pull_at > now,
                )
                .values(next_pull_at=now)
            )


def report_needs_attention(
    session: Session,
    connection: Connection,
    status: str,
    reason: str,
    inbox_item_id: int | None = None,
) -> None:
    """A ``connection.needs_attention`` event: something inbound waits for a person."""
    payload: dict[str, object] = {
        "connection_id": str(connection.id),
        "status": status,
        "reason": reason[:500],
    }
    if inbox_item_id is not None:
        payload["inbox_item_id"] = inbox_item_id
    emit(
        session,
        connection.tenant_id,
        kinds.CONNECTION_NEEDS_ATTENTION,
        payload,
        property_id=connection.property_id,
        subject_id=str(connection.id),
    )
