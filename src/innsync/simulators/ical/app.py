"""The iCal simulator: platforms' feeds (Airbnb and Vrbo flavours) and their polls of innsync.

Feeds: ``GET /calendar/ical/{listing}.ics?s={token}`` (Airbnb's shape) and
``GET /icalendar/{token}.ics`` (Vrbo's), with ETag / Last-Modified / 304. Control: the shared
``/_sim/`` plane (faults, tick, requests, reset) plus ``/_sim/listings…`` generators and
inspections (README.md). ``POST /_sim/tick`` makes every listing poll its import URL once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any, Literal

import httpx
import uvicorn
from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.ical.calendar import (
    BLOCK_SUMMARIES,
    SimEvent,
    booking_summary,
    read,
    render,
)
from innsync.simulators.ical.config import SimulatorConfig
from innsync.simulators.ical.state import FEED_FAULTS, Fetch, Listing, SimulatorState
from innsync.simulators.kit.control import control_router
from innsync.simulators.kit.requests import decoded_headers, drain_body

MAX_IMPORT_BYTES = 5_000_000


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


class _Simulated:
    """The shared control plane's view of the state; ``tick`` polls every import URL."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    @property
    def faults(self) -> Any:
        return self.state.faults

    @property
    def requests(self) -> Any:
        return self.state.requests

    @property
    def start_faults(self) -> Any:
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


def _invalid(details: dict[str, list[str]]) -> Exception:
    return HTTPException(422, detail=details)


async def poll_imports(state: SimulatorState) -> int:
    """Every listing with an import URL reads it once (conditional GET), as a platform does."""
    polled = 0
    async with state.config.http() as http:
        for listing in list(state.listings.values()):
            if listing.import_url is None:
                continue
            polled += 1
            await _poll(state, http, listing)
    return polled


async def _poll(state: SimulatorState, http: httpx.AsyncClient, listing: Listing) -> None:
    headers = {"if-none-match": listing.import_etag} if listing.import_etag else {}
    assert listing.import_url is not None
    try:
        response = await http.get(listing.import_url, headers=headers)
    except httpx.HTTPError as exc:
        listing.fetches.append(Fetch(state.now(), 0, None, None, type(exc).__name__))
        return
    if response.status_code == 304:
        listing.fetches.append(Fetch(state.now(), 304, listing.import_etag, len(listing.imported)))
        return
    if response.status_code != 200 or len(response.content) > MAX_IMPORT_BYTES:
        listing.fetches.append(Fetch(state.now(), response.status_code, None, None, "refused"))
        return
    try:
        events = read(response.content)
    except (ValueError, KeyError) as exc:
        listing.fetches.append(Fetch(state.now(), 200, None, None, str(exc)))
        return
    listing.imported = events
    listing.import_etag = response.headers.get("etag")
    listing.fetches.append(Fetch(state.now(), 200, listing.import_etag, len(events)))


def _listing(state: SimulatorState, listing_id: str) -> Listing:
    listing = state.listings.get(listing_id)
    if listing is None:
        raise HTTPException(404, detail="no such listing")
    return listing


feeds = APIRouter()


async def _serve_feed(state: SimulatorState, listing: Listing, request: Request) -> Response:
    fault = listing.feed_fault
    if fault == "404":
        return Response("<html><body>Page not found</body></html>", 404, media_type="text/html")
    if fault == "html":
        # A feed URL that now redirects to a login page answers 200 with HTML.
        return Response(
            "<!DOCTYPE html><html><body>Log in to continue</body></html>", media_type="text/html"
        )
    if fault == "empty":
        return Response(b"", media_type="text/calendar")
    if fault == "malformed":
        return Response(
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:2026XX01\r\nUID:x",
            media_type="text/calendar",
        )
    if fault == "huge":
        return Response(b"X" * state.config.huge_bytes, media_type="text/calendar")
    if fault == "slow":
        await state.config.sleep(state.config.slow_seconds)
    etag = listing.etag
    assert listing.changed_at is not None
    last_modified = listing.changed_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers = {"etag": etag, "last-modified": last_modified}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = render(listing.flavour, list(listing.events.values()), state.now())
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@feeds.get("/calendar/ical/{listing_id}.ics")
async def airbnb_feed(
    listing_id: str, request: Request, s: Annotated[str, Query()] = ""
) -> Response:
    state = _state(request)
    listing = state.listings.get(listing_id)
    if listing is None or listing.flavour != "airbnb" or s != listing.token:
        return Response("<html><body>Page not found</body></html>", 404, media_type="text/html")
    return await _serve_feed(state, listing, request)


