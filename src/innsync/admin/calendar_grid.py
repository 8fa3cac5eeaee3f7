"""What the ARI calendar page shows: a property's room types and rate plans over one month.

Everything comes from a fixed number of set-based queries over the whole month (room types,
plans, calendar rows, ledger, blocks, bookings, connections, one connection's mappings,
acknowledged state and dirty marks), so a property of 20 room types and 200 plans costs the
same queries as one of two (``tests/admin/test_cal.py`` counts them). Values are resolved with
the services' own functions: derived plans as ``inventory.calendar`` resolves them, units as
``inventory.availability.day_counts``, "does the channel hold it" as the sync planner decides.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.encoding import rate_values_from_json
from innsync.channels.types import RateValues
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.inventory.availability import day_counts
from innsync.inventory.calendar import own_values, resolve_link
from innsync.inventory.models import Block
from innsync.inventory.runs import calendar_rows
from innsync.marketplace.models import AriSource
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.properties.derivation import DayValues
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import get_owned, property_today
from innsync.reservations.models import Reservation, ReservationRoom
from innsync.stay_dates import DateRange, merge_ranges
from innsync.sync.desired import channel_values
from innsync.sync.models import AckedAvailability, AckedRate
from innsync.sync.planner import rate_payload

# What a connection holds of a cell: what the channel acknowledged equals innsync's value;
# a dirty mark says the worker will send it; or it differs with nothing on its way (pushing
# off, the channel refused it, or the date was never sent).
HELD, QUEUED, DIFFERS = "held", "queued", "differs"
EMPTY_DAY = DayValues()
# Booking bars take one of this many colours, one per source in order of appearance.
SOURCE_COLOURS = 6


@dataclass(frozen=True, slots=True)
class Bar:
    """A booking or a block over consecutive nights of the month, as one bar of cells."""

    start: int  # index of the first night in the month
    nights: int
    label: str
    kind: str  # "booking" | "block"
    colour: int = 0  # index into the sources' colours (bookings)
    is_overbooked: bool = False


@dataclass(frozen=True, slots=True)
class AvailabilityCell:
    units: int
    sold: int
    blocked: int
    free: int
    sync: str = ""  # HELD / QUEUED / DIFFERS for the shown connection, "" when not sent


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: uuid.UUID
    code: str
    name: str
    pricing: str
    parent_code: str
    cells: Markup  # the row's <td>s (see ``_rate_cell``)


@dataclass(slots=True)
class RoomRow:
    id: uuid.UUID
    code: str
    name: str
    availability: list[AvailabilityCell]
    lanes: list[list[Bar]] = field(default_factory=list)  # bars that do not overlap, per lane
    plans: list[PlanRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ConnectionChoice:
    id: uuid.UUID
    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class Grid:
    property_id: uuid.UUID
    property_name: str
    currency: str
    month: date  # its first day
    days: list[date]
    today: date
    rooms: list[RoomRow]
    connections: list[ConnectionChoice]
    shown: ConnectionChoice | None  # whose acknowledged state the cells show
    sources: list[str]  # booking sources in colour order
    source_connection: ConnectionChoice | None  # set: read-only, ARI comes from it
    source_updated_at: datetime | None


def month_range(month: date) -> DateRange:
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return DateRange(first, following)


def build_grid(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    month: date | None,
    now: datetime,
    connection_id: uuid.UUID | None = None,
) -> Grid:
    """The calendar of one of the tenant's properties for ``month`` (default: the property's
    current month), showing ``connection_id``'s acknowledged state (default: the first)."""
    prop = get_owned(session, Property, tenant_id, property_id)
    today = property_today(prop, now)
    dates = month_range(month or today)
    days = list(dates)
    source_id = session.scalar(
        select(AriSource.connection_id).where(
            AriSource.property_id == prop.id, AriSource.tenant_id == tenant_id
        )
    )
    room_types = list(
        session.scalars(
            select(RoomType)
            .where(RoomType.property_id == prop.id, RoomType.tenant_id == tenant_id)
            .order_by(RoomType.code, RoomType.id)
        )
    )
    plans = list(
        session.scalars(
            select(RatePlan)
            .where(RatePlan.property_id == prop.id, RatePlan.tenant_id == tenant_id)
            .order_by(RatePlan.code, RatePlan.id)
        )
    )
    by_plan = {plan.id: plan for plan in plans}
    # Plain result rows, not ORM objects: thousands of cells, read-only.
    rows = calendar_rows(session, list(by_plan), dates)
    latest_source = max(
        (
            row.source_updated_at
            for own in rows.values()
            for row in own.values()
            if row.source_updated_at is not None
        ),
        default=None,
    )
    counts = day_counts(session, room_types, dates)
    maps_something = (
        select(RoomTypeMapping.id).where(RoomTypeMapping.connection_id == Connection.id).exists()
    )
    mapped: set[uuid.UUID] = set()
    connections = []
    for choice_id, name, channel, has_mappings in session.execute(
        select(Connection.id, Connection.name, Connection.channel, maps_something)
        .where(Connection.property_id == prop.id, Connection.tenant_id == tenant_id)
        .order_by(Connection.name, Connection.id)
    ):
        connections.append(ConnectionChoice(choice_id, name, channel))
        if has_mappings:
            mapped.add(choice_id)
    shown = next((c for c in connections if c.id == connection_id), None)
    if shown is None and connection_id is None:
        # By default the first connection that maps something (others would show nothing).
        shown = next((c for c in connections if c.id in mapped), None)
    sync = _SyncState.read(session, shown, dates) if shown else _SyncState()
    resolved = _resolve_all(plans, by_plan, rows, prop.currency, dates)
    rooms: dict[uuid.UUID, RoomRow] = {}
    for room_type in room_types:
        cells = []
        for day in days:
            count = counts[room_type.id][day]
            state = sync.availability_state(room_type.id, day, max(count.free, 0), today)
            cells.append(
                AvailabilityCell(count.units, count.sold, count.blocked, count.free, state)
            )
        rooms[room_type.id] = RoomRow(room_type.id, room_type.code, room_type.name, cells)
    # A month repeats few distinct cells per plan: each is rendered once (thousands of cells
    # through the template cost more than all the queries).
    rendered: dict[tuple[DayValues, str, bool], Markup] = {}
    for plan in plans:
        room = rooms.get(plan.room_type_id)
        if room is None:
            continue
        parent = by_plan.get(plan.parent_id) if plan.parent_id else None
        room.plans.append(
            PlanRow(
                plan.id,
                plan.code,
                plan.name,
                plan.pricing,
                parent.code if parent else "",
                Markup("").join(
                    _rate_cell(
                        rendered,
                        resolved[plan.id][day],
                        sync.rate_state(plan.id, day, resolved[plan.id][day], today),
                        _from_source(rows[plan.id].get(day)),
                    )
                    for day in days
                ),
            )
        )
    sources = _add_bars(session, tenant_id, prop.id, rooms, dates)
    source = next((c for c in connections if c.id == source_id), None)
    return Grid(
        property_id=prop.id,
        property_name=prop.name,
        currency=prop.currency,
        month=dates.start,
        days=days,
        today=today,
        rooms=list(rooms.values()),
        connections=connections,
        shown=shown,
        sources=sources,
        source_connection=source,
        source_updated_at=latest_source if source else None,
    )


