"""The daily full sync: at most once per 24 h per connection, off-peak in the property's time
zone, staggered so that thousands of properties do not all start at 02:00."""

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.connections.service import start_full_syncs
from innsync.properties.models import Property

# Off-peak window in local time: few bookings and rate changes happen at night.
OFF_PEAK_START = time(2, 0)
OFF_PEAK_MINUTES = 180
MIN_INTERVAL = timedelta(hours=24)


def stagger_minutes(connection_id: object) -> int:
    """A stable offset into the off-peak window, spread evenly over connections."""
    digest = hashlib.sha256(str(connection_id).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (OFF_PEAK_MINUTES - 30)


def is_due(connection: Connection, timezone: str, now: datetime) -> bool:
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
    """Start every full sync that is due now; returns how many were started."""
    query = (
        select(Connection, Property.timezone)
        .join(Property, Property.id == Connection.property_id)
        .where(Connection.push_enabled.is_(True), Connection.state.in_(("pending", "connected")))
    )
    due = [
        connection
        for connection, timezone in session.execute(query).all()
        if is_due(connection, timezone, now)
    ]
    return len(start_full_syncs(session, due, now))
