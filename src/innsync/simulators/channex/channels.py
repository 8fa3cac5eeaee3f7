"""The OTA channels of a property (docs.channex.io "Channel API") and their §1.7 lifecycle and
health events.

Channels are connected in Channex's own screens, not by a PMS, so the `/_sim/channels` control
routes stand in for the hotelier: connecting, disconnecting and an OTA's sync trouble, each
announced by its webhook event. The API side is the read a PMS makes: `GET /channels`
(filtered by property, paginated like every list, §1.2) and `GET /channels/:id`.

§1.7 names the events but documents no payloads; the simulator sends the channel's id, code,
title and state (and the error for health events), and docs/channels/channex.md says so.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from innsync.simulators.channex.listing import parse_list_query, select
from innsync.simulators.channex.state import Record, SimulatorState
from innsync.simulators.channex.webhooks import WebhookDispatcher
from innsync.simulators.channex.wire import resource, simulator_state, tag_properties

router = APIRouter(prefix="/api/v1")
control = APIRouter(prefix="/_sim")
State = Depends(simulator_state)

HealthEvent = Literal[
    "updated_channel", "disconnect_listing", "sync_error", "sync_warning", "rate_error"
]


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    return dispatcher


Dispatcher = Depends(_dispatcher)


class NewChannel(BaseModel):
    """A channel the hotelier connects in Channex (e.g. Booking.com)."""

    model_config = ConfigDict(extra="forbid")

    property_id: str
    channel: str = Field(min_length=1, max_length=64, description='e.g. "BookingCom"')
    title: str = Field(default="", max_length=255)
    rate_plan_ids: list[str] = Field(
        default_factory=list, description="The property's rate plans this OTA sells (mapped)"
    )


class ChannelEvent(BaseModel):
    """A health or lifecycle event to announce for a channel."""

    model_config = ConfigDict(extra="forbid")

    event: HealthEvent
    message: str = Field(default="", max_length=1000)


@router.get("/channels")
async def list_channels(request: Request, state: SimulatorState = State) -> JSONResponse:
    query = parse_list_query(request.query_params)
    tag_properties(request, [query.filter_value("property_id")])
    rows = [{"id": c.id, **c.attributes} for c in state.channels.values()]
    page, meta = select(rows, query)
    data = [resource("channel", state.channels[row["id"]]) for row in page]
    return JSONResponse({"data": data, "meta": meta})


@router.get("/channels/{channel_id}")
async def one_channel(
    channel_id: str, request: Request, state: SimulatorState = State
) -> JSONResponse:
    record = state.get("channel", channel_id)
    tag_properties(request, [record.attributes["property_id"]])
    return JSONResponse({"data": resource("channel", record)})


def _payload(record: Record, message: str = "") -> dict[str, Any]:
    payload = {"channel_id": record.id, **record.attributes}
    if message:
        payload["error"] = message
    return payload


async def _announce(
    state: SimulatorState, dispatcher: WebhookDispatcher, event: str, record: Record, message: str
) -> JSONResponse:
    deliveries = dispatcher.publish(
        event, record.attributes["property_id"], _payload(record, message)
    )
    if state.config.deliver_webhooks_inline:
        await dispatcher.deliver_due()
    body = {"data": resource("channel", record), "deliveries": [d.id for d in deliveries]}
    return JSONResponse(body, status_code=201 if event == "new_channel" else 200)


@control.post("/channels")
async def connect_channel(
    spec: NewChannel, state: SimulatorState = State, dispatcher: WebhookDispatcher = Dispatcher
) -> JSONResponse:
    """Connect an OTA to a property: `new_channel`."""
    state.get("property", spec.property_id)
    record = Record(
        state.new_id(),
        {
            "property_id": spec.property_id,
            "channel": spec.channel,
            "title": spec.title or spec.channel,
            "is_active": True,
            "rate_plan_ids": list(spec.rate_plan_ids),
        },
    )
    state.channels[record.id] = record
    return await _announce(state, dispatcher, "new_channel", record, "")


@control.post("/channels/{channel_id}/disconnect")
async def disconnect_channel(
    channel_id: str, state: SimulatorState = State, dispatcher: WebhookDispatcher = Dispatcher
) -> JSONResponse:
    """Switch an OTA off: it stays listed, inactive, and `disconnected_channel` is sent."""
    record = state.get("channel", channel_id)
    record.attributes["is_active"] = False
    return await _announce(state, dispatcher, "disconnected_channel", record, "")


@control.post("/channels/{channel_id}/events")
async def channel_event(
    channel_id: str,
    spec: ChannelEvent,
    state: SimulatorState = State,
    dispatcher: WebhookDispatcher = Dispatcher,
) -> JSONResponse:
    """Announce a health event (or a listing lost) for a channel; its state is unchanged."""
    record = state.get("channel", channel_id)
    return await _announce(state, dispatcher, spec.event, record, spec.message)
