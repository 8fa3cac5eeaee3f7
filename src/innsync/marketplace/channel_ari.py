"""Writing a property's ARI as its source connection reports it (pull or webhook).

Idempotent and set-based, like the outbound engine in reverse: the days of a report are read
in one query per table, compared with what is stored, and only the days whose values differ
are written (one batched upsert per table), with their provenance (which connection, when) and
their dirty marks. A report that repeats what is stored writes no row and no mark, so a webhook
and the next pull that carry the same values change nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import (
    AriSnapshot,
    AvailabilityUpdate,
    RateUpdate,
    RateValues,
    RemoteCatalog,
)
from innsync.connections.models import RatePlanMapping, RoomTypeMapping
from innsync.db.upsert import upsert_rows
from innsync.inventory.runs import apply_changes, calendar_rows, changes_from_days
from innsync.marketplace.models import AriSource, ChannelAvailabilityDay
from innsync.outbox.marks import mark_availability, mark_rate_spans
from innsync.properties.derivation import DayValues
from innsync.properties.models import RatePlan, RoomType
from innsync.stay_dates import DateRange, ranges_from_dates

CALENDAR_COLUMNS = tuple(f.name for f in fields(DayValues))


@dataclass(frozen=True, slots=True)
class ChannelAriResult:
    """What one report changed: rows created or updated per kind, and codes nothing maps."""

    room_types: int = 0
    rate_plans: int = 0
    availability_days: int = 0
    calendar_days: int = 0
    unknown_codes: tuple[str, ...] = ()

    @property
    def changed(self) -> int:
        return self.room_types + self.rate_plans + self.availability_days + self.calendar_days


def apply_snapshot(
    session: Session, source: AriSource, snapshot: AriSnapshot, now: datetime
) -> ChannelAriResult:
    """Store a source connection's report: its catalog first (when sent), then its ARI."""
    room_types = rate_plans = 0
    unknown: list[str] = []
    if snapshot.catalog is not None:
        room_types, rate_plans, unknown = upsert_catalog(session, source, snapshot.catalog)
    availability, calendar, more_unknown = write_channel_ari(
        session, source, snapshot.availability, snapshot.rates, now
    )
    return ChannelAriResult(
        room_types,
        rate_plans,
        availability,
        calendar,
        tuple(sorted({*unknown, *more_unknown})),
    )


def upsert_catalog(
    session: Session, source: AriSource, catalog: RemoteCatalog
) -> tuple[int, int, list[str]]:
    """Create or update the property's room types and rate plans from the channel's, mapped on
    the source connection; returns (room types changed, rate plans changed, unknown codes)."""
    room_map = _room_type_codes(session, source.connection_id)
    by_code = {
        row.code: row
        for row in session.scalars(
            select(RoomType).where(RoomType.property_id == source.property_id)
        )
    }
    by_id = {row.id: row for row in by_code.values()}
    rooms_changed = 0
    for remote in catalog.room_types:
        max_occupancy = max(remote.max_adults + remote.max_children, remote.default_occupancy, 1)
        wanted: dict[str, Any] = {
            "name": remote.title[:200],
            "sellable_units": remote.units,
            "max_adults": remote.max_adults,
            "max_children": remote.max_children,
            "max_occupancy": max_occupancy,
            "default_occupancy": min(max(remote.default_occupancy, 1), max_occupancy),
        }
        mapped = room_map.get(remote.remote_id)
        room = by_id.get(mapped) if mapped is not None else by_code.get(remote.remote_id[:64])
        if room is None:
            room = RoomType(
                tenant_id=source.tenant_id,
                property_id=source.property_id,
                code=remote.remote_id[:64],
                **wanted,
            )
            session.add(room)
            session.flush()
            rooms_changed += 1
        elif _assign(room, wanted):
            rooms_changed += 1
        if mapped is None:
            session.add(
                RoomTypeMapping(
                    connection_id=source.connection_id,
                    room_type_id=room.id,
                    channel_code=remote.remote_id,
                )
            )
            room_map[remote.remote_id] = room.id
    plan_map = {
        row.channel_code: row.rate_plan_id
        for row in session.scalars(
            select(RatePlanMapping).where(RatePlanMapping.connection_id == source.connection_id)
        )
    }
    plans = {
        row.code: row
        for row in session.scalars(
            select(RatePlan).where(RatePlan.property_id == source.property_id)
        )
    }
    plans_by_id = {row.id: row for row in plans.values()}
    plans_changed, unknown = 0, []
    for remote_plan in catalog.rate_plans:
        room_type_id = room_map.get(remote_plan.room_type_remote_id)
        if room_type_id is None:
            unknown.append(remote_plan.room_type_remote_id)
            continue
        per_person = remote_plan.pricing == "per_person"
        wanted = {
            "name": remote_plan.title[:200],
            "room_type_id": room_type_id,
            "pricing": "per_person" if per_person else "per_room",
            "occupancies": sorted(remote_plan.occupancies) if per_person else [],
        }
        mapped = plan_map.get(remote_plan.remote_id)
        plan = (
            plans_by_id.get(mapped) if mapped is not None else plans.get(remote_plan.remote_id[:64])
        )
        if plan is None:
            plan = RatePlan(
                tenant_id=source.tenant_id,
                property_id=source.property_id,
                code=remote_plan.remote_id[:64],
                derivation_rules=[],
                inherited_restrictions=[],
                **wanted,
            )
            session.add(plan)
            session.flush()
            plans_changed += 1
        elif _assign(plan, wanted):
            plans_changed += 1
        if mapped is None:
            session.add(
                RatePlanMapping(
                    connection_id=source.connection_id,
                    rate_plan_id=plan.id,
                    channel_code=remote_plan.remote_id,
                )
            )
    session.flush()
    return rooms_changed, plans_changed, unknown


