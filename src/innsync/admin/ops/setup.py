"""Property set-up: properties, their room types with units, and rate plans (derived or not,
per room or per person), through the same services as the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, User, Writer
from innsync.admin.ops.forms import Form, number, numbers, place, read_form, validate
from innsync.admin.rendering import page
from innsync.api.deps import Db
from innsync.db.base import utcnow
from innsync.errors import ConflictError, DomainError, InvalidInputError, NotFoundError
from innsync.marketplace.models import AriSource
from innsync.properties import service
from innsync.properties.derivation import RESTRICTION_FIELDS
from innsync.properties.models import Property, RatePlan, RoomType, Unit
from innsync.properties.schemas import (
    RatePlanCreate,
    RatePlanUpdate,
    RoomTypeCreate,
    RoomTypeUpdate,
    UnitCreate,
)
from innsync.reservations import assignment
from innsync.tenants.users import SignedIn

router = APIRouter(prefix=ADMIN_PATH, include_in_schema=False)

ROOM_TYPE_FIELDS = (
    "code",
    "name",
    "sellable_units",
    "max_adults",
    "max_children",
    "max_occupancy",
    "default_occupancy",
)
ROOM_TYPE_NUMBERS = ROOM_TYPE_FIELDS[2:]
RATE_PLAN_FIELDS = (
    "room_type_id",
    "code",
    "name",
    "pricing",
    "occupancies",
    "parent_id",
    "rule_kind",
    "rule_value",
    "meal_plan",
    "cancellation_policy",
    "children_fee",
    "infant_fee",
)
# Words of the rate-plan service's refusals, and the field each is about.
RATE_PLAN_WORDS = {"derive": "parent_id", "parent": "parent_id", "room type": "room_type_id"}
# Nested locations of a derivation's problems, as the form's fields.
RATE_PLAN_ALIASES = {"rules": "rule_value", "inherit": "inherit", "derived_from": "parent_id"}
MEAL_PLANS = ("room_only", "breakfast", "half_board", "full_board", "all_inclusive")
# Pages that list (or that a form redirects back to) carry a notice chosen from these.
NOTICES = {
    "room-type-saved": "Room type saved.",
    "room-type-deleted": "Room type deleted.",
    "unit-added": "Unit added.",
    "unit-deleted": "Unit deleted.",
    "rate-plan-saved": "Rate plan saved.",
    "rate-plan-deleted": "Rate plan deleted.",
}


@dataclass(frozen=True, slots=True)
class PropertyRow:
    id: uuid.UUID
    name: str
    timezone: str
    currency: str
    room_types: int
    rate_plans: int
    channel_sourced: bool


@dataclass(frozen=True, slots=True)
class Setup:
    """One property's set-up, read in a fixed number of queries."""

    prop: Property
    source_connection: uuid.UUID | None
    room_types: list[RoomType]
    units: dict[uuid.UUID, list[Unit]]
    rate_plans: list[RatePlan]

    @property
    def plan_codes(self) -> dict[uuid.UUID, str]:
        return {plan.id: plan.code for plan in self.rate_plans}

    @property
    def room_type_codes(self) -> dict[uuid.UUID, str]:
        return {room_type.id: room_type.code for room_type in self.room_types}


def property_rows(session: Session, tenant_id: uuid.UUID) -> list[PropertyRow]:
    """The tenant's properties with their counts: four queries however many there are."""
    props = service.list_properties(session, tenant_id)
    ids = [prop.id for prop in props]
    room_types = dict(
        session.execute(
            select(RoomType.property_id, func.count())
            .where(RoomType.tenant_id == tenant_id, RoomType.property_id.in_(ids))
            .group_by(RoomType.property_id)
        ).all()
    )
    plans = dict(
        session.execute(
            select(RatePlan.property_id, func.count())
            .where(RatePlan.tenant_id == tenant_id, RatePlan.property_id.in_(ids))
            .group_by(RatePlan.property_id)
        ).all()
    )
    sourced = set(
        session.scalars(select(AriSource.property_id).where(AriSource.property_id.in_(ids)))
    )
    return [
        PropertyRow(
            prop.id,
            prop.name,
            prop.timezone,
            prop.currency,
            room_types.get(prop.id, 0),
            plans.get(prop.id, 0),
            prop.id in sourced,
        )
        for prop in props
    ]


