"""Writing the ARI calendar in bulk and reading it back with derived plans resolved."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels import registry
from innsync.channels.types import RateValues
from innsync.connections.models import Connection, RatePlanMapping
from innsync.errors import NotFoundError, ProblemCollector
from innsync.inventory.availability import add_block, lock_room_types
from innsync.inventory.runs import CalendarChange, apply_changes, calendar_rows
from innsync.inventory.schemas import (
    AriEntry,
    AriEntryResult,
    AriWarning,
    AriWrite,
    AriWriteResult,
    CalendarDay,
    CalendarRead,
)
from innsync.money import is_exact, precision_problem, round_money
from innsync.outbox.marks import mark_rate_spans
from innsync.properties.derivation import RESTRICTION_FIELDS, DayValues, resolve_day
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import (
    check_pms_owns_ari,
    derivation_rules,
    descendants_of,
    get_owned,
    horizon,
)
from innsync.stay_dates import ALL_WEEKDAYS, DateRange, count_dates, ranges_from_dates

CALENDAR_COLUMNS = tuple(f.name for f in fields(DayValues))
Owned = TypeVar("Owned", RatePlan, RoomType)
ZERO_PRICE = "a price of 0 cannot be sold on any channel; use stop_sell to close the date"


@dataclass(frozen=True)
class CheckedAri:
    """A bulk write that passed every check: its targets and what each changes, ready to apply."""

    property_id: uuid.UUID
    entries: Sequence[AriEntry]
    targets: Sequence[RatePlan | RoomType]
    # Each entry's dates as ranges: its whole range, or the runs of the weekdays it names.
    dates: Sequence[Sequence[DateRange]]
    # A plan's derived plans follow its values, so their marks go with it.
    followers: Mapping[uuid.UUID, Sequence[uuid.UUID]]
    warnings: Sequence[AriWarning]


def write_ari(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    request: AriWrite,
    now: datetime | None = None,
) -> AriWriteResult:
    """Apply every entry or none, in the caller's one transaction (scripts, fixtures, tests).

    The API splits large writes into bounded transactions instead (``inventory.bulk``).
    """
    checked = check_ari(session, tenant_id, property_id, request, now)
    results = apply_ari(session, checked, range(len(checked.entries)))
    return AriWriteResult(results=results, warnings=list(checked.warnings))


def check_ari(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    request: AriWrite,
    now: datetime | None = None,
) -> CheckedAri:
    """Check every entry (reads only): all problems are reported together, with pointers."""
    prop = get_owned(session, Property, tenant_id, property_id)
    check_pms_owns_ari(session, prop.id)
    window = horizon(prop, now)
    problems = ProblemCollector()
    plans = _owned_by_id(session, RatePlan, tenant_id, [e.rate_plan_id for e in request.entries])
    rooms = _owned_by_id(session, RoomType, tenant_id, [e.room_type_id for e in request.entries])
    found: list[RatePlan | RoomType | None] = [
        _check_entry(prop, window, entry, f"/entries/{index}", problems, plans, rooms)
        for index, entry in enumerate(request.entries)
    ]
    problems.raise_if_any("some ARI entries are invalid; nothing was written")
    targets = [target for target in found if target is not None]
    followers = descendants_of(session, prop.id, {t.id for t in targets if isinstance(t, RatePlan)})
    return CheckedAri(
        property_id=prop.id,
        entries=request.entries,
        targets=targets,
        dates=[_weekday_runs(entry) for entry in request.entries],
        followers=followers,
        warnings=channel_warnings(session, prop, request.entries, targets, followers),
    )


def _owned_by_id(
    session: Session, model: type[Owned], tenant_id: uuid.UUID, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Owned]:
    """The tenant's rows of ``model`` among ``ids``, in one query."""
    wanted = sorted({row_id for row_id in ids if row_id is not None})
    if not wanted:
        return {}
    query = select(model).where(model.id.in_(wanted), model.tenant_id == tenant_id)
    return {row.id: row for row in session.scalars(query)}


