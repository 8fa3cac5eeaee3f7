"""What the Octorate simulator holds: grants and tokens, calendar, reservations, subscriptions,
webhook deliveries, the hotel actor's pending decisions and the per-accommodation quota."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog
from innsync.simulators.octorate.config import (
    AccommodationSpec,
    RateSpec,
    RoomSpec,
    SimulatorConfig,
)

Reservation = dict[str, Any]
CALENDAR_FIELDS = (
    "availability", "price", "minStay", "maxStay", "stopSells", "closeToArrival",
    "closeToDeparture", "cutOffDays",
)  # fmt: skip
"""§2.5: the values of one product and day, spelled as the calendar webhook spells them."""


@dataclass(frozen=True, slots=True)
class Product:
    """A calendar product: a room type, or one of its rate plans (``rate`` set)."""

    accommodation: AccommodationSpec
    room: RoomSpec
    rate: RateSpec | None

    @property
    def id(self) -> int:
        return self.rate.id if self.rate is not None else self.room.id

    @property
    def name(self) -> str:
        return self.room.name if self.rate is None else f"{self.room.name} {self.rate.name}"


@dataclass(slots=True)
class Grant:
    """An authorization code handed to the app's redirect URI (§2.2)."""

    client_id: str
    redirect_uri: str
    accommodation_ids: tuple[int, ...]
    issued_at: datetime
    is_used: bool = False


@dataclass(slots=True)
class AccessToken:
    expires_at: datetime
    accommodation_ids: tuple[int, ...]


@dataclass(slots=True)
class PlannedFailure:
    """An endpoint's calls answer ``status``: the next ``count`` of them, or (``rate`` set)
    each with that probability until cleared; ``after_handling``: only after the call was
    carried out (a push that landed though the client saw an error)."""

    status: int
    count: int
    after_handling: bool
    rate: float | None = None

    def view(self) -> dict[str, Any]:
        shown = {"status": self.status, "count": self.count, "rate": self.rate}
        return {**shown, "after_handling": self.after_handling}


@dataclass(slots=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None


@dataclass(slots=True)
class Delivery:
    """One webhook on its way to a subscription's endpoint."""

    sequence: int
    subscription_id: int
    event: str
    body: dict[str, Any]
    next_attempt_at: datetime | None
    status: str = "pending"
    """pending, delivered, refused (406 stops retries) or exhausted."""
    attempts: list[Attempt] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "subscription": self.subscription_id,
            "event": self.event,
            "reference": self.body.get("reference"),
            "status": self.status,
            "attempts": [
                {"at": a.at.isoformat(), "status_code": a.status_code, "error": a.error}
                for a in self.attempts
            ],
        }


