"""§2.3 calendar read (a date range per accommodation) and bulk write, which fires §2.5's
calendar webhook for the days whose values changed."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from innsync.simulators.octorate.errors import OctorateError
from innsync.simulators.octorate.gateway import use_accommodation
from innsync.simulators.octorate.listing import page_of, query_date
from innsync.simulators.octorate.oauth import state_of
from innsync.simulators.octorate.state import CALENDAR_FIELDS, SimulatorState
from innsync.simulators.octorate.webhooks import WebhookDispatcher
from innsync.simulators.octorate.wire import parse_stay_day

router = APIRouter()
_INTEGERS = {"availability": (0, 9999), "minStay": (1, 999), "maxStay": (1, 999),
             "cutOffDays": (0, 999)}  # fmt: skip
_FLAGS = ("stopSells", "closeToArrival", "closeToDeparture")


def dispatcher_of(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    return dispatcher


def checked_values(state: SimulatorState, values: object, where: str) -> dict[str, Any]:
    """Calendar values in the webhook's spelling; the 3P spellings are read as aliases."""
    if not isinstance(values, dict) or not values:
        raise OctorateError(400, "ApiParamsExemption", f"{where}.values must be a non-empty object")
    aliases = dict(state.config.calendar_aliases)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        name = aliases.get(key, key)
        if name not in CALENDAR_FIELDS:
            raise OctorateError(400, "ApiParamsExemption", f"{where}.values.{key} is unknown")
        if name in _INTEGERS:
            low, high = _INTEGERS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise OctorateError(
                    400, "ApiParamsExemption", f"{where}.values.{key} must be {low}-{high}"
                )
        elif name in _FLAGS:
            if not isinstance(value, bool):
                raise OctorateError(400, "ApiParamsExemption", f"{where}.values.{key}: boolean")
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise OctorateError(400, "ApiParamsExemption", f"{where}.values.{key} must be >= 0")
        checked[name] = float(value) if name == "price" else value
    return checked


def apply_values(
    state: SimulatorState, product_id: int, first: date, last: date, values: dict[str, Any]
) -> set[date]:
    """Set ``values`` on ``[first, last]`` (inclusive); the days whose values changed."""
    product = state.products[product_id]
    changed = set()
    day = first
    while day <= last:
        before = state.day_values(product, day)
        held = state.calendar.setdefault((product_id, day), {})
        held.update(values)
        if state.day_values(product, day) != before:
            changed.add(day)
        day += timedelta(days=1)
    return changed


@router.get("/connect/rest/v1/calendar/{accommodation_id}")
async def read(
    request: Request,
    accommodation_id: int,
    date_from: Annotated[str | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[str | None, Query(alias="dateTo")] = None,
    size: Annotated[str | None, Query()] = None,
    page: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Every product of the accommodation with its days in ``[dateFrom, dateTo]``; pages of
    products."""
    use_accommodation(request, accommodation_id)
    state = state_of(request)
    first, last = query_date(date_from, "dateFrom"), query_date(date_to, "dateTo")
    if last < first:
        raise OctorateError(400, "ApiParamsExemption", "dateTo is before dateFrom")
    if (last - first).days + 1 > state.config.calendar_max_days:
        raise OctorateError(
            400, "ApiParamsExemption", f"at most {state.config.calendar_max_days} days per read"
        )
    products = sorted(state.accommodation_products(accommodation_id), key=lambda p: p.id)
    shown, block = page_of(state, products, size, page)
    data = []
    for product in shown:
        days = []
        day = first
        while day <= last:
            days.append({"date": day.isoformat(), **state.day_values(product, day)})
            day += timedelta(days=1)
        data.append({"id": product.id, "name": product.name, "days": days})
    return {"data": data, "page": block}


@router.post("/connect/rest/v1/calendar/bulk")
async def write(request: Request, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """§2.3: ``[{room, dateFrom, dateTo, values}]``, validated whole before anything changes."""
    state = state_of(request)
    if state.config.accommodation_permission != "READWRITE":
        raise OctorateError(403, "ApiSecurityException", "Caller not in requested role")
    if not isinstance(body, list) or not body:
        raise OctorateError(400, "ApiParamsExemption", "the body is a non-empty array")
    planned = []
    for index, item in enumerate(body):
        where = f"[{index}]"
        if not isinstance(item, dict):
            raise OctorateError(400, "ApiParamsExemption", f"{where} must be an object")
        product_id = item.get("room")
        if isinstance(product_id, bool) or not isinstance(product_id, int):
            raise OctorateError(400, "ApiParamsExemption", f"{where}.room must be an integer")
        product = state.products.get(product_id)
        if product is None:
            raise OctorateError(404, "ApiResourceMissing", f"{where}.room {product_id} not found")
        first = parse_stay_day(item.get("dateFrom"), f"{where}.dateFrom")
        last = parse_stay_day(item.get("dateTo"), f"{where}.dateTo")
        if last < first:
            raise OctorateError(400, "ApiParamsExemption", f"{where}.dateTo is before dateFrom")
        values = checked_values(state, item.get("values"), where)
        planned.append((product, first, last, values))
    for accommodation_id in sorted({product.accommodation.id for product, *_ in planned}):
        use_accommodation(request, accommodation_id)
    changes: dict[int, set[date]] = {}
    process = []
    for product, first, last, values in planned:
        changed = apply_values(state, product.id, first, last, values)
        changes.setdefault(product.id, set()).update(changed)
        process.append(
            {
                "room": product.id,
                "dateFrom": first.isoformat(),
                "dateTo": last.isoformat(),
                "changedDays": len(changed),
            }
        )
    dispatcher_of(request).calendar_changed(changes)
    return {"success": True, "process": process}