def apply_ari(session: Session, checked: CheckedAri, indices: range) -> list[AriEntryResult]:
    """Write the entries at ``indices`` of a checked write, with their dirty marks, in
    ``session``'s transaction: a value is never committed without its mark."""
    entries = [
        (index, checked.entries[index], checked.targets[index], checked.dates[index])
        for index in indices
    ]
    # Blocks lock their room types; all of them at once, in id order, as bookings lock theirs.
    lock_room_types(
        session,
        {t.id for _, entry, t, _ in entries if isinstance(t, RoomType) and entry.block is not None},
    )
    rated = [(index, entry, t) for index, entry, t, _ in entries if isinstance(t, RatePlan)]
    # All the chunk's calendar changes in one pass: one read and one write of runs for them all.
    changed = apply_changes(
        session,
        [
            CalendarChange(t.id, runs, _column_changes(e))
            for _, e, t, runs in entries
            if isinstance(t, RatePlan)
        ],
    )
    results: dict[int, AriEntryResult] = {}
    marks: list[tuple[uuid.UUID, DateRange]] = []
    for (index, entry, target), ranges in zip(rated, changed, strict=True):
        if ranges:
            span = entry.to_range()
            marks.extend((plan_id, span) for plan_id in (target.id, *checked.followers[target.id]))
        results[index] = AriEntryResult(
            index=index, status="applied", dates_changed=sum(r.nights for r in ranges)
        )
    for index, entry, room, runs in entries:
        if isinstance(room, RoomType) and entry.block is not None:
            blocks = [
                add_block(
                    session, room, run, entry.block.units, entry.block.kind, entry.block.reason
                )
                for run in runs
            ]
            results[index] = AriEntryResult(
                index=index,
                status="applied",
                dates_changed=sum(run.nights for run in runs),
                block_ids=[block.id for block in blocks],
            )
    mark_rate_spans(session, checked.property_id, marks)
    session.flush()
    return [results[index] for index, *_ in entries if index in results]


def channel_warnings(
    session: Session,
    prop: Property,
    entries: Sequence[AriEntry],
    targets: Sequence[RatePlan | RoomType],
    followers: Mapping[uuid.UUID, Sequence[uuid.UUID]],
) -> list[AriWarning]:
    """The written values a pushing connection's channel declares it refuses, per connection.

    Each connection that maps the plan (or a plan deriving from it, whose values follow) is
    checked against its channel kind's declared ``value_constraints``.
    """
    connections = list(
        session.scalars(
            select(Connection)
            .where(
                Connection.property_id == prop.id,
                Connection.push_enabled.is_(True),
                Connection.state != "disabled",
            )
            .order_by(Connection.name, Connection.id)
        )
    )
    if not connections:
        return []
    mapped: dict[uuid.UUID, set[uuid.UUID]] = {}
    for connection_id, rate_plan_id in session.execute(
        select(RatePlanMapping.connection_id, RatePlanMapping.rate_plan_id).where(
            RatePlanMapping.connection_id.in_([c.id for c in connections])
        )
    ):
        mapped.setdefault(connection_id, set()).add(rate_plan_id)
    warnings: list[AriWarning] = []
    for index, (entry, target) in enumerate(zip(entries, targets, strict=True)):
        if not isinstance(target, RatePlan):
            continue
        values = _written_values(entry)
        if values.is_empty:
            continue
        plans = {target.id, *followers[target.id]}
        for connection in connections:
            if not plans & mapped.get(connection.id, set()):
                continue
            try:
                constraints = registry.get(connection.channel).value_constraints
            except registry.UnknownChannelKindError:
                continue
            warnings.extend(
                AriWarning(
                    index=index,
                    connection_id=connection.id,
                    connection_name=connection.name,
                    channel=connection.channel,
                    message=f"{connection.name} ({connection.channel}) will refuse it: {problem}",
                )
                for problem in constraints.problems(values)
            )
    return warnings


def _written_values(entry: AriEntry) -> RateValues:
    """The channel-facing values an entry sets (only those a channel could refuse)."""
    given = entry.calendar_fields()
    return RateValues(
        price=entry.price if "price" in given else None,
        occupancy_prices=tuple(sorted(entry.occupancy_prices.items()))
        if entry.occupancy_prices
        else None,
        min_stay_arrival=entry.min_stay_arrival,
        min_stay_through=entry.min_stay_through,
        max_stay=entry.max_stay,
        min_advance=entry.min_advance,
        max_advance=entry.max_advance,
    )


def _weekday_runs(entry: AriEntry) -> list[DateRange]:
    """The entry's dates as ranges: its whole range, or the runs of the weekdays it names."""
    weekdays = entry.weekday_numbers()
    if weekdays >= ALL_WEEKDAYS:
        return [entry.to_range()]
    return ranges_from_dates(entry.to_range().dates_on(weekdays))


