"""Routes for receiving bookings: the revisions feed, one revision, the ack, and bookings (§1.6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from innsync.simulators.channex.errors import not_found
from innsync.simulators.channex.listing import Direction, parse_list_query, select
from innsync.simulators.channex.revisions import latest
from innsync.simulators.channex.state import BookingRevision, Record, SimulatorState
from innsync.simulators.channex.wire import SUCCESS, resource, simulator_state, tag_properties

router = APIRouter(prefix="/api/v1")
State = Depends(simulator_state)


def is_in_feed(state: SimulatorState, revision: BookingRevision) -> bool:
    """§1.6: the feed holds unacked revisions; PART 3 #3 may drop them after a while."""
    if revision.acked_at is not None:
        return False
    drop_after = state.config.feed_drops_unacked_after_seconds
    if drop_after is None:
        return True
    return state.now() - revision.inserted_at < timedelta(seconds=drop_after)


def _revision_list(
    state: SimulatorState, request: Request, revisions: list[BookingRevision], order: Direction
) -> JSONResponse:
    query = parse_list_query(request.query_params, default_order=("inserted_at", order))
    tag_properties(request, [query.filter_value("property_id")])
    by_id = {r.id: r for r in revisions}
    rows = [{"id": r.id, **r.attributes} for r in sorted(revisions, key=lambda r: r.sequence)]
    page, meta = select(rows, query)
    data = [_revision_resource(by_id[row["id"]]) for row in page]
    return JSONResponse({"data": data, "meta": meta})


def _revision_resource(revision: BookingRevision) -> dict[str, Any]:
    return resource("booking_revision", Record(revision.id, revision.attributes))


def _booking_resource(revision: BookingRevision) -> dict[str, Any]:
    """§1.6: a booking is its latest revision, with the booking id as its id."""
    return resource("booking", Record(revision.booking_id, revision.attributes))


@router.get("/booking_revisions/feed")
async def feed(request: Request, state: SimulatorState = State) -> JSONResponse:
    unacked = [r for r in state.revisions.values() if is_in_feed(state, r)]
    return _revision_list(state, request, unacked, state.config.feed_default_order)


@router.get("/booking_revisions")
async def all_revisions(request: Request, state: SimulatorState = State) -> JSONResponse:
    return _revision_list(state, request, list(state.revisions.values()), "asc")


@router.get("/booking_revisions/{revision_id}")
async def one_revision(
    revision_id: str, request: Request, state: SimulatorState = State
) -> JSONResponse:
    revision = state.revisions.get(revision_id)
    if revision is None:
        raise not_found()
    tag_properties(request, [revision.property_id])
    return JSONResponse({"data": _revision_resource(revision)})


@router.post("/booking_revisions/{revision_id}/ack")
async def ack(revision_id: str, request: Request, state: SimulatorState = State) -> dict[str, Any]:
    revision = state.revisions.get(revision_id)
    if revision is None:
        raise not_found()  # §1.6: 404 for an unknown id
    tag_properties(request, [revision.property_id])
    # A repeated ack is answered like the first and keeps the first ack time.
    if revision.acked_at is None:
        revision.acked_at = state.now()
    return SUCCESS


@router.get("/bookings")
async def list_bookings(request: Request, state: SimulatorState = State) -> JSONResponse:
    query = parse_list_query(request.query_params, default_order=("inserted_at", "asc"))
    tag_properties(request, [query.filter_value("property_id")])
    booking_ids = dict.fromkeys(r.booking_id for r in state.revisions.values())
    current = {booking_id: latest(state, booking_id) for booking_id in booking_ids}
    rows = [{**r.attributes, "id": booking_id} for booking_id, r in current.items()]
    page, meta = select(rows, query)
    return JSONResponse(
        {"data": [_booking_resource(current[row["id"]]) for row in page], "meta": meta}
    )


@router.get("/bookings/{booking_id}")
async def one_booking(
    booking_id: str, request: Request, state: SimulatorState = State
) -> JSONResponse:
    revision = latest(state, booking_id)
    tag_properties(request, [revision.property_id])
    return JSONResponse({"data": _booking_resource(revision)})
