"""Stop sells a rates push lifts, and the units innsync holds on those dates.

Some channels (Beds24, §2.6 of its notes) set a room's availability to its maximum when a
rates write lifts a stop sell without availability in the same entry; the engine gives such a
channel the units to send with the lift (``ChannelLimits.lifting_stop_sell_sets_availability``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy.orm import Session

from innsync.channels.types import RatePlanKey, RateUpdate, RateValues
from innsync.stay_dates import DateRange, ranges_from_dates
from innsync.sync.desired import Mappings, desired_availability
from innsync.sync.state import DirtySet, acked_availability


def lifted_stop_sells(
    updates: Sequence[RateUpdate], acked: Mapping[RatePlanKey, Mapping[date, RateValues]]
) -> dict[str, list[DateRange]]:
    """Per room type code, the dates these updates open where the channel holds, or may hold
    (nothing acknowledged), a stop sell."""
    lifted: dict[str, set[date]] = {}
    for update in updates:
        if update.values.stop_sell is not False:
            continue
        held = acked.get(update.rate_plan, {})
        days = {
            day
            for day in update.covered_dates()
            if (values := held.get(day)) is None or values.stop_sell is not False
        }
        if days:
            lifted.setdefault(update.room_type_code, set()).update(days)
    return {code: ranges_from_dates(days) for code, days in lifted.items()}


def held_availability(
    session: Session,
    connection_id: uuid.UUID,
    mappings: Mappings,
    lifted: Mapping[str, Sequence[DateRange]],
) -> dict[str, dict[date, int]]:
    """The units the channel should keep on the lifted dates: what it acknowledged (a newer
    value still waiting for its availability push is sent by that push), else innsync's."""
    dirty = DirtySet()
    for code, ranges in lifted.items():
        room_type_id = mappings.room_type_id(code)
        if room_type_id is not None:
            dirty.ranges[room_type_id] = list(ranges)
    if not dirty.ranges:
        return {}
    desired = desired_availability(session, mappings, dirty.ranges)
    acked = acked_availability(session, connection_id, mappings, dirty)
    return {
        code: {day: acked.get(code, {}).get(day, units) for day, units in days.items()}
        for code, days in desired.items()
    }