def read_setup(session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID) -> Setup:
    prop = service.get_owned(session, Property, tenant_id, property_id)
    source = session.scalar(
        select(AriSource.connection_id).where(AriSource.property_id == property_id)
    )
    room_types = service.list_room_types(session, tenant_id, property_id)
    units: dict[uuid.UUID, list[Unit]] = {room_type.id: [] for room_type in room_types}
    # Every unit of the property at once, not a query per room type.
    for unit in session.scalars(
        select(Unit)
        .where(Unit.tenant_id == tenant_id, Unit.room_type_id.in_(list(units)))
        .order_by(Unit.name)
    ):
        units[unit.room_type_id].append(unit)
    plans = service.list_rate_plans(session, tenant_id, property_id)
    return Setup(prop, source, room_types, units, plans)


async def _setup(db: Db, user: SignedIn, property_id: uuid.UUID) -> Setup:
    try:
        return await db.read(lambda s: read_setup(s, user.tenant_id, property_id))
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such property.") from exc


def _room_type_form(room_type: RoomType | None = None) -> Form:
    form = Form({name: "" for name in ROOM_TYPE_FIELDS})
    if room_type is None:
        form.values.update(max_children="0")
    else:
        form.values.update({name: str(getattr(room_type, name)) for name in ROOM_TYPE_FIELDS})
    return form


def _rate_plan_form(plan: RatePlan | None = None) -> Form:
    form = Form({name: "" for name in RATE_PLAN_FIELDS}, {"inherit": []})
    form.values.update(pricing="per_room", meal_plan="room_only", rule_kind="percent")
    if plan is not None:
        form.values.update(
            room_type_id=str(plan.room_type_id),
            code=plan.code,
            name=plan.name,
            pricing=plan.pricing,
            occupancies=", ".join(str(n) for n in plan.occupancies),
            parent_id=str(plan.parent_id or ""),
            meal_plan=plan.meal_plan,
            cancellation_policy=plan.cancellation_policy,
            children_fee="" if plan.children_fee is None else str(plan.children_fee),
            infant_fee="" if plan.infant_fee is None else str(plan.infant_fee),
        )
        if plan.derivation_rules:
            rule = plan.derivation_rules[0]
            form.values.update(rule_kind=rule["kind"], rule_value=str(rule["value"]))
        form.lists["inherit"] = list(plan.inherited_restrictions)
    return form


def _property_page(
    request: Request,
    user: SignedIn,
    setup: Setup,
    room_type_form: Form | None = None,
    rate_plan_form: Form | None = None,
    status: int = 200,
    refusal: str = "",
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""), "") if status == 200 else ""
    context: dict[str, Any] = {
        "user": user,
        "active": "ops",
        "section": "properties",
        "setup": setup,
        "room_type_form": room_type_form or _room_type_form(),
        "rate_plan_form": rate_plan_form or _rate_plan_form(),
        "meal_plans": MEAL_PLANS,
        "restrictions": RESTRICTION_FIELDS,
        "notice": notice,
        "refusal": refusal,
    }
    return page(request, "ops_property.html", context, status)


def _status_of(error: DomainError) -> int:
    return 409 if isinstance(error, ConflictError) else 422


def _back(property_id: uuid.UUID, done: str) -> RedirectResponse:
    # "#main": the form's own fragment would otherwise be kept and hide the notice at the top.
    target = f"{ADMIN_PATH}/properties/{property_id}?done={done}#main"
    return RedirectResponse(target, status_code=303)


def _not_found(what: str) -> AdminRefusalError:
    return AdminRefusalError(404, f"No such {what}.")


