"""The daily full sync: at most once per 24 h per connection, off-peak in the property's time
zone, staggered so that thousands of properties do not all start at 02:00."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.connections.service import start_full_syncs
from innsync.properties.models import Property

# Off-peak window in local time: few bookings and rate changes happen at night.
OFF_PEAK_START = time(2, 0)
OFF_PEAK_MINUTES = 180
MIN_INTERVAL = timedelta(hours=24)
# Due connections loaded per query (a bound on the IN list).
LOAD_CHUNK = 500


def stagger_minutes(connection_id: object) -> int:
    """A stable offset into the off-peak window, spread evenly over connections."""
    digest = hashlib.sha256(str(connection_id).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (OFF_PEAK_MINUTES - 30)


class Scheduled(Protocol):
    """What the schedule needs of a connection: a connection, or a row of its columns."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def last_full_sync_at(self) -> datetime | None: ...


def is_due(connection: Scheduled, timezone: str, now: datetime) -> bool:
    if (
        connection.last_full_sync_at is not None
        and now - connection.last_full_sync_at < MIN_INTERVAL
    ):
        return False
    local = now.astimezone(ZoneInfo(timezone))
    start = datetime.combine(local.date(), OFF_PEAK_START, local.tzinfo)
    slot = start + timedelta(minutes=stagger_minutes(connection.id))
    return slot <= local < start + timedelta(minutes=OFF_PEAK_MINUTES)


def start_due_full_syncs(session: Session, now: datetime) -> int:
    """Start every full sync that is due now; returns how many were started.

    Every process runs this once a minute, so it reads only the columns the decision needs, of
    the connections not fully synced within a day: loading every connection of the fleet each
    time cost a pass 0.2 s at 4,000 connections, and more the larger the fleet.
    """
    candidates = session.execute(
        select(Connection.id, Connection.last_full_sync_at, Property.timezone)
        .join(Property, Property.id == Connection.property_id)
        .where(
            Connection.push_enabled.is_(True),
            Connection.state.in_(("pending", "connected")),
            or_(
                Connection.last_full_sync_at.is_(None),
                Connection.last_full_sync_at <= now - MIN_INTERVAL,
            ),
        )
    ).all()
    due_ids = [row.id for row in candidates if is_due(row, row.timezone, now)]
    due = [
        connection
        for first in range(0, len(due_ids), LOAD_CHUNK)
        for connection in session.scalars(
            select(Connection)
            .where(Connection.id.in_(due_ids[first : first + LOAD_CHUNK]))
            .order_by(Connection.id)
        )
    ]
    return len(start_full_syncs(session, due, now))