def _resolve_all(
    plans: Sequence[RatePlan],
    by_plan: Mapping[uuid.UUID, RatePlan],
    rows: Mapping[uuid.UUID, Mapping[date, Any]],
    currency: str,
    dates: DateRange,
) -> dict[uuid.UUID, dict[date, DayValues]]:
    """Every plan's values per date, each row converted and each parent resolved once: a plan
    derived from a resolved parent is resolved from it, not by walking its chain again.

    Derivations never cross properties and cycles are refused when they are set, so parents
    come first once plans are ordered by their depth."""
    convert = _RowValues(currency)
    resolved: dict[uuid.UUID, dict[date, DayValues]] = {}
    for plan in sorted(plans, key=lambda plan: _depth(plan, by_plan)):
        own_rows = rows.get(plan.id, {})
        own = {day: convert(own_rows.get(day)) for day in dates}
        parent = resolved.get(plan.parent_id) if plan.parent_id is not None else None
        resolved[plan.id] = resolve_link(plan, own, parent, currency, dates)
    return resolved


class _RowValues:
    """Calendar rows (``runs.calendar_rows``) as ``DayValues``, each run converted once: the
    dates of a run share its row, and the conversion (money rounding, a frozen dataclass) is
    most of the page's cost when done for every cell."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.converted: dict[tuple[Any, ...], DayValues] = {}

    def __call__(self, row: Any) -> DayValues:
        if row is None:
            return EMPTY_DAY
        key = (row.rate_plan_id, row.start_date)
        found = self.converted.get(key)
        if found is None:
            found = self.converted[key] = own_values(row, self.currency)
        return found


def _depth(plan: RatePlan, by_plan: Mapping[uuid.UUID, RatePlan]) -> int:
    depth = 0
    while plan.parent_id is not None and plan.parent_id in by_plan:
        plan, depth = by_plan[plan.parent_id], depth + 1
    return depth


def _rate_cell(
    rendered: dict[tuple[DayValues, str, bool], Markup],
    values: DayValues,
    sync: str,
    from_source: bool,
) -> Markup:
    """One plan-night's cell: price, restriction flags, the channel's mark; closed nights and
    values the ARI source wrote have their own class."""
    key = (values, sync, from_source)
    found = rendered.get(key)
    if found is None:
        classes = [
            name
            for name, wanted in (
                ("closed", bool(values.stop_sell)),
                (f"sync-{sync}", bool(sync)),
                ("from-source", from_source),
            )
            if wanted
        ]
        flags = Markup("").join(
            Markup('<span class="flag">{}</span>').format(flag) for flag in _flags(values)
        )
        mark = Markup('<span class="mark" aria-hidden="true"></span>') if sync else ""
        attribute = Markup(' class="{}"').format(" ".join(classes)) if classes else ""
        found = Markup("<td{}>{}{}{}</td>").format(attribute, price_text(values), flags, mark)
        rendered[key] = found
    return found


def _flags(values: DayValues) -> list[str]:
    flags = [
        name
        for name, on in (
            ("SS", values.stop_sell),
            ("CTA", values.closed_to_arrival),
            ("CTD", values.closed_to_departure),
        )
        if on
    ]
    if values.min_stay_arrival:
        flags.append(f"≥{values.min_stay_arrival}")
    if values.max_stay:
        flags.append(f"≤{values.max_stay}")
    return flags


def _from_source(row: Any) -> bool:
    return row is not None and row.source_connection_id is not None


@dataclass(slots=True)
class _SyncState:
    """One connection's mappings, acknowledged values and dirty marks over the month."""

    room_types: set[uuid.UUID] = field(default_factory=set)
    rate_plans: set[uuid.UUID] = field(default_factory=set)
    acked_units: dict[tuple[uuid.UUID, date], int] = field(default_factory=dict)
    # Each acknowledged value as a hashable key, and the values behind the keys: a month
    # repeats few distinct values, so each (innsync's, held) pair is compared once.
    acked_rates: dict[tuple[uuid.UUID, date], str] = field(default_factory=dict)
    acked_values: dict[str, RateValues] = field(default_factory=dict)
    compared: dict[tuple[DayValues, str], bool] = field(default_factory=dict)
    marked: dict[tuple[str, uuid.UUID], set[date]] = field(default_factory=dict)

    @classmethod
    def read(cls, session: Session, connection: ConnectionChoice, dates: DateRange) -> _SyncState:
        state = cls()
        state.room_types = set(
            session.scalars(
                select(RoomTypeMapping.room_type_id).where(
                    RoomTypeMapping.connection_id == connection.id
                )
            )
        )
        # As the worker sends them (sync.desired.load_mappings): a plan whose room type is
        # mapped too.
        state.rate_plans = set(
            session.scalars(
                select(RatePlanMapping.rate_plan_id)
                .join(RatePlan, RatePlan.id == RatePlanMapping.rate_plan_id)
                .join(RoomTypeMapping, RoomTypeMapping.room_type_id == RatePlan.room_type_id)
                .where(
                    RatePlanMapping.connection_id == connection.id,
                    RoomTypeMapping.connection_id == connection.id,
                )
            )
        )
        state.acked_units = {
            (room_type_id, day): units
            for room_type_id, day, units in session.execute(
                select(
                    AckedAvailability.room_type_id,
                    AckedAvailability.stay_date,
                    AckedAvailability.availability,
                ).where(
                    AckedAvailability.connection_id == connection.id,
                    AckedAvailability.stay_date >= dates.start,
                    AckedAvailability.stay_date < dates.end,
                )
            )
        }
        for plan_id, day, values in session.execute(
            select(AckedRate.rate_plan_id, AckedRate.stay_date, AckedRate.rate_values).where(
                AckedRate.connection_id == connection.id,
                AckedRate.stay_date >= dates.start,
                AckedRate.stay_date < dates.end,
            )
        ):
            key = json.dumps(values, sort_keys=True)
            state.acked_rates[(plan_id, day)] = key
            if key not in state.acked_values:
                state.acked_values[key] = rate_values_from_json(values)
        spans: dict[tuple[str, uuid.UUID], list[DateRange]] = {}
        for kind, subject, start, end in session.execute(
            select(DirtyMark.kind, DirtyMark.subject_id, DirtyMark.start, DirtyMark.end).where(
                DirtyMark.connection_id == connection.id,
                DirtyMark.start < dates.end,
                DirtyMark.end > dates.start,
            )
        ):
            spans.setdefault((kind, subject), []).append(DateRange(start, end))
        # Many marks may cover a subject's month (one per write): its marked dates, once.
        for subject_key, ranges in spans.items():
            state.marked[subject_key] = {
                day for span in merge_ranges(ranges) for day in _clip(span, dates) or ()
            }
        return state

    def _is_marked(self, kind: str, subject: uuid.UUID, day: date) -> bool:
        return day in self.marked.get((kind, subject), ())

    def availability_state(
        self, room_type_id: uuid.UUID, day: date, units: int, today: date
    ) -> str:
        if room_type_id not in self.room_types or day < today:
            return ""
        if self.acked_units.get((room_type_id, day)) == units:
            return HELD
        return QUEUED if self._is_marked(AVAILABILITY, room_type_id, day) else DIFFERS

    def rate_state(self, plan_id: uuid.UUID, day: date, values: DayValues, today: date) -> str:
        if plan_id not in self.rate_plans or day < today:
            return ""
        key = self.acked_rates.get((plan_id, day), "")
        is_held = self.compared.get((values, key))
        if is_held is None:
            held = self.acked_values.get(key)
            # The planner's own test (partial: every field innsync would send is the held one).
            is_held = rate_payload(channel_values(values), held, partial=True) is None
            self.compared[(values, key)] = is_held
        if is_held:
            return HELD
        return QUEUED if self._is_marked(RATES, plan_id, day) else DIFFERS


