"""Routes for groups, properties, room types and rate plans (§1.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from innsync.simulators.channex import entity_rules, policies
from innsync.simulators.channex.errors import ChannexError, bad_request, validation_error
from innsync.simulators.channex.listing import parse_list_query, select
from innsync.simulators.channex.state import EntityKind, Record, SimulatorState
from innsync.simulators.channex.wire import (
    SUCCESS,
    read_wrapped,
    reference,
    resource,
    simulator_state,
    tag_properties,
)

router = APIRouter(prefix="/api/v1")
State = Depends(simulator_state)

DEFAULT_GROUP_TITLE = "Default Group"


def _relationships(state: SimulatorState, kind: EntityKind, record: Record) -> dict[str, Any]:
    attributes = record.attributes
    if kind == "property":
        groups = state.property_groups.get(record.id, [])
        return {
            "groups": {"data": [{"type": "group", "id": g} for g in groups]},
            "facilities": {"data": []},
        }
    if kind == "room_type":
        return {"property": reference("property", attributes["property_id"])}
    if kind == "rate_plan":
        return {
            "property": reference("property", attributes["property_id"]),
            "room_type": reference("room_type", attributes["room_type_id"]),
            "parent_rate_plan": reference("rate_plan", attributes["parent_rate_plan_id"]),
            "cancellation_policy": reference(
                "cancellation_policy", attributes.get("cancellation_policy_id")
            ),
        }
    if kind == "cancellation_policy":
        return {"property": reference("property", attributes["property_id"])}
    return {}


def _one(
    state: SimulatorState, kind: EntityKind, record: Record, status: int = 200
) -> JSONResponse:
    body = {"data": resource(kind, record, _relationships(state, kind, record))}
    return JSONResponse(body, status_code=status)


def _list(state: SimulatorState, kind: EntityKind, request: Request) -> JSONResponse:
    query = parse_list_query(request.query_params)
    tag_properties(request, [query.filter_value("property_id")])
    records = {r.id: r for r in state.table(kind).values()}
    rows = [{"id": r.id, **r.attributes} for r in records.values()]
    page, meta = select(rows, query)
    data = [
        resource(kind, records[row["id"]], _relationships(state, kind, records[row["id"]]))
        for row in page
    ]
    return JSONResponse({"data": data, "meta": meta})


def _options(
    state: SimulatorState, kind: EntityKind, request: Request, fields: tuple[str, ...]
) -> JSONResponse:
    """The unpaginated `/options` lists of §1.4."""
    query = parse_list_query(request.query_params)
    property_id = query.filter_value("property_id")
    tag_properties(request, [property_id])
    data: list[dict[str, Any]] = []
    for record in state.table(kind).values():
        if property_id is not None and record.attributes.get("property_id") != property_id:
            continue
        attributes = {"id": record.id, **{f: record.attributes.get(f) for f in fields}}
        if kind == "rate_plan":
            # §1.4: one entry per occupancy option, inferred from the `occupancy` field.
            for option in record.attributes["options"]:
                data.append(
                    {
                        "type": "rate_plans",
                        "id": record.id,
                        "attributes": {**attributes, "occupancy": option["occupancy"]},
                    }
                )
        else:
            data.append({"type": f"{kind}s", "id": record.id, "attributes": attributes})
    data.sort(key=lambda item: str(item["attributes"].get("title")))
    return JSONResponse({"data": data})


Builder = Callable[[SimulatorState, dict[str, Any], Record | None], dict[str, Any]]


def _register(kind: EntityKind, path: str, builder: Builder, options: tuple[str, ...]) -> None:
    """List, options, get, create and update routes for one entity kind."""

    @router.get(f"/{path}", name=f"list_{path}")
    async def list_all(request: Request, state: SimulatorState = State) -> JSONResponse:
        return _list(state, kind, request)

    if options:

        @router.get(f"/{path}/options", name=f"{path}_options")
        async def list_options(request: Request, state: SimulatorState = State) -> JSONResponse:
            return _options(state, kind, request, options)

    @router.get(f"/{path}/{{entity_id}}", name=f"get_{kind}")
    async def get_one(
        entity_id: str, request: Request, state: SimulatorState = State
    ) -> JSONResponse:
        record = state.get(kind, entity_id)
        tag_properties(
            request, [entity_id if kind == "property" else record.attributes.get("property_id")]
        )
        return _one(state, kind, record)

    @router.post(f"/{path}", name=f"create_{kind}")
    async def create(request: Request, state: SimulatorState = State) -> JSONResponse:
        body = await read_wrapped(request, kind)
        attributes = builder(state, body, None)
        record = Record(state.new_id(), attributes)
        state.table(kind)[record.id] = record
        if kind == "property":
            _join_first_group(state, record)
        tag_properties(
            request, [record.id if kind == "property" else attributes.get("property_id")]
        )
        return _one(state, kind, record, status=201)  # §1.2: 201 for create calls

    @router.put(f"/{path}/{{entity_id}}", name=f"update_{kind}")
    async def update(
        entity_id: str, request: Request, state: SimulatorState = State
    ) -> JSONResponse:
        record = state.get(kind, entity_id)
        body = await read_wrapped(request, kind)
        record.attributes = builder(state, body, record)
        tag_properties(
            request, [entity_id if kind == "property" else record.attributes.get("property_id")]
        )
        return _one(state, kind, record)


def _join_first_group(state: SimulatorState, record: Record) -> None:
    """§1.4: a property must belong to at least one group; without `group_id` it joins a default."""
    group_id = record.attributes.get("group_id")
    if group_id is None:
        default = next(
            (g for g in state.groups.values() if g.attributes["title"] == DEFAULT_GROUP_TITLE), None
        )
        if default is None:
            default = Record(state.new_id(), {"title": DEFAULT_GROUP_TITLE})
            state.groups[default.id] = default
        group_id = default.id
    state.property_groups[record.id] = [group_id]


def _group_builder(
    _: SimulatorState, body: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    return entity_rules.group_attributes(body, existing)


_register("group", "groups", _group_builder, ())
_register("property", "properties", entity_rules.property_attributes, ("title", "currency"))
_register(
    "room_type",
    "room_types",
    entity_rules.room_type_attributes,
    ("property_id", "title", "default_occupancy"),
)
_register(
    "rate_plan",
    "rate_plans",
    entity_rules.rate_plan_attributes,
    (
        "parent_rate_plan_id",
        "property_id",
        "rate_category_id",
        "room_type_id",
        "sell_mode",
        "title",
    ),
)

_register(
    "cancellation_policy",
    "cancellation_policies",
    policies.cancellation_policy_attributes,
    (),
)


@router.delete("/groups/{group_id}")
async def delete_group(group_id: str, state: SimulatorState = State) -> dict[str, Any]:
    state.get("group", group_id)
    if any(group_id in groups for groups in state.property_groups.values()):
        raise bad_request("group has properties")  # §1.4: 400 while it still has properties
    state.groups.pop(group_id)
    return SUCCESS


@router.post("/groups/{group_id}/properties/{property_id}")
async def join_group(
    group_id: str, property_id: str, request: Request, state: SimulatorState = State
) -> dict[str, Any]:
    state.get("group", group_id)
    state.get("property", property_id)
    tag_properties(request, [property_id])
    groups = state.property_groups.setdefault(property_id, [])
    if group_id not in groups:
        groups.append(group_id)
    return SUCCESS


@router.delete("/groups/{group_id}/properties/{property_id}")
async def leave_group(
    group_id: str, property_id: str, request: Request, state: SimulatorState = State
) -> dict[str, Any]:
    state.get("group", group_id)
    state.get("property", property_id)
    tag_properties(request, [property_id])
    groups = state.property_groups.get(property_id, [])
    if group_id not in groups:
        raise ChannexError(404, "not_found", "Resouce Not Found")
    if groups == [group_id]:
        raise validation_error({"property": ["must belong to at least one group"]})
    groups.remove(group_id)
    return SUCCESS


@router.delete("/properties/{property_id}")
async def delete_property(
    property_id: str, request: Request, state: SimulatorState = State
) -> dict[str, Any]:
    # §1.4 refuses with "has channel(s)" unless ?force=true; simulated properties have no
    # channels, so the delete always goes through.
    state.get("property", property_id)
    tag_properties(request, [property_id])
    state.delete_property(property_id)
    return SUCCESS


@router.delete("/room_types/{room_type_id}")
async def delete_room_type(
    room_type_id: str, request: Request, state: SimulatorState = State
) -> dict[str, Any]:
    record = state.get("room_type", room_type_id)
    tag_properties(request, [record.attributes["property_id"]])
    # docs.channex.io "Delete Room Type API": a room type linked to a channel is refused with
    # 422 unless `force=true`, which un-maps it. A channel here links the rate plans it sells.
    plans = {
        p.id for p in state.rate_plans.values() if p.attributes["room_type_id"] == room_type_id
    }
    linked = any(plans & set(c.attributes["rate_plan_ids"]) for c in state.channels.values())
    if linked and request.query_params.get("force") != "true":
        raise validation_error({"room_type": ["has channel(s)"]})
    for channel in state.channels.values():
        channel.attributes["rate_plan_ids"] = [
            plan for plan in channel.attributes["rate_plan_ids"] if plan not in plans
        ]
    state.delete_room_type(room_type_id)
    return SUCCESS


@router.delete("/rate_plans/{rate_plan_id}")
async def delete_rate_plan(
    rate_plan_id: str, request: Request, state: SimulatorState = State
) -> dict[str, Any]:
    record = state.get("rate_plan", rate_plan_id)
    tag_properties(request, [record.attributes["property_id"]])
    if any(p.attributes["parent_rate_plan_id"] == rate_plan_id for p in state.rate_plans.values()):
        raise validation_error({"rate_plan": ["has derived rate plans"]})
    # §1.4: `?force=true` removes a plan "even if it is mapped" to an OTA channel, so without
    # it a mapped plan is refused, like a property that "has channel(s)".
    mapped = any(rate_plan_id in c.attributes["rate_plan_ids"] for c in state.channels.values())
    if mapped and request.query_params.get("force") != "true":
        raise validation_error({"rate_plan": ["has channel(s)"]})
    state.rate_plans.pop(rate_plan_id)
    state.restrictions.pop(rate_plan_id, None)
    return SUCCESS