def _check_entry(
    prop: Property,
    window: DateRange,
    entry: AriEntry,
    pointer: str,
    problems: ProblemCollector,
    plans: Mapping[uuid.UUID, RatePlan],
    rooms: Mapping[uuid.UUID, RoomType],
) -> RatePlan | RoomType | None:
    requested = entry.to_range()
    if requested.start < window.start or requested.end > window.end:
        problems.add(
            pointer,
            f"dates must lie within {window.start} .. {window.last} "
            f"(yesterday to the property's {prop.horizon_days}-day horizon)",
        )
    if not count_dates(requested, entry.weekday_numbers()):
        problems.add(f"{pointer}/weekdays", "no date of the range falls on these weekdays")
    if entry.room_type_id is not None:
        room_type = rooms.get(entry.room_type_id)
        if room_type is None or room_type.property_id != prop.id:
            problems.add(f"{pointer}/room_type_id", "no such room type in this property")
            return None
        if entry.block is not None and entry.block.units > room_type.sellable_units:
            problems.add(
                f"{pointer}/block/units",
                f"cannot block more than the room type's {room_type.sellable_units} units",
            )
        return room_type
    plan = plans.get(entry.rate_plan_id) if entry.rate_plan_id is not None else None
    if plan is None or plan.property_id != prop.id:
        problems.add(f"{pointer}/rate_plan_id", "no such rate plan in this property")
        return None
    given = entry.calendar_fields()
    if plan.parent_id is not None:
        for name in sorted(given & {"price", "occupancy_prices"}):
            problems.add(f"{pointer}/{name}", "prices of a derived plan come from its parent")
        for name in sorted(given & set(plan.inherited_restrictions)):
            problems.add(f"{pointer}/{name}", "this restriction is inherited from the parent plan")
    if plan.pricing == "per_room" and "occupancy_prices" in given:
        problems.add(
            f"{pointer}/occupancy_prices", "a per_room plan takes price, not occupancy_prices"
        )
    if plan.pricing == "per_person" and "price" in given:
        problems.add(f"{pointer}/price", "a per_person plan takes occupancy_prices, not price")
    # No channel sells a night at 0 (Channex: "must be greater than 0"); closing is stop_sell.
    if entry.price is not None and entry.price <= 0:
        problems.add(f"{pointer}/price", ZERO_PRICE)
    for occupancy, amount in sorted((entry.occupancy_prices or {}).items()):
        if amount <= 0:
            problems.add(f"{pointer}/occupancy_prices/{occupancy}", ZERO_PRICE)
    for occupancy in sorted(set(entry.occupancy_prices or {}) - set(plan.occupancies)):
        problems.add(
            f"{pointer}/occupancy_prices/{occupancy}",
            f"the plan prices occupancies {plan.occupancies}, not {occupancy}",
        )
    _check_minor_units(entry, prop.currency, pointer, problems)
    return plan


def _check_minor_units(
    entry: AriEntry, currency: str, pointer: str, problems: ProblemCollector
) -> None:
    """Refuse prices finer than the currency's minor units: 1000.50 JPY cannot be charged."""
    detail = precision_problem(currency)
    if entry.price is not None and not is_exact(entry.price, currency):
        problems.add(f"{pointer}/price", detail)
    for occupancy, amount in sorted((entry.occupancy_prices or {}).items()):
        if not is_exact(amount, currency):
            problems.add(f"{pointer}/occupancy_prices/{occupancy}", detail)


def _column_changes(entry: AriEntry) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in entry.calendar_fields():
        value = getattr(entry, name)
        if name == "occupancy_prices" and value is not None:
            value = {str(occupancy): str(amount) for occupancy, amount in value.items()}
        changes[name] = value
    return changes


# One C-level call for every restriction of a row (a page converts thousands of rows).
_restriction_values = attrgetter(*RESTRICTION_FIELDS)


def own_values(row: Any | None, currency: str) -> DayValues:
    """A calendar row's values, its prices in the currency's minor units (``1200`` in JPY)."""
    if row is None:
        return DayValues()
    occupancy = (
        tuple(
            sorted(
                (int(k), round_money(Decimal(v), currency)) for k, v in row.occupancy_prices.items()
            )
        )
        if row.occupancy_prices is not None
        else None
    )
    restrictions = dict(zip(RESTRICTION_FIELDS, _restriction_values(row), strict=True))
    price = round_money(row.price, currency) if row.price is not None else None
    return DayValues(price=price, occupancy_prices=occupancy, **restrictions)


