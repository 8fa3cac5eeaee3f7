"""Start-up configuration of the Beds24 simulator: account, properties, credits, webhooks, time.

Section numbers (§) refer to ``shared/channels/beds24.md``, the notes this simulator is built
from, together with Beds24's OpenAPI file (``shared/reference/beds24-openapi-v2.yaml``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from innsync.simulators.kit.faults import FaultSettings
from innsync.simulators.kit.requests import DEFAULT_LOGGED_BODY_BYTES

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """One room type (§2.7 room): its id, name and number of units (``qty``)."""

    id: int
    name: str
    qty: int = 5


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One property of the account (§2.7) with its room types."""

    id: int
    name: str
    rooms: tuple[RoomSpec, ...]
    currency: str = "EUR"


DEFAULT_PROPERTIES = (
    PropertySpec(
        101, "Simulated Guesthouse", (RoomSpec(201, "Twin room"), RoomSpec(202, "Double room"))
    ),
    PropertySpec(102, "Simulated Annex", (RoomSpec(203, "Studio", qty=3),)),
)

# §2.3: the cost of a call is "calculated dynamically" and not published (Part 3 #8); these
# follow the only observations (about 1.5 per page of bookings) and are configurable.
DEFAULT_COSTS: Mapping[str, float] = {
    "GET /authentication/setup": 1.0,
    "GET /authentication/token": 1.0,
    "GET /authentication/details": 0.0,
    "GET /bookings": 1.5,
    "POST /bookings": 1.0,
    "GET /inventory/rooms/calendar": 1.0,
    "POST /inventory/rooms/calendar": 1.0,
    "GET /properties": 1.0,
}


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; the fault settings can change at run time."""

    properties: tuple[PropertySpec, ...] = DEFAULT_PROPERTIES
    # §2.2: invite codes are single use; each set-up issues a refresh token.
    invite_codes: tuple[str, ...] = ("sim-invite-code-1", "sim-invite-code-2")
    # Refresh tokens that exist from the start (as if set up before).
    refresh_tokens: tuple[str, ...] = ("sim-refresh-token",)
    # §2.2: trust expiresIn; the wiki says 24 hours.
    token_lifetime_seconds: int = 86_400
    # §2.3: 100 credits per 5-minute window per account (200 when bought).
    credits_per_window: float = 100.0
    credit_window_seconds: float = 300.0
    costs: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_COSTS))
    # §2.3: credit headers as the wiki names them; "yaml" sends the OpenAPI file's names.
    credit_header_names: Literal["wiki", "yaml"] = "wiki"
    # §2.3: about 1 MB per POST and at most 10,000 top-level items.
    max_body_bytes: int = 1_000_000
    max_post_items: int = 10_000
    # §2.4 [3P]: GET pages of 100.
    page_size: int = 100

    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)

    # §2.8: the property's booking webhook (version 2) and its customHeader lines.
    webhook_url: str | None = None
    webhook_custom_header: str = ""
    webhook_version: Literal["twoWithPersonalData", "twoNoPersonalData"] = "twoWithPersonalData"
    # §2.8: "average delay of about 1 minute"; 0 delivers during the call that made the change.
    webhook_delay_seconds: float = 60.0
    # §2.8: "retried after a delay"; the schedule is not documented [UNCONFIRMED].
    webhook_retry_delays_seconds: tuple[float, ...] = (60.0, 300.0, 900.0)
    webhook_timeout_seconds: float = 10.0
    webhook_transport: httpx.AsyncBaseTransport | None = None

    request_log_size: int = 10_000
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (webhook deliveries) runs under uvicorn; None: /_sim/tick.
    pump_interval_seconds: float | None = 1.0

    def room(self, room_id: int) -> tuple[PropertySpec, RoomSpec] | None:
        for prop in self.properties:
            for room in prop.rooms:
                if room.id == room_id:
                    return prop, room
        return None
