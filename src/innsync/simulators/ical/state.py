"""What the simulated platforms hold: listings, their calendars, faults, and what they read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from innsync.simulators.ical.calendar import SimEvent
from innsync.simulators.ical.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

FEED_FAULTS = ("404", "html", "empty", "malformed", "huge", "slow")


@dataclass
class Fetch:
    """One poll of innsync's export by the platform."""

    at: datetime
    status: int
    etag: str | None
    events: int | None
    error: str = ""


@dataclass
class Listing:
    listing_id: str
    flavour: str
    token: str
    events: dict[str, SimEvent] = field(default_factory=dict)
    version: int = 0
    changed_at: datetime | None = None
    feed_fault: str | None = None
    import_url: str | None = None
    imported: list[tuple[str, date, date, str]] = field(default_factory=list)
    import_etag: str | None = None
    fetches: list[Fetch] = field(default_factory=list)

    def touch(self, now: datetime) -> None:
        self.version += 1
        self.changed_at = now.replace(microsecond=0)

    @property
    def etag(self) -> str:
        digest = hashlib.sha256(
            "".join(f"{e.uid}{e.start}{e.end}{e.summary}" for e in self.events.values()).encode()
        )
        return f'"{digest.hexdigest()[:20]}"'

    def view(self) -> dict[str, Any]:
        return {
            "listing_id": self.listing_id,
            "flavour": self.flavour,
            "feed_path": self.feed_path,
            "events": [
                {
                    "uid": e.uid,
                    "start": e.start.isoformat(),
                    "end": e.end.isoformat(),
                    "summary": e.summary,
                    "is_block": e.is_block,
                }
                for e in sorted(self.events.values(), key=lambda e: (e.start, e.uid))
            ],
            "feed_fault": self.feed_fault,
            "import_url": self.import_url,
            "imported": [
                {"uid": uid, "start": s.isoformat(), "end": e.isoformat(), "summary": summary}
                for uid, s, e, summary in self.imported
            ],
            "fetches": [
                {
                    "at": f.at.isoformat(),
                    "status": f.status,
                    "etag": f.etag,
                    "events": f.events,
                    "error": f.error,
                }
                for f in self.fetches[-50:]
            ],
        }

    @property
    def feed_path(self) -> str:
        if self.flavour == "airbnb":
            return f"/calendar/ical/{self.listing_id}.ics?s={self.token}"
        return f"/icalendar/{self.token}.ics"


class SimulatorState:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, config.seed)
        self.requests = RequestLog(config.request_log_size, config.logged_body_bytes)
        self.reset()

    def reset(self) -> None:
        self.listings: dict[str, Listing] = {}
        self.rng = Random(f"{self.config.seed}:data")
        self.faults.reseed(self.config.seed)
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)

    def now(self) -> datetime:
        return self.config.clock()

    def masker(self) -> Masker:
        return Masker(frozenset(listing.token for listing in self.listings.values()))

    def add_listing(self, flavour: str, listing_id: str | None = None) -> Listing:
        listing_id = listing_id or str(self.rng.randrange(10**7, 10**8))
        token = f"{self.rng.getrandbits(128):032x}"
        listing = Listing(listing_id, flavour, token)
        listing.touch(self.now())
        self.listings[listing_id] = listing
        return listing

    def new_uid(self, listing: Listing) -> str:
        raw = f"{self.rng.getrandbits(128):032x}"
        if listing.flavour == "airbnb":
            return f"{raw[:12]}-{raw[12:]}@airbnb.com"
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    def random_stay(self, today: date) -> tuple[date, date]:
        start = today + timedelta(days=self.rng.randrange(1, 300))
        return start, start + timedelta(days=self.rng.randrange(1, 8))
