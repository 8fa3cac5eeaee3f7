"""Routes for webhook subscriptions (§1.7): list, get, create, update, delete and test."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from innsync.simulators.channex.checks import Checker, merged
from innsync.simulators.channex.errors import BLANK, INVALID, NOT_FOUND_MESSAGE
from innsync.simulators.channex.listing import parse_list_query, select
from innsync.simulators.channex.state import Record, SimulatorState
from innsync.simulators.channex.webhooks import DOCUMENTED_EVENTS, WebhookDispatcher
from innsync.simulators.channex.wire import (
    SUCCESS,
    read_wrapped,
    resource,
    simulator_state,
    tag_properties,
)

router = APIRouter(prefix="/api/v1")
State = Depends(simulator_state)


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    return dispatcher


def _mask_is_valid(mask: str, multi_event: bool) -> bool:
    """§1.7: "*", one event name, or `ari:restrictions:room_type_ids:rate_plan_ids`."""
    if mask == "*":
        return True
    # PART 3 #2: ";" lists are third-party only, accepted when the config says so.
    parts = mask.split(";") if multi_event else [mask]
    for part in parts:
        name, _, rest = part.partition(":")
        if name not in DOCUMENTED_EVENTS or (rest and (name != "ari" or rest.count(":") > 2)):
            return False
    return True


def webhook_attributes(
    state: SimulatorState, body: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    check: Checker = merged(body, existing, ())
    config = state.config
    property_id = check.data.get("property_id")
    if property_id is None:
        if not config.webhook_global_subscriptions:
            check.add("property_id", BLANK)  # PART 3 #2: null as "global" is unconfirmed
    elif property_id not in state.properties:
        check.add("property_id", NOT_FOUND_MESSAGE)
    callback_url = check.text("callback_url", required=True, max_length=2048)
    if callback_url is not None:
        try:
            scheme = httpx.URL(callback_url).scheme
        except httpx.InvalidURL:
            scheme = ""
        if scheme not in ("http", "https"):
            check.add("callback_url", INVALID)
    mask = check.text("event_mask", required=True)
    if mask is not None and not _mask_is_valid(mask, config.webhook_multi_event_masks):
        check.add("event_mask", INVALID)
    attributes: dict[str, Any] = {
        "property_id": property_id,
        "callback_url": callback_url,
        "event_mask": mask,
        "request_params": check.data.get("request_params") or {},
        "headers": check.data.get("headers") or {},
        # §1.7: both default to false.
        "is_active": check.boolean("is_active", False),
        "send_data": check.boolean("send_data", False),
    }
    for name in ("request_params", "headers"):
        value = attributes[name]
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            check.add(name, INVALID)
    check.done()
    return attributes


@router.get("/webhooks")
async def list_webhooks(request: Request, state: SimulatorState = State) -> JSONResponse:
    query = parse_list_query(request.query_params, default_order=("callback_url", "asc"))
    tag_properties(request, [query.filter_value("property_id")])
    rows = [{"id": w.id, **w.attributes} for w in state.webhooks.values()]
    page, meta = select(rows, query)
    data = [resource("webhook", state.webhooks[row["id"]]) for row in page]
    return JSONResponse({"data": data, "meta": meta})


@router.post("/webhooks/test")
async def send_test_webhook(request: Request, state: SimulatorState = State) -> dict[str, Any]:
    body = await read_wrapped(request, "webhook")
    attributes = webhook_attributes(state, body, None)
    tag_properties(request, [attributes["property_id"]])
    return await _dispatcher(request).send_test(attributes)


@router.get("/webhooks/{webhook_id}")
async def get_webhook(
    webhook_id: str, request: Request, state: SimulatorState = State
) -> JSONResponse:
    record = state.get("webhook", webhook_id)
    tag_properties(request, [record.attributes["property_id"]])
    return JSONResponse({"data": resource("webhook", record)})


@router.post("/webhooks")
async def create_webhook(request: Request, state: SimulatorState = State) -> JSONResponse:
    body = await read_wrapped(request, "webhook")
    record = Record(state.new_id(), webhook_attributes(state, body, None))
    state.webhooks[record.id] = record
    tag_properties(request, [record.attributes["property_id"]])
    return JSONResponse({"data": resource("webhook", record)}, status_code=201)


@router.put("/webhooks/{webhook_id}")
async def update_webhook(
    webhook_id: str, request: Request, state: SimulatorState = State
) -> JSONResponse:
    record = state.get("webhook", webhook_id)
    body = await read_wrapped(request, "webhook")
    record.attributes = webhook_attributes(state, body, record)
    tag_properties(request, [record.attributes["property_id"]])
    return JSONResponse({"data": resource("webhook", record)})


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(
    webhook_id: str, request: Request, state: SimulatorState = State
) -> dict[str, Any]:
    record = state.get("webhook", webhook_id)
    tag_properties(request, [record.attributes["property_id"]])
    state.webhooks.pop(webhook_id)
    return SUCCESS
