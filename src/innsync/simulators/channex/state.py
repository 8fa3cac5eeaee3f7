"""The in-memory world of one Channex simulator: entities, ARI, bookings, webhooks and logs."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any, Literal
from zoneinfo import ZoneInfo

from innsync.simulators.channex.config import SimulatorConfig
from innsync.simulators.channex.errors import not_found
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

EntityKind = Literal[
    "group", "property", "room_type", "rate_plan", "webhook", "channel", "cancellation_policy"
]
EndpointClass = Literal["availability", "restrictions", "entities", "bookings", "webhooks", "other"]
RateLimitedClass = Literal["availability", "restrictions"]
DeliveryStatus = Literal["pending", "in_flight", "delivered", "failed"]

MINUTE = timedelta(minutes=1)


@dataclass(slots=True)
class Record:
    """One Channex entity: its id and its attributes exactly as the API shows them."""

    id: str
    attributes: dict[str, Any]


@dataclass(slots=True)
class DayRestrictions:
    """The values pushed for one rate plan on one stay date; None means never pushed."""

    rates: dict[int, Decimal] = field(default_factory=dict)
    min_stay_arrival: int | None = None
    min_stay_through: int | None = None
    max_stay: int | None = None
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    stop_sell: bool | None = None


@dataclass(slots=True)
class BookingRevision:
    """One booking revision (§1.6) and what the simulator knows about its acknowledgement."""

    id: str
    booking_id: str
    property_id: str
    status: str
    attributes: dict[str, Any]
    inserted_at: datetime
    sequence: int
    acked_at: datetime | None = None
    non_acked_notified_at: datetime | None = None


@dataclass(slots=True)
class DeliveryAttempt:
    """One POST of a webhook delivery and how it ended."""

    at: datetime
    status_code: int | None
    error: str | None
    is_duplicate: bool


@dataclass(slots=True)
class Delivery:
    """One event on its way to one subscribed callback URL."""

    id: str
    sequence: int
    webhook_id: str
    event: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    status: DeliveryStatus = "pending"
    attempts: list[DeliveryAttempt] = field(default_factory=list)


class RateLimiter:
    """Counts ARI calls per property and endpoint class against the §1.3 per-minute limit."""

    def __init__(self, limit: int, window: Literal["sliding", "fixed"]) -> None:
        self.limit = limit
        self.window = window
        self._calls: dict[tuple[str, RateLimitedClass], deque[datetime]] = {}

    def _recent(self, key: tuple[str, RateLimitedClass], now: datetime) -> deque[datetime]:
        calls = self._calls.setdefault(key, deque())
        if self.window == "sliding":
            while calls and calls[0] <= now - MINUTE:
                calls.popleft()
        else:
            minute = now.replace(second=0, microsecond=0)
            while calls and calls[0] < minute:
                calls.popleft()
        return calls

    def try_acquire(
        self, endpoint: RateLimitedClass, property_ids: Iterable[str], now: datetime
    ) -> bool:
        """Count one call for every property, or none if any property is over its limit."""
        keys = [(property_id, endpoint) for property_id in sorted(set(property_ids))]
        # §1.3: "nothing is processed until the limit expires", so a refused call is not counted
        # for any of its properties either.
        if any(len(self._recent(key, now)) >= self.limit for key in keys):
            return False
        for key in keys:
            self._calls[key].append(now)
        return True


class SimulatorState:
    """Everything one simulator instance remembers; ``reset`` returns it to a fresh start."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget everything and restart every seeded sequence."""
        seed = self.config.seed
        self.groups: dict[str, Record] = {}
        self.properties: dict[str, Record] = {}
        self.room_types: dict[str, Record] = {}
        self.rate_plans: dict[str, Record] = {}
        # [UNCONFIRMED] policies of /cancellation_policies (policies.py).
        self.cancellation_policies: dict[str, Record] = {}
        self.webhooks: dict[str, Record] = {}
        # The OTAs connected to each property (docs.channex.io "Channel API").
        self.channels: dict[str, Record] = {}
        # §1.4: a property belongs to one or more groups.
        self.property_groups: dict[str, list[str]] = {}
        self.availability: dict[str, dict[date, int]] = {}
        self.restrictions: dict[str, dict[date, DayRestrictions]] = {}
        self.revisions: dict[str, BookingRevision] = {}
        # §1.6 booking actions received: {"booking_id", "action", "body", "at"}.
        self.booking_actions: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)
        self.task_ids: list[str] = []
        self.limiter = RateLimiter(self.config.ari_calls_per_minute, self.config.rate_limit_window)
        self.faults = FaultInjector(self.config.faults, seed)
        self.booking_rng = Random(f"{seed}:bookings")
        self.webhook_rng = Random(f"{seed}:webhooks")
        self._id_rng = Random(f"{seed}:ids")
        self._request_id_rng = Random(f"{seed}:request-ids")
        self._sequence = 0

    def reseed_faults(self, seed: int) -> None:
        """Restart the fault and webhook-fault sequences from ``seed``."""
        self.faults.reseed(seed)
        self.webhook_rng = Random(f"{seed}:webhooks")

    def now(self) -> datetime:
        return self.config.clock()

    def masker(self) -> Masker:
        """What the request log masks: the API keys and every registered webhook secret."""
        secrets = set(self.config.api_keys)
        for hook in self.webhooks.values():
            headers = hook.attributes.get("headers")
            if isinstance(headers, dict):
                secrets.update(str(value) for value in headers.values())
        return Masker(frozenset(secrets))

    def new_id(self) -> str:
        """A UUID drawn from the seeded generator, so a seed replays the same ids."""
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def new_request_id(self) -> str:
        return str(uuid.UUID(int=self._request_id_rng.getrandbits(128), version=4))

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def table(self, kind: EntityKind) -> dict[str, Record]:
        tables = {
            "group": self.groups,
            "property": self.properties,
            "room_type": self.room_types,
            "rate_plan": self.rate_plans,
            "webhook": self.webhooks,
            "channel": self.channels,
            "cancellation_policy": self.cancellation_policies,
        }
        return tables[kind]

    def get(self, kind: EntityKind, entity_id: str) -> Record:
        """The entity, or Channex's 404."""
        record = self.table(kind).get(entity_id)
        if record is None:
            raise not_found()
        return record

    def today_at(self, property_id: str) -> date:
        """Today in the property's own timezone (§1.4 `timezone`), UTC when it has none."""
        timezone = self.properties[property_id].attributes.get("timezone") or "UTC"
        return self.now().astimezone(ZoneInfo(timezone)).date()

    def room_types_of(self, property_id: str) -> list[Record]:
        return [r for r in self.room_types.values() if r.attributes["property_id"] == property_id]

    def rate_plans_of(self, property_id: str) -> list[Record]:
        return [r for r in self.rate_plans.values() if r.attributes["property_id"] == property_id]

    def delete_room_type(self, room_type_id: str) -> None:
        """Remove a room type, its rate plans and their ARI."""
        for plan in [
            p for p in self.rate_plans.values() if p.attributes["room_type_id"] == room_type_id
        ]:
            self.rate_plans.pop(plan.id)
            self.restrictions.pop(plan.id, None)
        self.room_types.pop(room_type_id)
        self.availability.pop(room_type_id, None)

    def delete_property(self, property_id: str) -> None:
        """Remove a property with its room types, rate plans, ARI, webhooks and channels."""
        for room_type in self.room_types_of(property_id):
            self.delete_room_type(room_type.id)
        for webhook in [
            w for w in self.webhooks.values() if w.attributes["property_id"] == property_id
        ]:
            self.webhooks.pop(webhook.id)
        for channel in [
            c for c in self.channels.values() if c.attributes["property_id"] == property_id
        ]:
            self.channels.pop(channel.id)
        for policy in [
            p
            for p in self.cancellation_policies.values()
            if p.attributes["property_id"] == property_id
        ]:
            self.cancellation_policies.pop(policy.id)
        self.properties.pop(property_id)
        self.property_groups.pop(property_id, None)
