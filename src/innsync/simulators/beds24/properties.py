"""§2.7 /properties: the account's properties with their room types and booking webhook.

POST /properties (Beta) is simulated only for what innsync uses: changing an existing
property's ``webhooks`` (§2.7 property.webhooks). Other fields are accepted and ignored, with an
info line saying so; a property without ``id`` (creation) is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from innsync.simulators.beds24.listing import envelope, int_list, json_array
from innsync.simulators.beds24.state import SimulatorState

router = APIRouter(prefix="/v2")
VERSIONS = ("one", "twoNoPersonalData", "twoWithPersonalData")
ADDITIONAL = ("none", "CVC", "token", "CVCAndToken")


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


@router.get("/properties")
async def get_properties(request: Request) -> dict[str, Any]:
    state = _state(request)
    ids = set(int_list(request.query_params, "id"))
    data = []
    for prop in state.config.properties:
        if ids and prop.id not in ids:
            continue
        shown: dict[str, Any] = {
            "id": prop.id,
            "name": prop.name,
            "currency": prop.currency,
            "roomTypes": [
                {"id": room.id, "propertyId": prop.id, "name": room.name, "qty": room.qty}
                for room in prop.rooms
            ],
        }
        if prop.id in state.webhooks:
            shown["webhooks"] = dict(state.webhooks[prop.id])
        data.append(shown)
    return envelope(request, "property", data, state.config.page_size)


def _error(field: str, message: str) -> dict[str, str]:
    return {"action": "modify", "field": field, "message": message}


@router.post("/properties", status_code=201)
async def post_properties(request: Request) -> JSONResponse:
    state = _state(request)
    answers = []
    for item in json_array(await request.body(), state.config.max_post_items):
        answers.append(_apply(state, item))
    return JSONResponse(answers, status_code=201)


def _apply(state: SimulatorState, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        return {"success": False, "errors": [_error("id", "creating properties is not simulated")]}
    known = {prop.id for prop in state.config.properties}
    if item["id"] not in known:
        return {"success": False, "errors": [_error("id", "Property not found")]}
    hook = item.get("webhooks")
    if hook is None:
        return {"success": True, "info": [_error("item", "only webhooks are simulated")]}
    if not isinstance(hook, dict):
        return {"success": False, "errors": [_error("webhooks", "must be an object")]}
    errors = []
    if "version" in hook and hook["version"] not in VERSIONS:
        errors.append(_error("webhooks.version", f"must be one of {', '.join(VERSIONS)}"))
    if "additionalData" in hook and hook["additionalData"] not in ADDITIONAL:
        errors.append(_error("webhooks.additionalData", "is not a documented value"))
    for name in ("url", "customHeader"):
        if name in hook and not isinstance(hook[name], str):
            errors.append(_error(f"webhooks.{name}", "must be text"))
    if errors:
        return {"success": False, "errors": errors}
    current = state.webhooks.setdefault(
        item["id"], {"version": "twoWithPersonalData", "url": "", "additionalData": "none",
                     "customHeader": ""}
    )  # fmt: skip
    current.update({name: hook[name] for name in ("version", "url", "additionalData",
                                                   "customHeader") if name in hook})  # fmt: skip
    return {"success": True, "modified": {"id": item["id"]}}
