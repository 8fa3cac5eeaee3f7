"""§2.7 GET /properties: the account's properties with their room types."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from innsync.simulators.beds24.listing import envelope, int_list
from innsync.simulators.beds24.state import SimulatorState

router = APIRouter(prefix="/v2")


@router.get("/properties")
async def get_properties(request: Request) -> dict[str, Any]:
    state: SimulatorState = request.app.state.simulator
    ids = set(int_list(request.query_params, "id"))
    data = [
        {
            "id": prop.id,
            "name": prop.name,
            "currency": prop.currency,
            "roomTypes": [
                {"id": room.id, "propertyId": prop.id, "name": room.name, "qty": room.qty}
                for room in prop.rooms
            ],
        }
        for prop in state.config.properties
        if not ids or prop.id in ids
    ]
    return envelope(request, "property", data, state.config.page_size)
