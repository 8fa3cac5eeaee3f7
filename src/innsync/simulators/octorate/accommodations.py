"""§2.3 the accommodations a token sees, their rooms and rates, and the app's configuration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from innsync.simulators.octorate.gateway import use_accommodation
from innsync.simulators.octorate.oauth import state_of
from innsync.simulators.octorate.state import AccessToken

router = APIRouter()


@router.get("/connect/rest/v1/accommodation")
async def accommodations(request: Request) -> list[dict[str, Any]]:
    """Every accommodation the token was granted (OpenAPI ``retrieveAccommodations``)."""
    state = state_of(request)
    token: AccessToken = request.state.token
    shown = []
    for accommodation_id in token.accommodation_ids:
        spec = state.config.accommodation(accommodation_id)
        if spec is not None:
            shown.append(
                {
                    "id": str(spec.id),
                    "name": spec.name,
                    "currency": spec.currency,
                    "timeZone": spec.time_zone,
                }
            )
    return shown


@router.get("/connect/rest/v3/roomrates/{accommodation_id}")
async def room_rates(request: Request, accommodation_id: int) -> list[dict[str, Any]]:
    """§2.3 [3P]: the room types with their rate plans (a **v3** path)."""
    use_accommodation(request, accommodation_id)
    spec = state_of(request).config.accommodation(accommodation_id)
    assert spec is not None  # use_accommodation refused unknown ones
    return [
        {
            "id": room.id,
            "name": room.name,
            "quantity": room.units,
            "maxGuests": room.max_guests,
            "rates": [{"id": rate.id, "name": rate.name} for rate in room.rates],
        }
        for room in spec.rooms
    ]


@router.get("/connect/rest/v1/api/configuration")
async def configuration(request: Request) -> dict[str, Any]:
    """§2.2 [3P]: the app's name and permissions."""
    config = state_of(request).config
    return {
        "id": config.client_id,
        "name": "Simulated marketplace",
        "redirectUri": config.redirect_uris[0] if config.redirect_uris else None,
        "permissions": {
            "accommodation": config.accommodation_permission,
            "reservation": "READWRITE",
            "content": "READONLY",
            "cardDetail": "NONE",
            "license": "NONE",
        },
    }
