"""The Channex simulator's `/_sim/` control plane (not Channex API).

The shared routes (faults, tick, requests, reset) are the simulator kit's
(``simulators/kit/control.py``), mounted by :func:`shared_router`; the routes here are the
Channex ones: booking generators, and inspection of deliveries, counters and ARI.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from innsync.simulators.channex import ari_reads, revisions
from innsync.simulators.channex.bookings import is_in_feed
from innsync.simulators.channex.errors import validation_error
from innsync.simulators.channex.state import BookingRevision, Record, SimulatorState
from innsync.simulators.channex.webhooks import WebhookDispatcher
from innsync.simulators.channex.wire import resource, simulator_state
from innsync.simulators.kit.control import StateAndPump, control_router

router = APIRouter(prefix="/_sim")
State = Depends(simulator_state)


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    return dispatcher


Dispatcher = Depends(_dispatcher)


def _controlled(request: Request) -> StateAndPump:
    return StateAndPump(simulator_state(request), _dispatcher(request))


shared_router = control_router(_controlled, validation_error)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def _announce(
    state: SimulatorState, dispatcher: WebhookDispatcher, created: list[BookingRevision]
) -> JSONResponse:
    for revision in created:
        dispatcher.publish_revision(revision)
    if state.config.deliver_webhooks_inline:
        await dispatcher.deliver_due()
    data = [resource("booking_revision", Record(r.id, r.attributes)) for r in created]
    return JSONResponse({"data": data}, status_code=201)


@router.post("/bookings")
async def new_booking(
    spec: revisions.NewBooking,
    state: SimulatorState = State,
    dispatcher: WebhookDispatcher = Dispatcher,
) -> JSONResponse:
    return await _announce(state, dispatcher, [revisions.create_booking(state, spec)])


@router.post("/bookings/generate")
async def generate_bookings(
    spec: revisions.GenerateBookings,
    state: SimulatorState = State,
    dispatcher: WebhookDispatcher = Dispatcher,
) -> JSONResponse:
    return await _announce(state, dispatcher, revisions.generate(state, spec))


@router.post("/bookings/{booking_id}/modify")
async def modify_booking(
    booking_id: str,
    change: revisions.BookingChange,
    state: SimulatorState = State,
    dispatcher: WebhookDispatcher = Dispatcher,
) -> JSONResponse:
    return await _announce(state, dispatcher, [revisions.modify_booking(state, booking_id, change)])


@router.post("/bookings/{booking_id}/cancel")
async def cancel_booking(
    booking_id: str, state: SimulatorState = State, dispatcher: WebhookDispatcher = Dispatcher
) -> JSONResponse:
    return await _announce(state, dispatcher, [revisions.cancel_booking(state, booking_id)])


@router.get("/bookings")
async def inspect_bookings(state: SimulatorState = State) -> dict[str, Any]:
    return {
        "data": [
            {
                "revision_id": r.id,
                "booking_id": r.booking_id,
                "property_id": r.property_id,
                "status": r.status,
                "inserted_at": _iso(r.inserted_at),
                "acked_at": _iso(r.acked_at),
                "non_acked_notified_at": _iso(r.non_acked_notified_at),
                "is_in_feed": is_in_feed(state, r),
            }
            for r in sorted(state.revisions.values(), key=lambda r: r.sequence)
        ]
    }


@router.get("/webhooks/deliveries")
async def inspect_deliveries(state: SimulatorState = State) -> dict[str, Any]:
    return {
        "data": [
            {
                "id": d.id,
                "webhook_id": d.webhook_id,
                "event": d.event,
                "url": d.url,
                "body": d.body,
                "status": d.status,
                "created_at": _iso(d.created_at),
                "next_attempt_at": _iso(d.next_attempt_at),
                "attempts": [
                    {
                        "at": _iso(a.at),
                        "status_code": a.status_code,
                        "error": a.error,
                        "is_duplicate": a.is_duplicate,
                    }
                    for a in d.attempts
                ],
            }
            for d in sorted(state.deliveries, key=lambda d: d.sequence)
        ]
    }


@router.get("/counters")
async def inspect_counters(state: SimulatorState = State) -> dict[str, Any]:
    """Calls per minute, property and endpoint class, with how many were refused with 429."""
    calls: Counter[tuple[str, str, str]] = Counter()
    limited: Counter[tuple[str, str, str]] = Counter()
    for record in state.requests:
        minute = record.at.replace(second=0, microsecond=0).isoformat()
        endpoint = str(record.tags["endpoint_class"])
        for property_id in record.tags["property_ids"] or ("",):
            key = (minute, property_id, endpoint)
            calls[key] += 1
            limited[key] += record.status == 429
    return {
        "data": [
            {
                "minute": minute,
                "property_id": property_id or None,
                "endpoint_class": endpoint,
                "calls": count,
                "rate_limited": limited[(minute, property_id, endpoint)],
            }
            for (minute, property_id, endpoint), count in sorted(calls.items())
        ]
    }


@router.get("/ari")
async def inspect_ari(state: SimulatorState = State) -> dict[str, Any]:
    """Every stay date that received a push, with the effective values on that date."""
    data: dict[str, Any] = {}
    for property_id in state.properties:
        availability = {
            rt.id: {d.isoformat(): n for d, n in sorted(state.availability.get(rt.id, {}).items())}
            for rt in state.room_types_of(property_id)
        }
        restrictions = {
            plan.id: {
                d.isoformat(): ari_reads.full_day(state, plan, d)
                for d in sorted(state.restrictions.get(plan.id, {}))
            }
            for plan in state.rate_plans_of(property_id)
        }
        data[property_id] = {"availability": availability, "restrictions": restrictions}
    return {"data": data, "tasks": list(state.task_ids)}
