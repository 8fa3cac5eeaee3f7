"""Building and serving an iCal connection's export.

What is exported: every night the listing cannot be sold through this connection — bookings
from every other source, blocks, nights whose every rate plan is stop-sold, availability 0 —
as ``VALUE=DATE`` events with an exclusive DTEND (the check-out day). Bookings that came in on
this same connection are left out, so a platform never reads its own bookings back as blocks
(landscape §4.6, the re-export loop). No guest data: every event is "Not available".

Blocks mirroring dates a channel shows closed (``kind="channel_closed"``, an iCal feed's "Not
available") are left out of every export. A platform's "Not available" includes the nights it
read from innsync's own export, and cannot be told apart from a host's closure: exported to
another listing they would come back from it as that listing's closure, and two listings would
hold each other's nights closed forever. They still close the nights for every API channel.

A per-unit export (a rental sold unit by unit) is one unit of a mapped room type. Its night is
busy when a stay assigned to that unit holds it, or when the room type has no free unit left
(stays not assigned to a unit, and blocks, which are per room type, take the other units first),
or when the room type is stop-sold.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.channels.ical.ics import ExportEvent, render_calendar
from innsync.connections.models import Connection, RoomTypeMapping
from innsync.errors import FieldProblem, InvalidInputError, NotFoundError
from innsync.ical_export.models import IcalExport
from innsync.inventory.availability import day_counts
from innsync.inventory.models import CHANNEL_CLOSED, Block
from innsync.inventory.runs import TABLE as RUNS
from innsync.properties.models import Property, RatePlan, RoomType, Unit
from innsync.properties.service import get_owned
from innsync.reservations.models import Reservation, ReservationRoom
from innsync.stay_dates import DateRange

MAX_TOKEN_LENGTH = 64
EXPORT_SUMMARY = "Not available"


@dataclass(frozen=True, slots=True)
class Served:
    body: bytes
    etag: str
    last_modified: datetime


def enable(
    session: Session,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    horizon_days: int,
    unit_id: uuid.UUID | None = None,
) -> IcalExport:
    """Create the connection's export, or give it a new token (the old URL stops working);
    ``unit_id`` makes it one unit's calendar, ``None`` the mapped room type's."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    if connection.channel != "ical":
        raise InvalidInputError("only iCal connections have an .ics export")
    if unit_id is not None:
        _check_unit(session, tenant_id, connection_id, unit_id)
    # iCal takes no pushes: platforms poll the export. A pushing iCal connection would leave
    # the sync worker with marks it can never send.
    connection.push_enabled = False
    export = session.get(IcalExport, connection_id)
    if export is None:
        export = IcalExport(
            connection_id=connection.id,
            tenant_id=tenant_id,
            property_id=connection.property_id,
            dirty_version=1,
            built_version=0,
        )
        session.add(export)
    export.token = secrets.token_urlsafe(32)
    export.horizon_days = horizon_days
    export.unit_id = unit_id
    export.dirty_version = (export.dirty_version or 0) + 1
    session.flush()
    return export


def _check_unit(
    session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID, unit_id: uuid.UUID
) -> None:
    """The unit must be the tenant's and of a room type this connection maps."""
    unit = session.get(Unit, unit_id)
    mapped = session.scalar(
        select(RoomTypeMapping.room_type_id).where(
            RoomTypeMapping.connection_id == connection_id,
            RoomTypeMapping.room_type_id == (unit.room_type_id if unit else None),
        )
    )
    if unit is None or unit.tenant_id != tenant_id or mapped is None:
        raise InvalidInputError(
            f"unit {unit_id} is not a unit of a room type mapped on this connection",
            [FieldProblem("/unit_id", "not a unit of a mapped room type")],
        )