def _assign(row: Any, wanted: Mapping[str, Any]) -> bool:
    changed = False
    for name, value in wanted.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def write_channel_ari(
    session: Session,
    source: AriSource,
    availability: Iterable[AvailabilityUpdate],
    rates: Iterable[RateUpdate],
    now: datetime,
) -> tuple[int, int, list[str]]:
    """Store the reported values that differ from those held; returns (availability days
    written, calendar days written, unknown codes)."""
    unknown: list[str] = []
    room_map = _room_type_codes(session, source.connection_id)
    wanted_units: dict[tuple[uuid.UUID, date], int] = {}
    for update in availability:
        room_type_id = room_map.get(update.room_type_code)
        if room_type_id is None:
            unknown.append(update.room_type_code)
            continue
        for day in update.covered_dates():
            wanted_units[(room_type_id, day)] = update.availability
    availability_written = _write_availability(session, source, wanted_units, now)
    plan_map = _rate_plan_keys(session, source.connection_id, room_map)
    by_plan_code = {code: plan_id for (_, code), plan_id in plan_map.items()}
    wanted_values: dict[tuple[uuid.UUID, date], dict[str, Any]] = defaultdict(dict)
    for rate in rates:
        # An empty room type code names the plan by its own code (see ``AriSnapshot``).
        plan_id = (
            plan_map.get(rate.rate_plan)
            if rate.room_type_code
            else by_plan_code.get(rate.rate_plan_code)
        )
        if plan_id is None:
            unknown.append(f"{rate.room_type_code}/{rate.rate_plan_code}")
            continue
        given = _given_columns(rate.values)
        for day in rate.covered_dates():
            wanted_values[(plan_id, day)].update(given)
    calendar_written = _write_calendar(session, source, wanted_values, now)
    return availability_written, calendar_written, unknown


def _room_type_codes(session: Session, connection_id: uuid.UUID) -> dict[str, uuid.UUID]:
    query = select(RoomTypeMapping).where(RoomTypeMapping.connection_id == connection_id)
    return {row.channel_code: row.room_type_id for row in session.scalars(query)}