def _add_bars(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    rooms: Mapping[uuid.UUID, RoomRow],
    dates: DateRange,
) -> list[str]:
    """Bookings (one bar per booked room) and blocks of the month into non-overlapping lanes
    per room type; returns the bookings' sources in colour order."""
    sources: list[str] = []
    bars: dict[uuid.UUID, list[Bar]] = {room_id: [] for room_id in rooms}
    bookings = session.execute(
        select(
            Reservation.id,
            Reservation.arrival,
            Reservation.departure,
            Reservation.channel,
            Reservation.channel_reference,
            Reservation.is_overbooked,
            ReservationRoom.room_type_id,
        )
        .join(ReservationRoom, ReservationRoom.reservation_id == Reservation.id)
        .where(
            Reservation.tenant_id == tenant_id,
            Reservation.property_id == property_id,
            Reservation.status == "confirmed",
            Reservation.arrival < dates.end,
            Reservation.departure > dates.start,
        )
        .order_by(Reservation.arrival, Reservation.id, ReservationRoom.position)
    )
    for booking_id, arrival, departure, channel, reference, overbooked, room_type_id in bookings:
        if channel not in sources:
            sources.append(channel)
        span = _clip(DateRange(arrival, departure), dates)
        if room_type_id in bars and span is not None:
            bars[room_type_id].append(
                Bar(
                    start=(span.start - dates.start).days,
                    nights=span.nights,
                    label=f"{channel} {reference or str(booking_id)[:8]}",
                    kind="booking",
                    colour=sources.index(channel) % SOURCE_COLOURS,
                    is_overbooked=overbooked,
                )
            )
    for block in session.scalars(
        select(Block)
        .where(
            Block.tenant_id == tenant_id,
            Block.room_type_id.in_(list(rooms)),
            Block.start < dates.end,
            Block.end > dates.start,
        )
        .order_by(Block.start, Block.id)
    ):
        span = _clip(DateRange(block.start, block.end), dates)
        if span is not None:
            reason = f": {block.reason}" if block.reason else ""
            bars[block.room_type_id].append(
                Bar(
                    start=(span.start - dates.start).days,
                    nights=span.nights,
                    label=f"{block.units} blocked ({block.kind.replace('_', ' ')}){reason}",
                    kind="block",
                )
            )
    for room_id, room in rooms.items():
        room.lanes = _lanes(sorted(bars[room_id], key=lambda bar: (bar.start, -bar.nights)))
    return sources


