"""What the Booking.com simulator holds: tokens, ARI per code and date, reservation queues."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, Literal
from zoneinfo import ZoneInfo

from innsync.simulators.booking_com.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

Queue = Literal["new", "modify"]
QueueStatus = Literal["pending", "acknowledged", "email"]
RoomDay = tuple[str, str, date]
"""(hotel id, room id, stay date)."""
RateDay = tuple[str, str, str, date]
"""(hotel id, room id, rate id, stay date)."""


Flaw = Literal["stay_reversed"]
"""``stay_reversed``: the TimeSpan's Start is the departure and its End the arrival."""


@dataclass(slots=True)
class Booking:
    """The latest state of one reservation, as the generator made or changed it."""

    reservation_id: str
    hotel_id: str
    room_id: str
    rate_id: str
    arrival: date
    departure: date
    adults: int
    children_ages: tuple[int, ...]
    nightly_price: str
    guest_given: str
    guest_surname: str
    email: str
    country: str
    is_virtual_card: bool
    created_at: datetime
    modified_at: datetime
    status: Literal["Commit", "Modify", "Cancel"] = "Commit"
    flaw: Flaw | None = None
    """A defect the message is sent with, schema-valid but unusable (a provider's audit case)."""

    def view(self) -> dict[str, Any]:
        return {
            "reservation_id": self.reservation_id,
            "hotel_id": self.hotel_id,
            "room_id": self.room_id,
            "rate_id": self.rate_id,
            "arrival": self.arrival.isoformat(),
            "departure": self.departure.isoformat(),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "modified_at": self.modified_at.isoformat(),
        }


@dataclass(slots=True)
class QueueEntry:
    """One reservation message waiting in the new or the modify queue (§3.1)."""

    sequence: int
    queue: Queue
    booking: Booking
    """A snapshot: the message says what the booking was when it was queued."""
    queued_at: datetime
    status: QueueStatus = "pending"
    acknowledged_at: datetime | None = None
    fell_back_at: datetime | None = None
    response_token: str | None = None
    pulls: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "queue": self.queue,
            "reservation_id": self.booking.reservation_id,
            "hotel_id": self.booking.hotel_id,
            "res_status": self.booking.status,
            "modified_at": self.booking.modified_at.isoformat(),
            "queued_at": self.queued_at.isoformat(),
            "status": self.status,
            "acknowledged_at": _iso(self.acknowledged_at),
            "fell_back_at": _iso(self.fell_back_at),
            "pulls": self.pulls,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(slots=True)
class Counters:
    tokens_issued: int = 0
    tokens_refused: int = 0
    ari_calls: int = 0
    schema_failures: int = 0
    pulls: int = 0
    acknowledgements: int = 0
    fell_back_to_email: int = 0


@dataclass(slots=True)
class Restrictions:
    """What OTA_HotelAvailNotif's restrictions set for one rate plan and date."""

    min_los: int | None = None
    max_los: int | None = None
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    closed: bool | None = None

    def view(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__slots__ if getattr(self, key) is not None}


class SimulatorState:
    """Everything the simulator knows; `reset()` forgets it and restarts the seeded sequences."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.faults = FaultInjector(config.faults, config.seed)
        self.requests = RequestLog(config.request_log_size, config.logged_body_bytes)
        self.reset()

    def reset(self) -> None:
        self.tokens: dict[str, datetime] = {}
        self.token_times: deque[datetime] = deque()
        self.availability: dict[RoomDay, int] = {}
        self.restrictions: dict[RateDay, Restrictions] = {}
        self.prices: dict[RateDay, dict[str, str]] = {}
        self.bookings: dict[str, Booking] = {}
        self.entries: list[QueueEntry] = []
        self.ari_times: dict[tuple[str, str], deque[datetime]] = {}
        self.counters = Counters()
        self.rng = Random(f"{self.config.seed}:bookings")
        self.token_rng = Random(f"{self.config.seed}:tokens")
        self._sequence = 0
        self.faults.settings = self.config.faults
        self.faults.reseed(self.config.seed)
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)

    def now(self) -> datetime:
        return self.config.clock()

    def today(self) -> date:
        """Booking.com's today: the date in CET (§3.1 Rules)."""
        return self.now().astimezone(self.zone).date()

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def random_token(self) -> str:
        return f"{self.token_rng.getrandbits(128):032x}"

    def masker(self) -> Masker:
        """Masks the machine account's secret and every issued token wherever they appear."""
        return Masker(frozenset({self.config.client_secret, *self.tokens}))

    def is_over_ari_limit(self, hotel_id: str, endpoint: str) -> bool:
        """Count one ARI call; whether it is past `ari_calls_per_minute` (rolling minute)."""
        limit = self.config.ari_calls_per_minute
        if limit is None:
            return False
        now = self.now()
        times = self.ari_times.setdefault((hotel_id, endpoint), deque())
        while times and times[0] <= now - timedelta(minutes=1):
            times.popleft()
        if len(times) >= limit:
            return True
        times.append(now)
        return False

    def sweep_fallbacks(self) -> int:
        """§3.1: pending reservations older than the fallback delay go to the property by
        e-mail and leave the queue. Returns how many fell back now."""
        now = self.now()
        delay = timedelta(seconds=self.config.email_fallback_seconds)
        fell = 0
        for entry in self.entries:
            if entry.status == "pending" and entry.queued_at + delay <= now:
                entry.status, entry.fell_back_at = "email", now
                fell += 1
        self.counters.fell_back_to_email += fell
        return fell

    def pending(self, queue: Queue, hotel_ids: set[str] | None) -> list[QueueEntry]:
        return [
            entry
            for entry in self.entries
            if entry.queue == queue
            and entry.status == "pending"
            and (hotel_ids is None or entry.booking.hotel_id in hotel_ids)
        ]


@dataclass(slots=True)
class Pump:
    """The simulator's timed events: the e-mail fallback sweep."""

    state: SimulatorState
    ticks: int = field(default=0)

    async def tick(self) -> dict[str, int]:
        self.ticks += 1
        return {"fell_back_to_email": self.state.sweep_fallbacks()}