@feeds.get("/icalendar/{token}.ics")
async def vrbo_feed(token: str, request: Request) -> Response:
    state = _state(request)
    for listing in state.listings.values():
        if listing.flavour == "vrbo" and listing.token == token:
            return await _serve_feed(state, listing, request)
    return Response(status_code=404)


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
    state = _state(request)
    listing = state.add_listing(data.flavour, data.listing_id)
    listing.import_url = data.import_url
    return listing.view()


@sim.get("/listings")
async def list_listings(request: Request) -> dict[str, Any]:
    return {"data": [listing.view() for listing in _state(request).listings.values()]}


@sim.get("/listings/{listing_id}")
async def show_listing(listing_id: str, request: Request) -> dict[str, Any]:
    return _listing(_state(request), listing_id).view()


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
    state = _state(request)
    event = _add(state, _listing(state, listing_id), data.start, data.end, False, data.guest)
    return {"uid": event.uid}


@sim.post("/listings/{listing_id}/blocks", status_code=201)
async def add_block(listing_id: str, request: Request, data: StayIn) -> dict[str, Any]:
    state = _state(request)
    event = _add(state, _listing(state, listing_id), data.start, data.end, True, "")
    return {"uid": event.uid}


@sim.post("/listings/{listing_id}/events/{uid}/modify")
async def modify_event(listing_id: str, uid: str, request: Request, data: StayIn) -> dict[str, Any]:
    state = _state(request)
    listing = _listing(state, listing_id)
    old = listing.events.get(uid)
    if old is None:
        raise HTTPException(404, detail="no such event")
    listing.events[uid] = SimEvent(uid, data.start, data.end, old.summary, old.is_block)
    listing.touch(state.now())
    return {"uid": uid}


@sim.post("/listings/{listing_id}/events/{uid}/cancel")
async def cancel_event(listing_id: str, uid: str, request: Request) -> dict[str, Any]:
    """A cancellation on a platform is the event's disappearance from the feed (§4.3)."""
    state = _state(request)
    listing = _listing(state, listing_id)
    if listing.events.pop(uid, None) is None:
        raise HTTPException(404, detail="no such event")
    listing.touch(state.now())
    return {"uid": uid}


@sim.post("/listings/{listing_id}/generate")
async def generate(listing_id: str, request: Request, data: GenerateIn) -> dict[str, Any]:
    """Seeded bookings and blocks over the next 300 days (overlaps allowed, as in real feeds)."""
    state = _state(request)
    listing = _listing(state, listing_id)
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
    listing = _listing(_state(request), listing_id)
    listing.feed_fault = kind
    return listing.view()


@sim.put("/listings/{listing_id}/import")
async def set_import(
    listing_id: str, request: Request, url: Annotated[str | None, Body(embed=True)] = None
) -> dict[str, Any]:
    """The URL of innsync's export this listing imports (polled on tick)."""
    listing = _listing(_state(request), listing_id)
    listing.import_url, listing.import_etag = url, None
    return listing.view()


class Gateway:
    """Front door of the feeds: injected faults (latency, 5xx, 429, time-out) and the log."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived = state.now()
        body, size = await drain_body(receive, 64_000)
        status = 500

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            decision = state.faults.decide()
            if decision.delay_seconds > 0:
                await state.config.sleep(decision.delay_seconds)
            if decision.error_status is not None:
                await Response(status_code=decision.error_status)(scope, replay, send_tagged)
            else:
                await self.app(scope, replay, send_tagged)
        finally:
            state.requests.record(
                masker=state.masker(),
                method=str(scope["method"]),
                path=str(scope["path"]),
                query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                headers=decoded_headers(scope.get("headers", ())),
                body=body,
                body_bytes=size,
                status=status,
                at=arrived,
            )


async def _pump(state: SimulatorState, interval: float) -> None:
    while True:
        await poll_imports(state)
        await asyncio.sleep(interval)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    config = config or SimulatorConfig()
    state = SimulatorState(config)
    simulated = _Simulated(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = None
        if config.pump_interval_seconds is not None:
            task = asyncio.create_task(_pump(state, config.pump_interval_seconds))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="iCal platforms simulator (Airbnb, Vrbo)", lifespan=lifespan)
    app.state.simulator = state
    app.include_router(feeds)
    app.include_router(sim)
    app.include_router(control_router(lambda _: simulated, _invalid))
    app.add_middleware(Gateway, state=state)
    return app


def run(host: str, port: int, config: SimulatorConfig | None = None) -> None:
    uvicorn.run(create_app(config), host=host, port=port)