@router.get("/properties")
async def properties_page(request: Request, db: Db, user: User) -> HTMLResponse:
    rows = await db.read(lambda s: property_rows(s, user.tenant_id))
    context = {"user": user, "active": "ops", "section": "properties", "rows": rows}
    return page(request, "ops_properties.html", context)


@router.get("/properties/{property_id}")
async def property_page(
    request: Request, db: Db, user: User, property_id: uuid.UUID
) -> HTMLResponse:
    return _property_page(request, user, await _setup(db, user, property_id))


# Room types and units


def _room_type_data(form: Form, create: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"name": form.get("name")}
    if create:
        data["code"] = form.get("code")
    for name in ROOM_TYPE_NUMBERS:
        number(form, name, data)
    return data


@router.post("/properties/{property_id}/room-types")
async def create_room_type(
    request: Request, db: Db, user: Writer, property_id: uuid.UUID
) -> Response:
    form = await read_form(request, ROOM_TYPE_FIELDS)
    data = _room_type_data(form, create=True)
    checked = validate(RoomTypeCreate, data, form) if not form.errors else None
    status = 422
    if checked is not None:
        try:
            await db.write(
                lambda s: service.create_room_type(s, user.tenant_id, property_id, checked)
            )
            return _back(property_id, "room-type-saved")
        except NotFoundError as exc:
            raise _not_found("property") from exc
        except (ConflictError, InvalidInputError) as exc:
            place(exc, form)
            status = _status_of(exc)
    setup = await _setup(db, user, property_id)
    return _property_page(request, user, setup, room_type_form=form, status=status)


async def _owned_room_type(db: Db, user: SignedIn, room_type_id: uuid.UUID) -> RoomType:
    try:
        return await db.read(lambda s: service.get_owned(s, RoomType, user.tenant_id, room_type_id))
    except NotFoundError as exc:
        raise _not_found("room type") from exc


def _room_type_page(
    request: Request, user: SignedIn, room_type: RoomType, form: Form, status: int = 200
) -> HTMLResponse:
    context = {
        "user": user,
        "active": "ops",
        "section": "properties",
        "room_type": room_type,
        "form": form,
    }
    return page(request, "ops_room_type.html", context, status)


@router.get("/room-types/{room_type_id}")
async def room_type_page(
    request: Request, db: Db, user: User, room_type_id: uuid.UUID
) -> HTMLResponse:
    room_type = await _owned_room_type(db, user, room_type_id)
    return _room_type_page(request, user, room_type, _room_type_form(room_type))


@router.post("/room-types/{room_type_id}")
async def update_room_type(
    request: Request, db: Db, user: Writer, room_type_id: uuid.UUID
) -> Response:
    room_type = await _owned_room_type(db, user, room_type_id)
    form = await read_form(request, ROOM_TYPE_FIELDS)
    form.values["code"] = room_type.code  # a code is fixed once created
    data = _room_type_data(form, create=False)
    checked = validate(RoomTypeUpdate, data, form) if not form.errors else None
    status = 422
    if checked is not None:
        try:
            await db.write(
                lambda s: service.update_room_type(s, user.tenant_id, room_type_id, checked)
            )
            return _back(room_type.property_id, "room-type-saved")
        except NotFoundError as exc:
            raise _not_found("room type") from exc
        except (ConflictError, InvalidInputError) as exc:
            place(exc, form)
            status = _status_of(exc)
    return _room_type_page(request, user, room_type, form, status)


async def _refused_on_property(
    request: Request, db: Db, user: SignedIn, property_id: uuid.UUID, error: DomainError
) -> HTMLResponse:
    """The property's page again, with why the change was refused at the top."""
    setup = await _setup(db, user, property_id)
    return _property_page(request, user, setup, status=_status_of(error), refusal=error.detail)


