"""The simulator's own `/_sim/` routes and its view for the shared control plane."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from innsync.simulators.ical.calendar import (
    BLOCK_SUMMARIES,
    SimEvent,
    booking_summary,
)
from innsync.simulators.ical.feeds import listing_of, state_of
from innsync.simulators.ical.polls import poll_imports
from innsync.simulators.ical.state import FEED_FAULTS, Listing, SimulatorState
from innsync.simulators.kit.faults import FaultInjector, FaultSettings
from innsync.simulators.kit.requests import RequestLog


class Simulated:
    """The shared control plane's view of the state; ``tick`` polls every import URL."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    @property
    def faults(self) -> FaultInjector:
        return self.state.faults

    @property
    def requests(self) -> RequestLog:
        return self.state.requests

    @property
    def start_faults(self) -> FaultSettings:
        return self.state.config.faults

    @property
    def start_seed(self) -> int:
        return self.state.config.seed

    def reseed_faults(self, seed: int) -> None:
        self.state.reseed_faults(seed)

    def reset(self) -> None:
        self.state.reset()

    async def tick(self) -> dict[str, int]:
        return {"polled": await poll_imports(self.state)}


def invalid(details: dict[str, list[str]]) -> Exception:
    return HTTPException(422, detail=details)


sim = APIRouter(prefix="/_sim")


class ListingIn(BaseModel):
    flavour: Literal["airbnb", "vrbo"] = "airbnb"
    listing_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    import_url: str | None = None


class StayIn(BaseModel):
    start: date
    end: date
    guest: str = "Guest"


class GenerateIn(BaseModel):
    bookings: int = Field(default=3, ge=0, le=1000)
    blocks: int = Field(default=1, ge=0, le=1000)
    today: date | None = None


@sim.post("/listings", status_code=201)
async def add_listing(request: Request, data: ListingIn) -> dict[str, Any]:
    state = state_of(request)
    listing = state.add_listing(data.flavour, data.listing_id)
    listing.import_url = data.import_url
    return listing.view()


@sim.get("/listings")
async def list_listings(request: Request) -> dict[str, Any]:
    return {"data": [listing.view() for listing in state_of(request).listings.values()]}


@sim.get("/listings/{listing_id}")
async def show_listing(listing_id: str, request: Request) -> dict[str, Any]:
    return listing_of(state_of(request), listing_id).view()


def _add(
    state: SimulatorState, listing: Listing, start: date, end: date, block: bool, guest: str
) -> SimEvent:
    if end <= start:
        raise HTTPException(422, detail="end must be after start (it is the check-out day)")
    summary = BLOCK_SUMMARIES[listing.flavour] if block else booking_summary(listing.flavour, guest)
    event = SimEvent(state.new_uid(listing), start, end, summary, is_block=block)
    listing.events[event.uid] = event
    listing.touch(state.now())
    return event


@sim.post("/listings/{listing_id}/bookings", status_code=201)
async def add_booking(listing_id: str, request: Request, data: StayIn) -> dict[str, Any]:
    state = state_of(request)
    event = _add(state, listing_of(state, listing_id), data.start, data.end, False, data.guest)
    return {"uid": event.uid}


@sim.post("/listings/{listing_id}/blocks", status_code=201)
async def add_block(listing_id: str, request: Request, data: StayIn) -> dict[str, Any]:
    state = state_of(request)
    event = _add(state, listing_of(state, listing_id), data.start, data.end, True, "")
    return {"uid": event.uid}


@sim.post("/listings/{listing_id}/events/{uid}/modify")
async def modify_event(listing_id: str, uid: str, request: Request, data: StayIn) -> dict[str, Any]:
    state = state_of(request)
    listing = listing_of(state, listing_id)
    old = listing.events.get(uid)
    if old is None:
        raise HTTPException(404, detail="no such event")
    listing.events[uid] = SimEvent(uid, data.start, data.end, old.summary, old.is_block)
    listing.touch(state.now())
    return {"uid": uid}


@sim.post("/listings/{listing_id}/events/{uid}/cancel")
async def cancel_event(listing_id: str, uid: str, request: Request) -> dict[str, Any]:
    """A cancellation on a platform is the event's disappearance from the feed (§4.3)."""
    state = state_of(request)
    listing = listing_of(state, listing_id)
    if listing.events.pop(uid, None) is None:
        raise HTTPException(404, detail="no such event")
    listing.touch(state.now())
    return {"uid": uid}


@sim.post("/listings/{listing_id}/generate")
async def generate(listing_id: str, request: Request, data: GenerateIn) -> dict[str, Any]:
    """Seeded bookings and blocks over the next 300 days (overlaps allowed, as in real feeds)."""
    state = state_of(request)
    listing = listing_of(state, listing_id)
    today = data.today or state.now().date()
    made = []
    for index in range(data.bookings + data.blocks):
        start, end = state.random_stay(today)
        made.append(_add(state, listing, start, end, index >= data.bookings, "Guest").uid)
    return {"uids": made}


@sim.post("/listings/{listing_id}/feed-fault")
async def set_feed_fault(
    listing_id: str, request: Request, kind: Annotated[str | None, Body(embed=True)] = None
) -> dict[str, Any]:
    """Make the listing's feed misbehave: 404, html, empty, malformed, huge, slow; null clears."""
    if kind is not None and kind not in FEED_FAULTS:
        raise HTTPException(422, detail=f"kind is one of {', '.join(FEED_FAULTS)} or null")
    listing = listing_of(state_of(request), listing_id)
    listing.feed_fault = kind
    return listing.view()


@sim.put("/listings/{listing_id}/import")
async def set_import(
    listing_id: str, request: Request, url: Annotated[str | None, Body(embed=True)] = None
) -> dict[str, Any]:
    """The URL of innsync's export this listing imports (polled on tick)."""
    listing = listing_of(state_of(request), listing_id)
    listing.import_url, listing.import_etag = url, None
    return listing.view()
