"""The OTAs behind a channel-manager connection: what each is, its state, since when, its last
error.

Two sources keep the records: the channel's lifecycle and health webhooks (one OTA at a time,
as they happen) and the reconciler's reading of the channel's own list (all OTAs at once, so a
lost webhook cannot hide a disconnected OTA). An OTA that falls into trouble (disconnected, or
failing to receive values) puts the connection in ``needs_attention`` with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync import containment
from innsync.channels.types import OTA_TROUBLE_STATES, OtaChannel
from innsync.connections.models import Connection, ConnectionOta

# The source name of records written from the channel's own list of OTAs.
CHANNEL_LIST = "channel_list"
MAX_ERROR = 500


def record_ota(
    session: Session, connection: Connection, report: OtaChannel, source: str, now: datetime
) -> ConnectionOta:
    """Keep what the channel said of one OTA, in the caller's transaction."""
    row = session.scalars(
        select(ConnectionOta).where(
            ConnectionOta.connection_id == connection.id,
            ConnectionOta.channel_code == report.channel_code,
        )
    ).one_or_none()
    if row is None:
        row = ConnectionOta(
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            channel_code=report.channel_code,
            ota=report.ota,
            state=report.state,
            state_since=now,
            last_source=source,
        )
        session.add(row)
        changed = True
    else:
        changed = row.state != report.state
        if changed:
            row.state, row.state_since = report.state, now
        if report.ota != "unknown":  # a payload without the OTA's name keeps the known one
            row.ota = report.ota
        row.last_source = source
    if report.error:
        row.last_error, row.last_error_at = report.error[:MAX_ERROR], now
    if changed and report.state in OTA_TROUBLE_STATES:
        reason = f"{row.ota} on {connection.channel} is {report.state.replace('_', ' ')} ({source})"
        if report.error:
            reason += f": {report.error[:MAX_ERROR]}"
        containment.needs_attention(session, connection, reason)
    return row


def reconcile_otas(
    session: Session, connection: Connection, listed: Sequence[OtaChannel], now: datetime
) -> int:
    """Bring the records in line with the channel's full list; returns how many changed state."""
    changes = ota_changes(list_for(session, connection.id), listed)
    for report in changes:
        record_ota(session, connection, report, CHANNEL_LIST, now)
    return len(changes)


class RecordedOta(Protocol):
    """What comparing needs of a record: a ``ConnectionOta``, or a row of those columns."""

    @property
    def channel_code(self) -> str: ...
    @property
    def ota(self) -> str: ...
    @property
    def state(self) -> str: ...


def ota_changes(records: Sequence[RecordedOta], listed: Sequence[OtaChannel]) -> list[OtaChannel]:
    """What the channel's full list changes in the records: nothing when it is as recorded.

    An OTA the list no longer shows is disconnected. A sync error or warning is not in the
    list, so an OTA listed as active keeps such a state until a webhook says otherwise.
    """
    rows = {row.channel_code: row for row in records}
    changes = []
    for report in listed:
        row = rows.pop(report.channel_code, None)
        keeps_health_state = (
            row is not None
            and report.state == "active"
            and row.state in ("sync_error", "sync_warning")
        )
        if row is None or not (row.state == report.state or keeps_health_state):
            changes.append(report)
    changes.extend(
        OtaChannel(row.channel_code, row.ota, "disconnected", "no longer listed")
        for row in rows.values()
        if row.state != "disconnected"
    )
    return changes


def list_for(session: Session, connection_id: uuid.UUID) -> list[ConnectionOta]:
    """The connection's OTAs by name; the caller has already scoped the connection to a tenant."""
    query = select(ConnectionOta).where(ConnectionOta.connection_id == connection_id)
    return list(session.scalars(query.order_by(ConnectionOta.ota, ConnectionOta.channel_code)))
