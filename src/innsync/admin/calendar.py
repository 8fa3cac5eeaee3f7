"""The ARI calendar: a property's availability, prices and restrictions by month, and bulk edit.

A bulk edit is an ordinary ARI write (``inventory.bulk.write_ari_in_chunks``, the service behind
``POST /api/v1/properties/{id}/ari``): the same checks, the same dirty marks, so the sync worker
sends it like any other change.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, User, Writer
from innsync.admin.calendar_grid import (
    SOURCE_COLOURS,
    Grid,
    build_grid,
    lane_segments,
    month_range,
    price_text,
)
from innsync.admin.rendering import page
from innsync.api.deps import Db
from innsync.errors import ConflictError, InvalidInputError, NotFoundError
from innsync.inventory import bulk
from innsync.inventory.schemas import AriWrite
from innsync.properties.models import Property
from innsync.stay_dates import WEEKDAY_NAMES

router = APIRouter(prefix=f"{ADMIN_PATH}/calendar", include_in_schema=False)
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
WEEKDAY_LABELS = dict(
    zip(WEEKDAY_NAMES, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)
)
# The form's yes/no restrictions: "" leaves the value as it is, "on"/"off" set it.
SWITCHES = {
    "stop_sell": "Stop sell",
    "closed_to_arrival": "Closed to arrival",
    "closed_to_departure": "Closed to departure",
}
NUMBERS = {"min_stay_arrival": "Min stay", "max_stay": "Max stay"}
# Every field the form posts that the page shows a message beside.
FIELDS = ("date_from", "date_to", "weekdays", "plans", "price", *NUMBERS, *SWITCHES, "form")


def _month(text: str | None) -> date | None:
    if not text:
        return None
    found = MONTH.match(text)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1:
        raise AdminRefusalError(400, "The month must look like 2026-07.")
    return date(int(found.group(1)), int(found.group(2)), 1)


def _connection(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise AdminRefusalError(400, "No such connection.") from exc


def _shift(month: date, by: int) -> str:
    index = month.year * 12 + month.month - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def _grid(
    db: Db, user: Any, property_id: uuid.UUID, month: date | None, connection: uuid.UUID | None
) -> Grid:
    now = datetime.now(UTC)
    try:
        return await db.read(
            lambda s: build_grid(s, user.tenant_id, property_id, month, now, connection)
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such property.") from exc


def _render(
    request: Request,
    grid: Grid,
    user: Any,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    saved: str = "",
) -> HTMLResponse:
    month = grid.month
    context = {
        "active": "calendar",
        "user": user,
        "grid": grid,
        "month_label": month.strftime("%B %Y"),
        "month_value": f"{month:%Y-%m}",
        "previous": _shift(month, -1),
        "following": _shift(month, 1),
        "weekday_labels": WEEKDAY_LABELS,
        "switches": SWITCHES,
        "numbers": NUMBERS,
        "form": form or _default_form(grid),
        "errors": errors or {},
        "saved": saved,
        "price_text": price_text,
        "lane_segments": lane_segments,
        "colours": SOURCE_COLOURS,
    }
    return page(request, "calendar.html", context, status)


def _default_form(grid: Grid) -> dict[str, Any]:
    first = max(grid.month, grid.today)
    last = month_range(grid.month).last
    return {
        "date_from": first.isoformat() if first <= last else grid.month.isoformat(),
        "date_to": last.isoformat(),
        "weekdays": list(WEEKDAY_NAMES),
        "plans": [],
    }


@router.get("")
async def choose_property(request: Request, db: Db, user: User) -> Response:
    """The tenant's properties, each a link to its calendar (straight there when only one)."""
    properties = await db.read(
        lambda s: list(
            s.execute(
                select(Property.id, Property.name)
                .where(Property.tenant_id == user.tenant_id)
                .order_by(Property.name, Property.id)
            )
        )
    )
    if len(properties) == 1:
        return RedirectResponse(f"{ADMIN_PATH}/calendar/{properties[0][0]}", status_code=303)
    context = {"active": "calendar", "user": user, "properties": properties}
    return page(request, "calendar_properties.html", context)


@router.get("/{property_id}")
async def calendar_page(
    request: Request,
    db: Db,
    user: User,
    property_id: uuid.UUID,
    month: str | None = None,
    connection: str | None = None,
    saved: str = "",
) -> HTMLResponse:
    grid = await _grid(db, user, property_id, _month(month), _connection(connection))
    return _render(request, grid, user, saved=saved[:10] if saved.isdigit() else "")


