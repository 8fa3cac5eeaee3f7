"""Drift audit: read back what a channel shows, compare it with what it acknowledged, repair.

A channel can change without us (an extranet edit, a lost update on its side). For channels that
can read ARI back, the audit replaces the acknowledged values of every differing date with what
the channel really shows and marks those dates dirty, so the worker sends the difference again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.contract import ChannelAdapter, ReadsBackAri
from innsync.channels.encoding import rate_values_to_json
from innsync.channels.types import RatePlanKey, RateValues
from innsync.connections.models import Connection
from innsync.db.engine import transaction
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.properties.models import Property
from innsync.properties.service import horizon
from innsync.stay_dates import DateRange, ranges_from_dates
from innsync.sync.desired import Mappings, channel_today, load_mappings
from innsync.sync.models import AckedAvailability, AckedRate
from innsync.sync.state import DirtySet, acked_availability, acked_rates

# Read-back is done in slices so one call never asks for the whole horizon at once.
READ_SLICE_DAYS = 100


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Dates found different on the channel, per kind; they are queued for repair."""

    availability_dates: int
    rate_dates: int


async def audit_connection(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    adapter: ChannelAdapter,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DriftReport:
    """Compare the dates the channel can hold, from the property's today to its horizon.

    Dates before the channel's today are left out: the channel holds none (they are never
    sent), so comparing them would report drift that no request can repair.
    """
    if not isinstance(adapter, ReadsBackAri):
        raise TypeError(f"the {adapter.name} channel cannot read ARI back")
    with transaction(sessions) as session:
        connection = session.get_one(Connection, connection_id)
        mappings = load_mappings(session, connection)
        prop = session.get_one(Property, connection.property_id)
        managed = horizon(prop, now())
        today = channel_today(prop, now(), adapter.limits)
        window = DateRange(max(managed.start, today), max(managed.end, today + timedelta(days=1)))
        subjects = [*mappings.room_types, *mappings.rate_plans]
        whole = DirtySet(ranges={subject: [window] for subject in subjects})
        held_availability = acked_availability(session, connection_id, mappings, whole)
        held_rates = acked_rates(session, connection_id, mappings, whole)
    shown_availability: dict[str, dict[date, int]] = {}
    shown_rates: dict[RatePlanKey, dict[date, RateValues]] = {}
    for piece in _slices(window):
        for code, days in (
            await adapter.read_availability(list(mappings.room_types.values()), piece)
        ).items():
            shown_availability.setdefault(code, {}).update(days)
        for key, values in (
            await adapter.read_rates(list(mappings.rate_plans.values()), piece)
        ).items():
            shown_rates.setdefault(key, {}).update(values)
    with transaction(sessions) as session:
        availability_dates = _repair_availability(
            session, connection_id, mappings, held_availability, shown_availability
        )
        rate_dates = _repair_rates(session, connection_id, mappings, held_rates, shown_rates)
    return DriftReport(availability_dates, rate_dates)


def _slices(window: DateRange) -> list[DateRange]:
    pieces = []
    start = window.start
    while start < window.end:
        end = min(window.end, date.fromordinal(start.toordinal() + READ_SLICE_DAYS))
        pieces.append(DateRange(start, end))
        start = end
    return pieces


def _repair_availability(
    session: Session,
    connection_id: uuid.UUID,
    mappings: Mappings,
    held: Mapping[str, Mapping[date, int]],
    shown: Mapping[str, Mapping[date, int]],
) -> int:
    drifted = 0
    for room_type_id, code in mappings.room_types.items():
        on_channel = shown.get(code, {})
        differing = [
            day for day, units in held.get(code, {}).items() if on_channel.get(day) != units
        ]
        for day in differing:
            row = session.get_one(AckedAvailability, (connection_id, room_type_id, day))
            if day in on_channel:
                row.availability = on_channel[day]
            else:
                session.delete(row)
        _mark(session, connection_id, AVAILABILITY, room_type_id, differing)
        drifted += len(differing)
    return drifted


def _repair_rates(
    session: Session,
    connection_id: uuid.UUID,
    mappings: Mappings,
    held: Mapping[RatePlanKey, Mapping[date, RateValues]],
    shown: Mapping[RatePlanKey, Mapping[date, RateValues]],
) -> int:
    drifted = 0
    for rate_plan_id, key in mappings.rate_plans.items():
        on_channel = shown.get(key, {})
        differing = [
            day
            for day, values in held.get(key, {}).items()
            if values.changed_fields(on_channel.get(day, RateValues())) & values.fields()
        ]
        for day in differing:
            row = session.get_one(AckedRate, (connection_id, rate_plan_id, day))
            if day in on_channel:
                row.rate_values = rate_values_to_json(on_channel[day])
            else:
                session.delete(row)
        _mark(session, connection_id, RATES, rate_plan_id, differing)
        drifted += len(differing)
    return drifted


def _mark(
    session: Session, connection_id: uuid.UUID, kind: str, subject_id: uuid.UUID, days: list[date]
) -> None:
    for span in ranges_from_dates(days):
        session.add(
            DirtyMark(
                connection_id=connection_id,
                kind=kind,
                subject_id=subject_id,
                start=span.start,
                end=span.end,
            )
        )
