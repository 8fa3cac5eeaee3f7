"""Use-cases for properties, room types, units and rate plans, always scoped to one tenant."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.db.base import Base
from innsync.db.types import CENT
from innsync.errors import ConflictError, FieldProblem, InvalidInputError, NotFoundError
from innsync.marketplace.models import AriSource
from innsync.money import is_exact
from innsync.outbox.marks import mark_availability, mark_rates
from innsync.properties.derivation import (
    DerivationCycleError,
    DerivationRule,
    check_no_cycle,
)
from innsync.properties.models import Property, RatePlan, RoomType, Unit
from innsync.properties.schemas import (
    DerivationIn,
    DerivationRead,
    DerivationRuleIn,
    PropertyContact,
    PropertyCreate,
    PropertyUpdate,
    RatePlanCreate,
    RatePlanRead,
    RatePlanUpdate,
    RoomTypeCreate,
    RoomTypeUpdate,
    UnitCreate,
    check_occupancies,
)
from innsync.stay_dates import DateRange

ModelT = TypeVar("ModelT", bound=Base)
# A property may fix yesterday's values until its own midnight has passed everywhere.
PAST_DAYS_ALLOWED = 1


def property_today(prop: Property, now: datetime) -> date:
    """Today in the property's own calendar."""
    return now.astimezone(ZoneInfo(prop.timezone)).date()