@router.post("/room-types/{room_type_id}/delete")
async def delete_room_type(
    request: Request, db: Db, user: Writer, room_type_id: uuid.UUID
) -> Response:
    room_type = await _owned_room_type(db, user, room_type_id)
    try:
        await db.write(lambda s: service.delete_room_type(s, user.tenant_id, room_type_id))
    except NotFoundError as exc:
        raise _not_found("room type") from exc
    except ConflictError as exc:
        return await _refused_on_property(request, db, user, room_type.property_id, exc)
    return _back(room_type.property_id, "room-type-deleted")


@router.post("/room-types/{room_type_id}/units")
async def create_unit(request: Request, db: Db, user: Writer, room_type_id: uuid.UUID) -> Response:
    room_type = await _owned_room_type(db, user, room_type_id)
    form = await read_form(request, ("name",))
    checked = validate(UnitCreate, {"name": form.get("name")}, form)
    if checked is None:
        error = InvalidInputError(f"unit name: {form.errors.get('name', 'invalid')}")
        return await _refused_on_property(request, db, user, room_type.property_id, error)

    def create(session: Session) -> None:
        unit = service.create_unit(session, user.tenant_id, room_type_id, checked)
        prop = session.get_one(Property, room_type.property_id)
        # As the API does: stays left without a unit (an overbooking) take the new one.
        assignment.place_in_new_unit(session, unit, service.property_today(prop, utcnow()))

    try:
        await db.write(create)
    except NotFoundError as exc:
        raise _not_found("room type") from exc
    except ConflictError as exc:
        return await _refused_on_property(request, db, user, room_type.property_id, exc)
    return _back(room_type.property_id, "unit-added")


@router.post("/units/{unit_id}/delete")
async def delete_unit(request: Request, db: Db, user: Writer, unit_id: uuid.UUID) -> Response:
    def find(session: Session) -> uuid.UUID:
        unit = service.get_owned(session, Unit, user.tenant_id, unit_id)
        return session.get_one(RoomType, unit.room_type_id).property_id

    try:
        property_id = await db.read(find)
    except NotFoundError as exc:
        raise _not_found("unit") from exc
    try:
        await db.write(lambda s: service.delete_unit(s, user.tenant_id, unit_id))
    except ConflictError as exc:
        return await _refused_on_property(request, db, user, property_id, exc)
    return _back(property_id, "unit-deleted")


# Rate plans


def _derivation(form: Form) -> dict[str, Any] | None:
    if not form.get("parent_id"):
        return None
    rules = []
    if form.get("rule_value"):
        rules.append({"kind": form.get("rule_kind"), "value": form.get("rule_value")})
    return {"parent_id": form.get("parent_id"), "rules": rules, "inherit": form.lists["inherit"]}


def _rate_plan_data(form: Form) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": form.get("name"),
        "meal_plan": form.get("meal_plan"),
        "cancellation_policy": form.get("cancellation_policy"),
        "children_fee": form.get("children_fee") or None,
        "infant_fee": form.get("infant_fee") or None,
    }
    numbers(form, "occupancies", data)
    return data


async def read_rate_plan_form(request: Request) -> Form:
    return await read_form(request, RATE_PLAN_FIELDS, lists=("inherit",))


@router.post("/properties/{property_id}/rate-plans")
async def create_rate_plan(
    request: Request, db: Db, user: Writer, property_id: uuid.UUID
) -> Response:
    form = await read_rate_plan_form(request)
    data = _rate_plan_data(form)
    data.update(
        room_type_id=form.get("room_type_id"),
        code=form.get("code"),
        pricing=form.get("pricing"),
        derived_from=_derivation(form),
    )
    checked = validate(RatePlanCreate, data, form, RATE_PLAN_ALIASES) if not form.errors else None
    status = 422
    if checked is not None:
        try:
            await db.write(
                lambda s: service.create_rate_plan(s, user.tenant_id, property_id, checked)
            )
            return _back(property_id, "rate-plan-saved")
        except NotFoundError as exc:
            if "room type" in exc.detail or "rate plan" in exc.detail:
                form.add("room_type_id" if "room type" in exc.detail else "parent_id", exc.detail)
            else:
                raise _not_found("property") from exc
        except (ConflictError, InvalidInputError) as exc:
            place(exc, form, RATE_PLAN_WORDS)
            status = _status_of(exc)
    setup = await _setup(db, user, property_id)
    return _property_page(request, user, setup, rate_plan_form=form, status=status)