def _rate_plan_keys(
    session: Session, connection_id: uuid.UUID, room_map: Mapping[str, uuid.UUID]
) -> dict[tuple[str, str], uuid.UUID]:
    room_codes = {room_type_id: code for code, room_type_id in room_map.items()}
    query = (
        select(RatePlanMapping.channel_code, RatePlan.id, RatePlan.room_type_id)
        .join(RatePlan, RatePlan.id == RatePlanMapping.rate_plan_id)
        .where(RatePlanMapping.connection_id == connection_id)
    )
    return {
        (room_codes[room_type_id], code): plan_id
        for code, plan_id, room_type_id in session.execute(query).all()
        if room_type_id in room_codes
    }


def _given_columns(values: RateValues) -> dict[str, Any]:
    """The calendar columns a report sets (``None`` fields are not part of it)."""
    given: dict[str, Any] = {}
    for name in CALENDAR_COLUMNS:
        value = getattr(values, name)
        if value is None:
            continue
        if name == "occupancy_prices":
            value = {str(occupancy): str(amount) for occupancy, amount in value}
        given[name] = value
    return given


def _span(days: Iterable[date]) -> DateRange:
    ordered = sorted(days)
    return DateRange.inclusive(ordered[0], ordered[-1])


def _write_availability(
    session: Session,
    source: AriSource,
    wanted: Mapping[tuple[uuid.UUID, date], int],
    now: datetime,
) -> int:
    if not wanted:
        return 0
    span = _span(day for _, day in wanted)
    held = {
        (room_type_id, day): available
        for room_type_id, day, available in session.execute(
            select(
                ChannelAvailabilityDay.room_type_id,
                ChannelAvailabilityDay.stay_date,
                ChannelAvailabilityDay.available,
            ).where(
                ChannelAvailabilityDay.room_type_id.in_({key[0] for key in wanted}),
                ChannelAvailabilityDay.stay_date >= span.start,
                ChannelAvailabilityDay.stay_date < span.end,
            )
        )
    }
    rows: list[dict[str, Any]] = [
        {
            "room_type_id": room_type_id,
            "stay_date": day,
            "available": units,
            "connection_id": source.connection_id,
            "updated_at": now,
        }
        for (room_type_id, day), units in sorted(wanted.items())
        if held.get((room_type_id, day)) != units
    ]
    upsert_rows(
        session,
        ChannelAvailabilityDay.__table__,  # type: ignore[arg-type]
        rows,
        ("room_type_id", "stay_date"),
        ("available", "connection_id", "updated_at"),
    )
    changed: dict[uuid.UUID, list[date]] = defaultdict(list)
    for row in rows:
        changed[row["room_type_id"]].append(row["stay_date"])
    for room_type_id, days in changed.items():
        mark_availability(session, source.property_id, [room_type_id], ranges_from_dates(days))
    return len(rows)


def _comparable(name: str, value: Any) -> Any:
    """Values as compared: prices by amount (``90`` equals ``90.00``)."""
    if value is None:
        return None
    if name == "price":
        return Decimal(value)
    if name == "occupancy_prices":
        return {int(k): Decimal(v) for k, v in value.items()}
    return value


def _write_calendar(
    session: Session,
    source: AriSource,
    wanted: Mapping[tuple[uuid.UUID, date], dict[str, Any]],
    now: datetime,
) -> int:
    if not wanted:
        return 0
    span = _span(day for _, day in wanted)
    held = calendar_rows(session, {key[0] for key in wanted}, span)
    differing: dict[uuid.UUID, dict[date, dict[str, Any]]] = defaultdict(dict)
    for (plan_id, day), given in sorted(wanted.items()):
        current = held[plan_id].get(day)
        if all(
            _comparable(name, getattr(current, name, None)) == _comparable(name, value)
            for name, value in given.items()
        ):
            continue
        differing[plan_id][day] = {
            **given,
            "source_connection_id": source.connection_id,
            "source_updated_at": now,
        }
    apply_changes(
        session,
        [
            change
            for plan_id, days in differing.items()
            # A report states a date's per-person prices whole: they replace, not merge.
            for change in changes_from_days(plan_id, days, merge_prices=False)
        ],
    )
    mark_rate_spans(
        session,
        source.property_id,
        [
            (plan_id, span)
            for plan_id, days in differing.items()
            for span in ranges_from_dates(days)
        ],
    )
    return sum(len(days) for days in differing.values())