class SimulatorState:
    """Everything the simulator knows; ``reset()`` forgets it and restarts the seeded sequences."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, config.seed)
        self.products: dict[int, Product] = {}
        for accommodation in config.accommodations:
            for room in accommodation.rooms:
                self.products[room.id] = Product(accommodation, room, None)
                for rate in room.rates:
                    self.products[rate.id] = Product(accommodation, room, rate)
        self.reset()

    def reset(self) -> None:
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        # §2.2 [OFFICIAL]: a refresh token does not expire.
        self.refresh_tokens: dict[str, tuple[int, ...]] = {}
        # Accommodations whose owner approved the app: their calendars are pushed by webhook.
        self.connected: set[int] = set()
        # (product id, stay date) -> the values changed from the product's defaults.
        self.calendar: dict[tuple[int, date], dict[str, Any]] = {}
        self.reservations: dict[int, Reservation] = {}
        self.by_reference: dict[tuple[int, str], int] = {}
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        # reservation id -> when the hotel decides on it (the hotel actor).
        self.decisions: dict[int, datetime] = {}
        # reservation id -> (room id, nights) it holds a unit of, once confirmed.
        self.held_units: dict[int, tuple[int, list[date]]] = {}
        # "POST /reservation/{id}" -> the failures planned for its next calls (/_sim/failures).
        self.failures: dict[str, PlannedFailure] = {}
        self.decision_delay_seconds = self.config.hotel_decision_delay_seconds
        self.rejection_ratio = self.config.hotel_rejection_ratio
        self.quota_calls: dict[int, deque[datetime]] = {}
        self.counters: dict[str, int] = {
            "quota_violations": 0,
            "idempotent_replays": 0,
            "confirmed": 0,
            "rejected": 0,
            "calendar_changes": 0,
        }
        self.quota_violations_by_accommodation: dict[int, int] = {}
        self.rng = Random(f"{self.config.seed}:octorate")
        self.token_rng = Random(f"{self.config.seed}:tokens")
        self.delivery_rng = Random(f"{self.config.seed}:deliveries")
        self.hotel_rng = Random(f"{self.config.seed}:hotel")
        self.failure_rng = Random(f"{self.config.seed}:failures")
        self._sequence = 0
        self._reservation_id = 90_000_000 + self.config.seed % 1000 * 1000
        self._subscription_id = 0
        self.faults.settings = self.config.faults
        self.faults.reseed(self.config.seed)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)
        self.delivery_rng = Random(f"{seed}:deliveries")
        self.failure_rng = Random(f"{seed}:failures")

    def now(self) -> datetime:
        return self.config.clock()

    def today(self) -> date:
        return self.now().date()

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def next_reservation_id(self) -> int:
        self._reservation_id += 1
        return self._reservation_id

    def next_subscription_id(self) -> int:
        self._subscription_id += 1
        return self._subscription_id

    def new_secret(self, prefix: str, length: int = 40) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return prefix + "".join(self.token_rng.choice(alphabet) for _ in range(length))

    # Tokens (§2.2).

    def issue_access_token(self, accommodation_ids: tuple[int, ...]) -> tuple[str, datetime]:
        token = self.new_secret("at_")
        expires = self.now() + timedelta(seconds=self.config.access_token_lifetime_seconds)
        self.access_tokens[token] = AccessToken(expires, accommodation_ids)
        return token, expires

    def expire_tokens(self) -> int:
        """Every access token expires now (a control for tests); how many there were."""
        for token in self.access_tokens.values():
            token.expires_at = self.now()
        return len(self.access_tokens)

    # Calendar (§2.3).

    def defaults(self, product: Product) -> dict[str, Any]:
        price = product.rate.price if product.rate is not None else product.room.rates[0].price
        return {
            "availability": product.room.units,
            "price": float(price),
            "minStay": 1,
            "maxStay": 30,
            "stopSells": False,
            "closeToArrival": False,
            "closeToDeparture": False,
            "cutOffDays": 0,
        }

    def day_values(self, product: Product, stay_date: date) -> dict[str, Any]:
        return {**self.defaults(product), **self.calendar.get((product.id, stay_date), {})}

    def accommodation_products(self, accommodation_id: int) -> list[Product]:
        return [p for p in self.products.values() if p.accommodation.id == accommodation_id]

    # Quota (§2.6).

    def spend_quota(self, accommodation_id: int) -> bool:
        """Count one call against the accommodation's window; False (counted as a violation,
        not as a call) when the window is full."""
        window = timedelta(seconds=self.config.quota_window_seconds)
        calls = self.quota_calls.setdefault(accommodation_id, deque())
        now = self.now()
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) >= self.config.quota_calls:
            self.counters["quota_violations"] += 1
            by_accommodation = self.quota_violations_by_accommodation
            by_accommodation[accommodation_id] = by_accommodation.get(accommodation_id, 0) + 1
            return False
        calls.append(now)
        return True

    def take_failure(self, endpoint: str, *, after_handling: bool) -> int | None:
        """The status a planned failure of this kind gives this call, if any."""
        planned = self.failures.get(endpoint)
        if planned is None or planned.after_handling != after_handling:
            return None
        if planned.rate is not None:
            return planned.status if self.failure_rng.random() < planned.rate else None
        planned.count -= 1
        if planned.count <= 0:
            del self.failures[endpoint]
        return planned.status

    def masker(self) -> Masker:
        """Masks the app secret, codes, access and refresh tokens and owners' passwords."""
        secrets = {self.config.client_secret, *self.grants, *self.access_tokens}
        secrets |= set(self.refresh_tokens)
        secrets |= {owner.password for owner in self.config.owners}
        return Masker(frozenset(secrets))