def revoke(session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    session.delete(find(session, tenant_id, connection_id))


def find(session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> IcalExport:
    """The connection's export; another tenant's connection is simply not found."""
    get_owned(session, Connection, tenant_id, connection_id)
    export = session.get(IcalExport, connection_id)
    if export is None:
        raise NotFoundError(f".ics export of connection {connection_id} not found")
    return export


class Rebuild:
    """The export behind a token must be rebuilt before it is served (see :func:`cached`)."""


REBUILD = Rebuild()


def cached(session: Session, token: str, now: datetime) -> Served | Rebuild | None:
    """The stored export behind ``token`` in one query, if it is current; read-only, so a poll
    never takes a write lock (SQLite's writes are BEGIN IMMEDIATE)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    export = session.scalar(select(IcalExport).where(IcalExport.token == token))
    if export is None:
        return None
    if _needs_rebuild(export, now):
        return REBUILD
    return _served(export)


def serve(session: Session, token: str, now: datetime) -> Served | None:
    """The export behind ``token``, rebuilt first when a change or a new day made it stale."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    export = session.scalar(select(IcalExport).where(IcalExport.token == token))
    if export is None:
        return None
    if _needs_rebuild(export, now):
        rebuild(session, export, now)
    return _served(export)


def _needs_rebuild(export: IcalExport, now: datetime) -> bool:
    due = export.rebuild_after is None or now >= export.rebuild_after
    return export.body is None or export.dirty_version != export.built_version or due


def _served(export: IcalExport) -> Served:
    assert export.body is not None
    assert export.etag is not None
    assert export.last_modified is not None
    return Served(export.body, export.etag, export.last_modified)


def rebuild(session: Session, export: IcalExport, now: datetime) -> None:
    seen_version = export.dirty_version
    prop = session.get_one(Property, export.property_id)
    zone = ZoneInfo(prop.timezone)
    today = now.astimezone(zone).date()
    dates = DateRange(today, today + timedelta(days=export.horizon_days))
    events = busy_events(session, export.connection_id, dates, export.unit_id)
    digest = hashlib.sha256(
        "".join(f"{e.uid}|{e.start}|{e.end}\n" for e in events).encode()
    ).hexdigest()[:32]
    etag = f'"{digest}"'
    if etag != export.etag or export.body is None:
        # Whole seconds: Last-Modified and If-Modified-Since carry no fractions.
        stamp = now.astimezone(UTC).replace(microsecond=0)
        connection = session.get_one(Connection, export.connection_id)
        export.body = render_calendar(events, name=f"{prop.name} - {connection.name}", stamp=stamp)
        export.etag, export.last_modified, export.events = etag, stamp, len(events)
    export.built_version = seen_version
    tomorrow = datetime.combine(today + timedelta(days=1), time(), zone)
    export.rebuild_after = tomorrow.astimezone(UTC)


def busy_events(
    session: Session,
    connection_id: uuid.UUID,
    dates: DateRange,
    unit_id: uuid.UUID | None = None,
) -> list[ExportEvent]:
    """The listing's unsellable nights over ``dates``, merged into runs (see the module)."""
    room_type_ids = list(
        session.scalars(
            select(RoomTypeMapping.room_type_id).where(
                RoomTypeMapping.connection_id == connection_id
            )
        )
    )
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is not None:
        room_type_ids = [rt for rt in room_type_ids if rt == unit.room_type_id]
    room_types = list(session.scalars(select(RoomType).where(RoomType.id.in_(room_type_ids))))
    if not room_types:
        return []
    counts = day_counts(session, room_types, dates)
    own = _own_sold(session, connection_id, room_type_ids, dates)
    mirrored = _mirrored(session, room_type_ids, dates)
    closed = _stop_sold(session, room_type_ids, dates)
    busy: set[date] = set(_unit_held(session, connection_id, unit.id, dates) if unit else ())
    for room_type_id, by_day in counts.items():
        for day, count in by_day.items():
            key = (room_type_id, day)
            free = count.units - (count.sold - own[key]) - (count.blocked - mirrored[key])
            if free <= 0 or (room_type_id, day) in closed:
                busy.add(day)
    return _runs(sorted(busy), connection_id)


def _unit_held(
    session: Session, connection_id: uuid.UUID, unit_id: uuid.UUID, dates: DateRange
) -> set[date]:
    """Nights held by confirmed stays assigned to the unit, this connection's own left out."""
    rows = session.execute(
        select(Reservation.arrival, Reservation.departure)
        .join(ReservationRoom, Reservation.id == ReservationRoom.reservation_id)
        .where(
            ReservationRoom.unit_id == unit_id,
            Reservation.status == "confirmed",
            (Reservation.connection_id != connection_id) | Reservation.connection_id.is_(None),
            Reservation.arrival < dates.end,
            Reservation.departure > dates.start,
        )
    )
    held: set[date] = set()
    for arrival, departure in rows:
        held.update(DateRange(arrival, departure).intersection(dates) or ())
    return held


def _own_sold(
    session: Session, connection_id: uuid.UUID, room_type_ids: list[uuid.UUID], dates: DateRange
) -> Counter[tuple[uuid.UUID, date]]:
    """Units this connection's own bookings hold per night (left out of the export)."""
    rows = session.execute(
        select(ReservationRoom.room_type_id, Reservation.arrival, Reservation.departure)
        .join(Reservation, Reservation.id == ReservationRoom.reservation_id)
        .where(
            Reservation.connection_id == connection_id,
            Reservation.status == "confirmed",
            ReservationRoom.room_type_id.in_(room_type_ids),
            Reservation.arrival < dates.end,
            Reservation.departure > dates.start,
        )
    )
    held: Counter[tuple[uuid.UUID, date]] = Counter()
    for room_type_id, arrival, departure in rows:
        for day in DateRange(arrival, departure).intersection(dates) or ():
            held[(room_type_id, day)] += 1
    return held


def _mirrored(
    session: Session, room_type_ids: list[uuid.UUID], dates: DateRange
) -> Counter[tuple[uuid.UUID, date]]:
    """Units per night held by blocks mirroring a channel's closed dates (never exported)."""
    rows = session.execute(
        select(Block.room_type_id, Block.start, Block.end, Block.units).where(
            Block.room_type_id.in_(room_type_ids),
            Block.kind == CHANNEL_CLOSED,
            Block.start < dates.end,
            Block.end > dates.start,
        )
    )
    held: Counter[tuple[uuid.UUID, date]] = Counter()
    for room_type_id, start, end, units in rows:
        for day in DateRange(start, end).intersection(dates) or ():
            held[(room_type_id, day)] += units
    return held


def _stop_sold(
    session: Session, room_type_ids: list[uuid.UUID], dates: DateRange
) -> set[tuple[uuid.UUID, date]]:
    """Nights on which every rate plan of the room type is stop-sold (its own values)."""
    plans = dict(
        session.execute(
            select(RatePlan.room_type_id, func.count(RatePlan.id))
            .where(RatePlan.room_type_id.in_(room_type_ids))
            .group_by(RatePlan.room_type_id)
        ).all()
    )
    stopped: Counter[tuple[uuid.UUID, date]] = Counter()
    for room_type_id, first, end in session.execute(
        select(RatePlan.room_type_id, RUNS.c.start_date, RUNS.c.end_date)
        .join(RatePlan, RatePlan.id == RUNS.c.rate_plan_id)
        .where(
            RatePlan.room_type_id.in_(room_type_ids),
            RUNS.c.stop_sell.is_(True),
            RUNS.c.start_date < dates.end,
            RUNS.c.end_date > dates.start,
        )
    ):
        # A plan's runs never overlap: each run counts its plan once per date.
        for day in DateRange(max(first, dates.start), min(end, dates.end)):
            stopped[(room_type_id, day)] += 1
    return {key for key, count in stopped.items() if count >= plans.get(key[0], 0) > 0}


def _runs(days: list[date], connection_id: uuid.UUID) -> list[ExportEvent]:
    events: list[ExportEvent] = []
    start = previous = None
    for day in [*days, None]:
        if day is not None and previous is not None and day == previous + timedelta(days=1):
            previous = day
            continue
        if start is not None and previous is not None:
            # The UID is the run's first night and the connection: stable across rebuilds.
            uid = f"{start:%Y%m%d}-{connection_id.hex[:16]}@innsync"
            events.append(ExportEvent(uid, start, previous + timedelta(days=1), EXPORT_SUMMARY))
        start = previous = day
    return events