def effective_calendar(session: Session, plan: RatePlan, dates: DateRange) -> dict[date, DayValues]:
    """The plan's values for every date of the range, derived plans resolved through their chain."""
    return _effective_calendar(session, plan, dates)[0]


def _effective_calendar(
    session: Session, plan: RatePlan, dates: DateRange
) -> tuple[dict[date, DayValues], Mapping[date, Any]]:
    """``effective_calendar`` and the plan's own calendar rows it was resolved from."""
    currency = session.get_one(Property, plan.property_id).currency
    chain = _ancestry(session, plan)
    rows = calendar_rows(session, [link.id for link in chain], dates)
    return resolve_chain(chain, rows, currency, dates), rows[plan.id]


def resolve_chain(
    chain: Sequence[RatePlan],
    rows: Mapping[uuid.UUID, Mapping[date, Any]],
    currency: str,
    dates: DateRange,
) -> dict[date, DayValues]:
    """The last plan of ``chain`` (root first) resolved per date from already-read calendar
    rows: anything with the ``CALENDAR_COLUMNS`` as attributes (``runs.calendar_rows``)."""
    resolved: Mapping[date, DayValues] | None = None
    for link in chain:
        own_rows = rows.get(link.id, {})
        own = {day: own_values(own_rows.get(day), currency) for day in dates}
        resolved = resolve_link(link, own, resolved, currency, dates)
    return dict(resolved) if resolved is not None else {day: DayValues() for day in dates}


def resolve_link(
    plan: RatePlan,
    own: Mapping[date, DayValues],
    parent: Mapping[date, DayValues] | None,
    currency: str,
    dates: DateRange,
) -> dict[date, DayValues]:
    """One plan's values per date from its own values and its parent's resolved ones (None for
    a root plan). A page showing many plans resolves each parent once and its children from it
    (``admin/calendar_grid``), instead of every child walking the whole chain again."""
    rules, inherited = derivation_rules(plan), plan.inherited_restrictions
    calendar: dict[date, DayValues] = {}
    for day in dates:
        above = parent[day] if parent is not None else None
        values = resolve_day(own[day], above, rules, inherited, currency)
        calendar[day] = _only_priced_occupancies(values, plan)
    return calendar


def _only_priced_occupancies(values: DayValues, plan: RatePlan) -> DayValues:
    if values.occupancy_prices is None or plan.pricing != "per_person":
        return values
    kept = tuple(pair for pair in values.occupancy_prices if pair[0] in plan.occupancies)
    return replace(values, occupancy_prices=kept)


def _ancestry(session: Session, plan: RatePlan) -> Sequence[RatePlan]:
    """The plan and its ancestors, root first (cycles are refused when derivations are set)."""
    chain = [plan]
    while chain[-1].parent_id is not None:
        chain.append(session.get_one(RatePlan, chain[-1].parent_id))
    return list(reversed(chain))


def read_calendar(
    session: Session, tenant_id: uuid.UUID, rate_plan_id: uuid.UUID, dates: DateRange
) -> CalendarRead:
    plan = get_owned(session, RatePlan, tenant_id, rate_plan_id)
    prop = session.get(Property, plan.property_id)
    if prop is None:
        raise NotFoundError("property not found")
    calendar, own = _effective_calendar(session, plan, dates)
    provenance = {
        day: (row.source_connection_id, row.source_updated_at)
        for day, row in own.items()
        if row.source_connection_id is not None
    }
    return CalendarRead(
        rate_plan_id=plan.id,
        currency=prop.currency,
        days=[
            CalendarDay(
                stay_date=day,
                price=values.price,
                occupancy_prices=dict(values.occupancy_prices)
                if values.occupancy_prices is not None
                else None,
                **{name: getattr(values, name) for name in RESTRICTION_FIELDS},
                **_provenance(provenance.get(day)),
            )
            for day, values in calendar.items()
        ],
    )


def _provenance(found: tuple[uuid.UUID | None, datetime | None] | None) -> dict[str, Any]:
    if found is None:
        return {}
    return {"source": "connection", "source_connection_id": found[0], "source_updated_at": found[1]}