def date_window(prop: Property, years: int, now: datetime | None = None) -> tuple[date, date]:
    """The stay dates innsync accepts at all, both included: ``years`` either side of today."""
    today = property_today(prop, now or datetime.now(UTC))
    span = timedelta(days=365 * years + years // 4)
    first = today - span if today - date.min > span else date.min
    last = today + span if date.max - today > span else date.max
    return first, last


def check_date_window(
    prop: Property, years: int, dates: Mapping[str, date | None], now: datetime | None = None
) -> None:
    """422 naming each given date (by its pointer) that lies outside :func:`date_window`."""
    first, last = date_window(prop, years, now)
    outside = [
        FieldProblem(pointer, f"outside {first} .. {last}")
        for pointer, day in dates.items()
        if day is not None and not first <= day <= last
    ]
    if outside:
        raise InvalidInputError(
            f"dates must lie within {first} .. {last} ({years} year{'s' if years > 1 else ''} "
            "either side of the property's today)",
            outside,
        )


def horizon(prop: Property, now: datetime | None = None) -> DateRange:
    """The stay dates innsync manages and keeps in sync: yesterday to the property's horizon."""
    today = property_today(prop, now or datetime.now(UTC))
    return DateRange(
        today - timedelta(days=PAST_DAYS_ALLOWED), today + timedelta(days=prop.horizon_days)
    )


def descendant_ids(session: Session, plan: RatePlan) -> list[uuid.UUID]:
    """Plans deriving from ``plan``, directly or through others (their values follow it)."""
    return descendants_of(session, plan.property_id, [plan.id])[plan.id]


def descendants_of(
    session: Session, property_id: uuid.UUID, plan_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """``descendant_ids`` of many plans of one property, reading its plans once."""
    rows = session.execute(
        select(RatePlan.id, RatePlan.parent_id).where(RatePlan.property_id == property_id)
    )
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for child_id, parent_id in rows:
        if parent_id is not None:
            children.setdefault(parent_id, []).append(child_id)
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for plan_id in plan_ids:
        below: list[uuid.UUID] = []
        pending = [plan_id]
        while pending:
            for child in children.get(pending.pop(), []):
                below.append(child)
                pending.append(child)
        found[plan_id] = below
    return found


def get_owned(
    session: Session, model: type[ModelT], tenant_id: uuid.UUID, row_id: uuid.UUID
) -> ModelT:
    """A row of ``model`` that belongs to the tenant; another tenant's id is simply not found."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "tenant_id", None) != tenant_id:
        raise NotFoundError(f"{_words(model.__name__)} {row_id} not found")
    return row


def check_pms_owns_ari(session: Session, property_id: uuid.UUID) -> None:
    """409 when the property's ARI comes from a connection: only that connection writes it
    (room types, rate plans, rates, restrictions, blocks), so a PMS write would be undone."""
    source = session.scalar(
        select(AriSource.connection_id).where(AriSource.property_id == property_id)
    )
    if source is not None:
        raise ConflictError(
            f"ARI of property {property_id} comes from connection {source}; "
            "only that connection writes its room types, rate plans and ARI"
        )


def _words(class_name: str) -> str:
    """``RoomType`` becomes ``room type``, for messages."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", class_name).lower()


def _flush_unique(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"{what} already exists") from exc


def _apply(row: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


# Properties


def create_property(session: Session, tenant_id: uuid.UUID, data: PropertyCreate) -> Property:
    prop = Property(tenant_id=tenant_id, **data.model_dump())
    session.add(prop)
    session.flush()
    return prop


def list_properties(session: Session, tenant_id: uuid.UUID) -> list[Property]:
    query = select(Property).where(Property.tenant_id == tenant_id).order_by(Property.created_at)
    return list(session.scalars(query))


def update_property(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID, data: PropertyUpdate
) -> Property:
    prop = get_owned(session, Property, tenant_id, property_id)
    changes = data.model_dump(exclude_unset=True)
    # The optional address and contact fields are cleared with null; the others cannot be.
    clearable = set(PropertyContact.model_fields)
    _apply(prop, {k: v for k, v in changes.items() if v is not None or k in clearable})
    session.flush()
    return prop


# Room types and units


def create_room_type(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID, data: RoomTypeCreate
) -> RoomType:
    get_owned(session, Property, tenant_id, property_id)
    check_pms_owns_ari(session, property_id)
    room_type = RoomType(tenant_id=tenant_id, property_id=property_id, **data.model_dump())
    session.add(room_type)
    _flush_unique(session, f"a room type with code '{data.code}'")
    return room_type


def list_room_types(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID
) -> list[RoomType]:
    get_owned(session, Property, tenant_id, property_id)
    query = (
        select(RoomType)
        .where(RoomType.property_id == property_id, RoomType.tenant_id == tenant_id)
        .order_by(RoomType.code)
    )
    return list(session.scalars(query))


def update_room_type(
    session: Session, tenant_id: uuid.UUID, room_type_id: uuid.UUID, data: RoomTypeUpdate
) -> RoomType:
    room_type = get_owned(session, RoomType, tenant_id, room_type_id)
    check_pms_owns_ari(session, room_type.property_id)
    units_before = room_type.sellable_units
    _apply(room_type, data.model_dump(exclude_unset=True, exclude_none=True))
    if room_type.default_occupancy > room_type.max_occupancy:
        raise InvalidInputError("default_occupancy cannot exceed max_occupancy")
    if room_type.max_adults > room_type.max_occupancy:
        raise InvalidInputError("max_adults cannot exceed max_occupancy")
    if room_type.sellable_units != units_before:
        prop = session.get_one(Property, room_type.property_id)
        mark_availability(session, prop.id, [room_type.id], [horizon(prop)])
    session.flush()
    return room_type


def delete_room_type(session: Session, tenant_id: uuid.UUID, room_type_id: uuid.UUID) -> None:
    room_type = get_owned(session, RoomType, tenant_id, room_type_id)
    check_pms_owns_ari(session, room_type.property_id)
    if session.scalar(select(exists().where(RatePlan.room_type_id == room_type.id))):
        raise ConflictError("delete the room type's rate plans first")
    for unit in session.scalars(select(Unit).where(Unit.room_type_id == room_type.id)):
        session.delete(unit)
    session.delete(room_type)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError("the room type has reservations or is mapped on a connection") from exc


def create_unit(
    session: Session, tenant_id: uuid.UUID, room_type_id: uuid.UUID, data: UnitCreate
) -> Unit:
    get_owned(session, RoomType, tenant_id, room_type_id)
    unit = Unit(tenant_id=tenant_id, room_type_id=room_type_id, name=data.name)
    session.add(unit)
    _flush_unique(session, f"a unit named '{data.name}'")
    return unit


def list_units(session: Session, tenant_id: uuid.UUID, room_type_id: uuid.UUID) -> list[Unit]:
    get_owned(session, RoomType, tenant_id, room_type_id)
    query = select(Unit).where(Unit.room_type_id == room_type_id).order_by(Unit.name)
    return list(session.scalars(query))


def delete_unit(session: Session, tenant_id: uuid.UUID, unit_id: uuid.UUID) -> None:
    session.delete(get_owned(session, Unit, tenant_id, unit_id))
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError("the unit is assigned to reservations") from exc


# Rate plans


def create_rate_plan(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID, data: RatePlanCreate
) -> RatePlan:
    get_owned(session, Property, tenant_id, property_id)
    check_pms_owns_ari(session, property_id)
    room_type = get_owned(session, RoomType, tenant_id, data.room_type_id)
    if room_type.property_id != property_id:
        raise InvalidInputError("the room type belongs to another property")
    _check_occupancy_limit(data.occupancies, room_type)
    plan = RatePlan(
        tenant_id=tenant_id,
        property_id=property_id,
        room_type_id=room_type.id,
        code=data.code,
        name=data.name,
        pricing=data.pricing,
        occupancies=sorted(data.occupancies),
        meal_plan=data.meal_plan,
        cancellation_policy=data.cancellation_policy,
        children_fee=_fee(session, property_id, "children_fee", data.children_fee),
        infant_fee=_fee(session, property_id, "infant_fee", data.infant_fee),
        derivation_rules=[],
        inherited_restrictions=[],
    )
    session.add(plan)
    _flush_unique(session, f"a rate plan with code '{data.code}'")
    if data.derived_from is not None:
        _set_derivation(session, tenant_id, plan, data.derived_from)
    return plan


def list_rate_plans(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID
) -> list[RatePlan]:
    get_owned(session, Property, tenant_id, property_id)
    query = (
        select(RatePlan)
        .where(RatePlan.property_id == property_id, RatePlan.tenant_id == tenant_id)
        .order_by(RatePlan.code)
    )
    return list(session.scalars(query))


def update_rate_plan(
    session: Session, tenant_id: uuid.UUID, rate_plan_id: uuid.UUID, data: RatePlanUpdate
) -> RatePlan:
    plan = get_owned(session, RatePlan, tenant_id, rate_plan_id)
    check_pms_owns_ari(session, plan.property_id)
    changes = data.model_dump(
        exclude_unset=True,
        exclude_none=True,
        exclude={"derived_from", "children_fee", "infant_fee"},
    )
    if "occupancies" in changes:
        try:
            check_occupancies(plan.pricing, changes["occupancies"])
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
        _check_occupancy_limit(changes["occupancies"], session.get_one(RoomType, plan.room_type_id))
        changes["occupancies"] = sorted(changes["occupancies"])
    _apply(plan, changes)
    for fee in ("children_fee", "infant_fee"):
        if fee in data.model_fields_set:  # null clears the fee
            setattr(plan, fee, _fee(session, plan.property_id, fee, getattr(data, fee)))
    if "derived_from" in data.model_fields_set:
        if data.derived_from is None:
            plan.parent_id, plan.derivation_rules, plan.inherited_restrictions = None, [], []
        else:
            _set_derivation(session, tenant_id, plan, data.derived_from)
        prop = session.get_one(Property, plan.property_id)
        mark_rates(session, prop.id, [plan.id, *descendant_ids(session, plan)], [horizon(prop)])
    session.flush()
    return plan


def delete_rate_plan(session: Session, tenant_id: uuid.UUID, rate_plan_id: uuid.UUID) -> None:
    plan = get_owned(session, RatePlan, tenant_id, rate_plan_id)
    check_pms_owns_ari(session, plan.property_id)
    if session.scalar(select(exists().where(RatePlan.parent_id == plan.id))):
        raise ConflictError("other rate plans derive from this one")
    session.delete(plan)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError("the rate plan is mapped on a connection or has reservations") from exc


def _check_occupancy_limit(occupancies: list[int], room_type: RoomType) -> None:
    too_many = [occupancy for occupancy in occupancies if occupancy > room_type.max_occupancy]
    if too_many:
        raise InvalidInputError(
            f"occupancies {too_many} exceed the room type's max_occupancy {room_type.max_occupancy}"
        )


def _set_derivation(
    session: Session, tenant_id: uuid.UUID, plan: RatePlan, derivation: DerivationIn
) -> None:
    parent = get_owned(session, RatePlan, tenant_id, derivation.parent_id)
    if parent.property_id != plan.property_id:
        raise InvalidInputError("a rate plan can only derive from a plan of the same property")
    if parent.pricing != plan.pricing:
        raise InvalidInputError(f"a {plan.pricing} plan cannot derive from a {parent.pricing} plan")
    missing = sorted(set(plan.occupancies) - set(parent.occupancies))
    if missing:
        raise InvalidInputError(f"the parent plan does not price occupancies {missing}")
    rows = session.execute(
        select(RatePlan.id, RatePlan.parent_id).where(RatePlan.property_id == plan.property_id)
    )
    parents: dict[object, object] = {plan_id: parent_id for plan_id, parent_id in rows}
    try:
        check_no_cycle(plan.id, parent.id, parents)
    except DerivationCycleError as exc:
        raise InvalidInputError(str(exc)) from exc
    plan.parent_id = parent.id
    plan.derivation_rules = [
        {"kind": rule.kind, "value": str(rule.value)} for rule in derivation.rules
    ]
    plan.inherited_restrictions = list(derivation.inherit)


def derivation_rules(plan: RatePlan) -> list[DerivationRule]:
    return [DerivationRule(rule["kind"], Decimal(rule["value"])) for rule in plan.derivation_rules]


def _fee(
    session: Session, property_id: uuid.UUID, name: str, amount: Decimal | None
) -> Decimal | None:
    """A child or infant fee, refused when finer than the property's currency allows."""
    if amount is None:
        return None
    currency = session.get_one(Property, property_id).currency
    if not is_exact(amount, currency):
        raise InvalidInputError(f"{name} {amount} has more decimals than {currency} allows")
    # Written as the money column reads it back ("15.00"), so this answer and later reads agree.
    two_places = amount.quantize(CENT)
    return two_places if two_places == amount else amount


def rate_plan_read(plan: RatePlan) -> RatePlanRead:
    derived = (
        DerivationRead(
            parent_id=plan.parent_id,
            rules=[DerivationRuleIn(kind=r.kind, value=r.value) for r in derivation_rules(plan)],
            inherit=list(plan.inherited_restrictions),
        )
        if plan.parent_id is not None
        else None
    )
    return RatePlanRead(
        id=plan.id,
        property_id=plan.property_id,
        room_type_id=plan.room_type_id,
        code=plan.code,
        name=plan.name,
        pricing=plan.pricing,
        occupancies=list(plan.occupancies),
        derived_from=derived,
        meal_plan=plan.meal_plan,
        cancellation_policy=plan.cancellation_policy,
        children_fee=plan.children_fee,
        infant_fee=plan.infant_fee,
    )