@router.post("/{property_id}")
async def bulk_edit(request: Request, db: Db, user: Writer, property_id: uuid.UUID) -> Response:
    """Apply the form's values to the chosen plans over the range, on the chosen weekdays."""
    form = await request.form()
    submitted = _submitted(form)
    month = _month(_text(form, "month"))
    grid = await _grid(db, user, property_id, month, None)
    if grid.source_connection is not None:
        raise AdminRefusalError(
            409, f"This property's ARI comes from {grid.source_connection.name}: it is read-only."
        )
    entries, errors = _entries(submitted, grid)
    if not errors:
        try:
            write = AriWrite.model_validate({"entries": entries})
            result = await run_in_threadpool(
                bulk.write_ari_in_chunks, db.sessions, user.tenant_id, property_id, write
            )
        except ValidationError as exc:
            errors = _validation_errors(exc)
        except InvalidInputError as exc:
            errors = _service_errors(exc, grid, entries)
        except ConflictError as exc:
            raise AdminRefusalError(409, exc.detail) from exc
        except NotFoundError as exc:
            raise AdminRefusalError(404, "No such property.") from exc
        else:
            changed = sum(entry.dates_changed for entry in result.results)
            target = f"{ADMIN_PATH}/calendar/{property_id}?month={grid.month:%Y-%m}&saved={changed}"
            return RedirectResponse(target, status_code=303)
    return _render(request, grid, user, form=submitted, errors=errors, status=400)


def _text(form: Any, name: str, limit: int = 64) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _submitted(form: Any) -> dict[str, Any]:
    """The form as posted, to validate and to show again beside its messages."""
    values: dict[str, Any] = {
        name: _text(form, name) for name in ("date_from", "date_to", "price", *NUMBERS, *SWITCHES)
    }
    values["weekdays"] = [day for day in form.getlist("weekdays") if day in WEEKDAY_NAMES]
    values["plans"] = [plan for plan in form.getlist("plans") if isinstance(plan, str)][:1000]
    return values


def _entries(submitted: dict[str, Any], grid: Grid) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One ARI entry per chosen plan, or the problems a person can fix in the form."""
    errors: dict[str, str] = {}
    known = {plan.id: plan for room in grid.rooms for plan in room.plans}
    plans: list[uuid.UUID] = []
    for text in submitted["plans"]:
        try:
            plans.append(uuid.UUID(text))
        except ValueError:
            errors["plans"] = "Choose rate plans of this property."
    if not plans:
        errors["plans"] = "Choose at least one rate plan."
    elif any(plan not in known for plan in plans):
        errors["plans"] = "Choose rate plans of this property."
    for name in ("date_from", "date_to"):
        if not submitted[name]:
            errors[name] = "Give a date."
    if not submitted["weekdays"]:
        errors["weekdays"] = "Choose at least one weekday."
    changes: dict[str, Any] = {}
    if submitted["price"]:
        changes["price"] = submitted["price"]
    for name in NUMBERS:
        if submitted[name]:
            changes[name] = submitted[name]
    for name in SWITCHES:
        if submitted[name] in ("on", "off"):
            changes[name] = submitted[name] == "on"
        elif submitted[name]:
            errors[name] = "Choose leave, on or off."
    if not changes and "form" not in errors:
        errors["form"] = "Give a price or a restriction to set."
    weekdays = submitted["weekdays"]
    entries = [
        {
            "rate_plan_id": str(plan),
            "date_from": submitted["date_from"],
            "date_to": submitted["date_to"],
            **({"weekdays": weekdays} if len(weekdays) < len(WEEKDAY_NAMES) else {}),
            **changes,
        }
        for plan in plans
    ]
    return entries, errors


def _field_of(parts: list[str]) -> str:
    """The form field of an entry's path (``["entries", "0", "price"]`` is ``price``)."""
    name = parts[2] if len(parts) > 2 else ""
    if name == "weekdays":
        return "weekdays"
    return name if name in FIELDS else ("date_from" if not name else "form")


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in exc.errors():
        field = _field_of([str(part) for part in problem["loc"]])
        message = str(problem["msg"]).removeprefix("Value error, ")
        errors.setdefault(field, message[:1].upper() + message[1:] + ".")
    return errors


def _service_errors(
    exc: InvalidInputError, grid: Grid, entries: list[dict[str, Any]]
) -> dict[str, str]:
    """The service's problems (JSON pointers into the write) beside the fields, per plan."""
    codes = {str(plan.id): plan.code for room in grid.rooms for plan in room.plans}
    errors: dict[str, str] = {}
    for problem in exc.problems:
        parts = problem.pointer.strip("/").split("/")
        index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        field = _field_of(parts)
        plan = codes.get(entries[index]["rate_plan_id"], "") if index is not None else ""
        text = (
            f"{plan}: {problem.detail}"
            if plan and field not in ("date_from", "weekdays")
            else problem.detail
        )
        errors[field] = (
            f"{errors[field]} {text}" if field in errors and text not in errors[field] else text
        )
    return errors or {"form": exc.detail}