async def _owned_plan(db: Db, user: SignedIn, rate_plan_id: uuid.UUID) -> Setup:
    """The plan's property's set-up (the edit form offers its plans as parents)."""

    def read(session: Session) -> Setup:
        plan = service.get_owned(session, RatePlan, user.tenant_id, rate_plan_id)
        return read_setup(session, user.tenant_id, plan.property_id)

    try:
        return await db.read(read)
    except NotFoundError as exc:
        raise _not_found("rate plan") from exc


def _rate_plan_page(
    request: Request,
    user: SignedIn,
    setup: Setup,
    plan: RatePlan,
    form: Form,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "user": user,
        "active": "ops",
        "section": "properties",
        "setup": setup,
        "plan": plan,
        "form": form,
        "meal_plans": MEAL_PLANS,
        "restrictions": RESTRICTION_FIELDS,
    }
    return page(request, "ops_rate_plan.html", context, status)


def _plan_in(setup: Setup, rate_plan_id: uuid.UUID) -> RatePlan:
    return next(plan for plan in setup.rate_plans if plan.id == rate_plan_id)


@router.get("/rate-plans/{rate_plan_id}")
async def rate_plan_page(
    request: Request, db: Db, user: User, rate_plan_id: uuid.UUID
) -> HTMLResponse:
    setup = await _owned_plan(db, user, rate_plan_id)
    plan = _plan_in(setup, rate_plan_id)
    return _rate_plan_page(request, user, setup, plan, _rate_plan_form(plan))


@router.post("/rate-plans/{rate_plan_id}")
async def update_rate_plan(
    request: Request, db: Db, user: Writer, rate_plan_id: uuid.UUID
) -> Response:
    setup = await _owned_plan(db, user, rate_plan_id)
    plan = _plan_in(setup, rate_plan_id)
    form = await read_rate_plan_form(request)
    # Fixed once created: shown, not changed.
    form.values.update(room_type_id=str(plan.room_type_id), code=plan.code, pricing=plan.pricing)
    data = _rate_plan_data(form)
    if plan.pricing == "per_room":
        data.pop("occupancies")
    derived = _derivation(form)
    # Sent only when it changes: a new derivation re-sends the plan's prices everywhere.
    if derived != _derivation(_rate_plan_form(plan)):
        data["derived_from"] = derived
    checked = validate(RatePlanUpdate, data, form, RATE_PLAN_ALIASES) if not form.errors else None
    status = 422
    if checked is not None:
        try:
            await db.write(
                lambda s: service.update_rate_plan(s, user.tenant_id, rate_plan_id, checked)
            )
            return _back(plan.property_id, "rate-plan-saved")
        except NotFoundError as exc:
            form.add("parent_id", exc.detail)
        except (ConflictError, InvalidInputError) as exc:
            place(exc, form, RATE_PLAN_WORDS)
            status = _status_of(exc)
    return _rate_plan_page(request, user, setup, plan, form, status)


@router.post("/rate-plans/{rate_plan_id}/delete")
async def delete_rate_plan(
    request: Request, db: Db, user: Writer, rate_plan_id: uuid.UUID
) -> Response:
    setup = await _owned_plan(db, user, rate_plan_id)
    try:
        await db.write(lambda s: service.delete_rate_plan(s, user.tenant_id, rate_plan_id))
    except NotFoundError as exc:
        raise _not_found("rate plan") from exc
    except ConflictError as exc:
        return await _refused_on_property(request, db, user, setup.prop.id, exc)
    return _back(setup.prop.id, "rate-plan-deleted")
