"""The feeds platforms publish: Airbnb's and Vrbo's URL shapes, ETag/304, feed faults."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from innsync.simulators.ical.calendar import (
    render,
)
from innsync.simulators.ical.state import Listing, SimulatorState


def state_of(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def listing_of(state: SimulatorState, listing_id: str) -> Listing:
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
    state = state_of(request)
    listing = state.listings.get(listing_id)
    if listing is None or listing.flavour != "airbnb" or s != listing.token:
        return Response("<html><body>Page not found</body></html>", 404, media_type="text/html")
    return await _serve_feed(state, listing, request)


@feeds.get("/icalendar/{token}.ics")
async def vrbo_feed(token: str, request: Request) -> Response:
    state = state_of(request)
    for listing in state.listings.values():
        if listing.flavour == "vrbo" and listing.token == token:
            return await _serve_feed(state, listing, request)
    return Response(status_code=404)
