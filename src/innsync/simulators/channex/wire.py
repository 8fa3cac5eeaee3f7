"""The Channex wire format (§1.2): reading JSON bodies and writing resource envelopes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import Request

from innsync.simulators.channex.errors import BLANK, INVALID, bad_request, validation_error
from innsync.simulators.channex.state import Record, SimulatorState

SUCCESS: dict[str, Any] = {"meta": {"message": "Success"}}


def simulator_state(request: Request) -> SimulatorState:
    """The state of the app serving this request (a FastAPI dependency)."""
    state: SimulatorState = request.app.state.simulator
    return state


def tag_properties(request: Request, property_ids: Iterable[str | None]) -> None:
    """Name the properties a request concerns, for the request log and the counters."""
    request.state.property_ids = tuple(sorted({p for p in property_ids if isinstance(p, str)}))


async def read_json(request: Request) -> Any:
    """The request body as JSON; 400 when it is not JSON (§1.2 lists 400 `bad_request`)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request("malformed JSON body") from exc


async def read_wrapped(request: Request, wrapper: str) -> dict[str, Any]:
    """The object under ``wrapper`` in a write body (§1.2: `{"property": {...}}`)."""
    body = await read_json(request)
    if not isinstance(body, dict) or wrapper not in body or body[wrapper] is None:
        raise validation_error({wrapper: [BLANK]})
    inner = body[wrapper]
    if not isinstance(inner, dict):
        raise validation_error({wrapper: [INVALID]})
    return inner


def resource(
    kind: str, record: Record, relationships: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One §1.2 resource object; `attributes` repeat the id, as the booking examples show."""
    item: dict[str, Any] = {
        "type": kind,
        "id": record.id,
        "attributes": {"id": record.id, **record.attributes},
    }
    if relationships is not None:
        item["relationships"] = relationships
    return item


def reference(kind: str, entity_id: str | None) -> dict[str, Any]:
    """A relationship pointing at one entity, or at none."""
    return {"data": None if entity_id is None else {"type": kind, "id": entity_id}}
