"""What the Agoda simulator holds: ARI per room, rate plan and date; bookings and their actions;
hint deliveries; and the counts a test inspects."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, Literal
from zoneinfo import ZoneInfo

from innsync.simulators.agoda.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

Status = Literal["ConfirmBooking", "AmendBooking", "CancelBooking"]
RoomDay = tuple[str, str, date]
"""(property id, room id, stay date)."""
RateDay = tuple[str, str, str, date]
"""(property id, room id, rateplan id, stay date)."""


@dataclass(slots=True)
class Booking:
    """The latest state of one Agoda booking (Agoda keeps no history, §3.3)."""

    booking_id: str
    property_id: str
    room_id: str
    rateplan_id: str
    arrival: date
    departure: date
    adults: int
    children: int
    room_count: int
    nightly_price: str
    currency: str
    first_name: str
    last_name: str
    booked_at: datetime
    last_action: datetime
    status: Status = "ConfirmBooking"
    payment_model: int = 1
    flaw: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "booking_id": self.booking_id,
            "property_id": self.property_id,
            "room_id": self.room_id,
            "rateplan_id": self.rateplan_id,
            "arrival": self.arrival.isoformat(),
            "departure": self.departure.isoformat(),
            "status": self.status,
            "last_action": self.last_action.isoformat(),
        }


@dataclass(slots=True)
class Action:
    """One confirm, amend or cancel: retrieved (acknowledged) or fallen back to e-mail/fax."""

    sequence: int
    booking_id: str
    status: Status
    at: datetime
    retrieved_at: datetime | None = None
    fell_back_at: datetime | None = None
    hinted: str = "due"
    """due, delivered, emailed (hint retries exhausted) or none (no hint URL)."""

    def view(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "booking_id": self.booking_id,
            "status": self.status,
            "at": self.at.isoformat(),
            "acknowledged": self.retrieved_at is not None,
            "fell_back": self.fell_back_at is not None,
            "hint": self.hinted,
        }


@dataclass(slots=True)
class HintDelivery:
    """One BookingHint POST attempt to the channel manager."""

    booking_ids: tuple[str, ...]
    attempt: int
    status: int | None
    at: datetime
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "booking_ids": list(self.booking_ids),
            "attempt": self.attempt,
            "status": self.status,
            "at": self.at.isoformat(),
            "error": self.error,
        }


@dataclass(slots=True)
class PendingHint:
    """A hint to (re)send: its property, bookings, the actions it tells of, and when."""

    property_id: str
    booking_ids: tuple[str, ...]
    actions: list[Action]
    attempts: int
    due_at: datetime


@dataclass(slots=True)
class Counters:
    set_ari_calls: int = 0
    list_calls: int = 0
    detail_calls: int = 0
    acknowledged: int = 0
    fell_back_to_email: int = 0
    hints_delivered: int = 0
    hints_failed: int = 0
    hint_lists_emailed: int = 0


class SimulatorState:
    """Everything the simulator knows; ``reset()`` forgets it and restarts the seeded sequences."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.faults = FaultInjector(config.faults, config.seed)
        self.requests = RequestLog(config.request_log_size, config.logged_body_bytes)
        self.reset()

    def reset(self) -> None:
        self.availability: dict[RoomDay, int] = {}
        self.prices: dict[RateDay, dict[str, str]] = {}
        self.restrictions: dict[RateDay, dict[str, Any]] = {}
        self.bookings: dict[str, Booking] = {}
        self.actions: list[Action] = []
        self.hint_deliveries: list[HintDelivery] = []
        self.pending_hints: list[PendingHint] = []
        self.next_hint_batch_at: datetime | None = None
        self.call_times: deque[datetime] = deque()
        self.counters = Counters()
        self.rng = Random(f"{self.config.seed}:bookings")
        self._sequence = 0
        self.faults.settings = self.config.faults
        self.faults.reseed(self.config.seed)
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)

    @property
    def max_body_bytes(self) -> int:
        return self.config.max_body_bytes

    async def sleep(self, seconds: float) -> None:
        await self.config.sleep(seconds)

    def now(self) -> datetime:
        return self.config.clock()

    def local_now(self) -> datetime:
        """Now in ICT, as Agoda writes its times (§3.3)."""
        return self.now().astimezone(self.zone)

    def today(self) -> date:
        return self.local_now().date()

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def masker(self) -> Masker:
        secrets = {self.config.api_key}
        if self.config.hint_secret:
            secrets.add(self.config.hint_secret)
        return Masker(frozenset(secrets))

    def is_over_limit(self) -> bool:
        """Count one call; whether it is past ``calls_per_minute`` (rolling minute)."""
        limit = self.config.calls_per_minute
        if limit is None:
            return False
        now = self.now()
        while self.call_times and self.call_times[0] <= now - timedelta(minutes=1):
            self.call_times.popleft()
        if len(self.call_times) >= limit:
            return True
        self.call_times.append(now)
        return False

    def record_action(self, booking: Booking) -> Action:
        action = Action(
            self.next_sequence(),
            booking.booking_id,
            booking.status,
            booking.last_action,
            hinted="due" if self.config.hint_url else "none",
        )
        self.actions.append(action)
        return action

    def retrieved(self, booking_id: str) -> None:
        """GetBookingDetail returned the booking: its actions so far count as acknowledged."""
        now = self.now()
        for action in self.actions:
            if (
                action.booking_id == booking_id
                and action.retrieved_at is None
                and action.fell_back_at is None
            ):
                action.retrieved_at = now
                self.counters.acknowledged += 1

    def sweep_fallbacks(self) -> int:
        """Actions not retrieved within ``fallback_seconds`` go to the property by e-mail/fax."""
        now = self.now()
        delay = timedelta(seconds=self.config.fallback_seconds)
        fell = 0
        for action in self.actions:
            is_open = action.retrieved_at is None and action.fell_back_at is None
            if is_open and action.at + delay <= now:
                action.fell_back_at = now
                fell += 1
        self.counters.fell_back_to_email += fell
        return fell
