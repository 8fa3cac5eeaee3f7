"""The simulated platforms' polls of innsync's exports (conditional GETs, recorded)."""

from __future__ import annotations

import httpx

from innsync.simulators.ical.calendar import read
from innsync.simulators.ical.state import Fetch, Listing, SimulatorState

# innsync's exports are a few kilobytes; a bigger answer is refused, as a platform would.
MAX_IMPORT_BYTES = 5_000_000


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