def _clip(span: DateRange, dates: DateRange) -> DateRange | None:
    start, end = max(span.start, dates.start), min(span.end, dates.end)
    return DateRange(start, end) if start < end else None


def _lanes(bars: Sequence[Bar]) -> list[list[Bar]]:
    """Greedy: each bar into the first lane where it fits after the lane's last bar."""
    lanes: list[list[Bar]] = []
    for bar in bars:
        lane = next((lane for lane in lanes if lane[-1].start + lane[-1].nights <= bar.start), None)
        if lane is None:
            lanes.append([bar])
        else:
            lane.append(bar)
    return lanes


def lane_segments(lane: Sequence[Bar], nights: int) -> list[tuple[int, Bar | None]]:
    """A lane as table cells: (columns spanned, the bar or ``None`` for empty nights)."""
    segments: list[tuple[int, Bar | None]] = []
    at = 0
    for bar in lane:
        if bar.start > at:
            segments.append((bar.start - at, None))
        segments.append((bar.nights, bar))
        at = bar.start + bar.nights
    if at < nights:
        segments.append((nights - at, None))
    return segments


def price_text(values: DayValues) -> str:
    """The price as the cell shows it: per-room price, or per-person prices by occupancy."""
    if values.price is not None:
        return _amount(values.price)
    if values.occupancy_prices:
        return " / ".join(f"{occ}:{_amount(amount)}" for occ, amount in values.occupancy_prices)
    return "—"


def _amount(amount: Decimal) -> str:
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
