"""Routes for pushing and reading availability, rates and restrictions (§1.3, §1.5)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from innsync.simulators.channex import ari_reads, ari_values
from innsync.simulators.channex.errors import (
    BLANK,
    INVALID,
    bad_request,
    too_many_requests,
    validation_error,
)
from innsync.simulators.channex.listing import ListQuery, parse_list_query
from innsync.simulators.channex.state import RateLimitedClass, SimulatorState
from innsync.simulators.channex.wire import read_json, simulator_state, tag_properties
from innsync.stay_dates import DateRange

router = APIRouter(prefix="/api/v1")
State = Depends(simulator_state)

# Not a Channex limit: bounds one read so the simulator stays responsive.
MAX_READ_DAYS = 3650


async def _values(request: Request) -> list[Any]:
    body = await read_json(request)
    if not isinstance(body, dict) or body.get("values") is None or body.get("values") == []:
        raise validation_error({"values": [BLANK]})
    if not isinstance(body["values"], list):
        raise validation_error({"values": [INVALID]})
    values: list[Any] = body["values"]
    return values


def _admit(
    state: SimulatorState, request: Request, endpoint: RateLimitedClass, values: list[Any]
) -> None:
    """Tag the call's properties and count it against §1.3's per-property limit, or 429."""
    property_ids = ari_values.known_property_ids(state, values)
    tag_properties(request, property_ids)
    if not state.limiter.try_acquire(endpoint, property_ids, state.now()):
        raise too_many_requests()


def _task(state: SimulatorState, parsed: ari_values.Parsed) -> list[dict[str, str]]:
    """§1.5: one call is one task; when every entry is rejected, `data` is empty."""
    if not parsed.restrictions and not parsed.availability:
        return []
    task_id = state.new_id()
    state.task_ids.append(task_id)
    return [{"id": task_id, "type": "task"}]


@router.post("/restrictions")
async def push_restrictions(request: Request, state: SimulatorState = State) -> dict[str, Any]:
    values = await _values(request)
    _admit(state, request, "restrictions", values)
    parsed = ari_values.parse_restrictions(state, values)
    ari_values.apply(state, parsed)
    return {
        "data": _task(state, parsed),
        "meta": {"message": "Success", "warnings": parsed.warnings},
    }


@router.post("/availability")
async def push_availability(request: Request, state: SimulatorState = State) -> dict[str, Any]:
    values = await _values(request)
    _admit(state, request, "availability", values)
    parsed = ari_values.parse_availability(state, values)
    ari_values.apply(state, parsed)
    task = _task(state, parsed)
    if state.config.availability_response == "documented":
        # PART 3 #1: the only body the availability docs show.
        return {"meta": {"message": "Success"}}
    return {"data": task, "meta": {"message": "Success", "warnings": parsed.warnings}}


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise bad_request(f"date {raw} is invalid") from exc


def _read_scope(state: SimulatorState, request: Request) -> tuple[str, list[date], ListQuery]:
    """The property and stay dates a read asks for (§1.5 `filter[...]` parameters)."""
    query = parse_list_query(request.query_params)
    property_id = query.filter_value("property_id")
    if property_id is None:
        raise bad_request("property_id is required")
    state.get("property", property_id)
    tag_properties(request, [property_id])
    bounds: dict[str, date] = {}
    for clause in query.clauses:
        if clause.field == "date":
            bounds[clause.operator] = _day(clause.values[0])
    if "in" in bounds or "eq" in bounds:
        return property_id, [bounds.get("in") or bounds["eq"]], query
    first = bounds.get("gte") or (bounds["gt"] + timedelta(days=1) if "gt" in bounds else None)
    last = bounds.get("lte") or (bounds["lt"] - timedelta(days=1) if "lt" in bounds else None)
    if first is None or last is None:
        raise bad_request("date is required")  # §1.5
    if last < first:
        return property_id, [], query
    if (last - first).days >= MAX_READ_DAYS:
        raise bad_request(f"date range must be under {MAX_READ_DAYS} days")
    return property_id, list(DateRange.inclusive(first, last)), query


@router.get("/restrictions")
async def read_restrictions(request: Request, state: SimulatorState = State) -> JSONResponse:
    property_id, stay_dates, query = _read_scope(state, request)
    wanted = next((c.values for c in query.clauses if c.field == "restrictions"), None)
    if not wanted:
        raise bad_request("restrictions is required")  # §1.5: mandatory
    unknown = [name for name in wanted if name not in ari_reads.READABLE]
    if unknown:
        raise bad_request(*(f"restrictions has invalid value {name}" for name in unknown))
    data = {
        plan.id: {
            day.isoformat(): {name: ari_reads.read_value(state, plan, day, name) for name in wanted}
            for day in stay_dates
        }
        for plan in state.rate_plans_of(property_id)
    }
    return JSONResponse({"data": data})


@router.get("/availability")
async def read_availability(request: Request, state: SimulatorState = State) -> JSONResponse:
    property_id, stay_dates, _ = _read_scope(state, request)
    data = {
        room_type.id: {
            day.isoformat(): ari_reads.room_availability(state, room_type.id, day)
            for day in stay_dates
        }
        for room_type in state.room_types_of(property_id)
    }
    return JSONResponse({"data": data})
