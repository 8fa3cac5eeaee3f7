"""Closed dates a channel shows without a booking (an iCal feed's "Not available"), mirrored as
innsync blocks owned by the connection, so every other channel stops selling those nights."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import ClosedDates
from innsync.connections.models import Connection, RoomTypeMapping
from innsync.inventory.availability import replace_channel_blocks
from innsync.inventory.models import Block
from innsync.properties.models import Property, RoomType
from innsync.properties.service import horizon
from innsync.stay_dates import DateRange


def apply_closed(
    session: Session, connection: Connection, closed: Sequence[ClosedDates], now: datetime
) -> int:
    """Replace the connection's blocks by ``closed``, in the caller's transaction (the page's).

    Ranges are cut at the property's horizon and dropped once over; a room code the connection
    does not map closes nothing. Returns how many blocks were added or removed."""
    rows = session.execute(
        select(RoomTypeMapping.channel_code, RoomTypeMapping.room_type_id).where(
            RoomTypeMapping.connection_id == connection.id
        )
    )
    mapped = {code: room_type_id for code, room_type_id in rows}
    window = horizon(session.get_one(Property, connection.property_id), now)
    # Room types holding the connection's blocks but no longer mapped are emptied too.
    holding = session.scalars(
        select(Block.room_type_id).where(Block.connection_id == connection.id).distinct()
    )
    wanted: dict[uuid.UUID, list[DateRange]] = {
        room_type_id: [] for room_type_id in {*mapped.values(), *holding}
    }
    for item in closed:
        room_type_id = mapped.get(item.room_type_code)
        end = min(item.end, window.end)
        if room_type_id is None or end <= window.start or end <= item.start:
            continue
        wanted[room_type_id].append(DateRange(item.start, end))
    changed = 0
    for room_type_id in sorted(wanted):  # one lock order for every process
        room_type = session.get_one(RoomType, room_type_id)
        ranges = wanted[room_type_id]
        reason = f"closed on {connection.name}"[:2000]
        changed += replace_channel_blocks(session, connection.id, room_type, ranges, reason)
    return changed
