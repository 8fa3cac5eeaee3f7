"""Start-up configuration of the Aiosell simulator: accounts, mapping, unclear points, time.

Section numbers (§) refer to `shared/channels/aiosell.md`, the notes this simulator is built from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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
class RoomMapping:
    """One mapped room code and the rate plan codes sold on it (§1.2: codes agreed in mapping)."""

    room_code: str
    rateplan_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HotelMapping:
    """One Aiosell property (`hotelCode`) with its mapped rooms and rate plans."""

    hotel_code: str
    rooms: tuple[RoomMapping, ...]
    currency: str = "INR"

    def room(self, room_code: str) -> RoomMapping | None:
        return next((room for room in self.rooms if room.room_code == room_code), None)


DEFAULT_HOTELS = (
    HotelMapping(
        "SANDBOX-PMS",
        (
            RoomMapping("EXECUTIVE", ("EXECUTIVE-S-101", "EXECUTIVE-D-101")),
            RoomMapping("SUITE", ("SUITE-S-101", "SUITE-D-101")),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; the fault settings can change at run time."""

    # §1.2: the partner slug in the URL path; §1.3: HTTP Basic auth per partner [3P].
    partner: str = "sample-pms"
    username: str = "sample-pms"
    password: str = "aiosell-sim-password"  # noqa: S105 (a simulator default, not a secret)
    hotels: tuple[HotelMapping, ...] = DEFAULT_HOTELS
    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)

    # §1.3 [3P]: bad credentials get HTTP 400 {"success": false, "message": "Authentication
    # Required!"}; a 401 is what HTTP would say, so the status is configurable.
    auth_failure_status: int = 400
    # §1.3 [3P]: a disabled partner is refused with "Partner is disabled!".
    is_partner_disabled: bool = False
    # §1.6 [UNCONFIRMED]: one 3P README says restriction pushes need a non-empty `toChannels`;
    # the KB examples omit it, so it is accepted with or without unless this is set.
    requires_to_channels: bool = False
    # §1.14: unknown hotel, room or rate plan codes are refused; off accepts any code.
    validates_codes: bool = True
    # The notes give no status for a refused body; 400 with the success/message envelope is the
    # one the auth failure uses [INFERRED].
    validation_failure_status: int = 400
    # §1.10 [3P]: a duplicate bookingId on `book` pushed to /push/{partner} is rejected.
    rejects_duplicate_push: bool = True

    # §1.10: the PMS URL Aiosell posts reservations to; None keeps generated bookings undelivered.
    webhook_url: str | None = None
    # §1.3 [3P]: Aiosell agreed to use Basic auth toward the PMS URL; None sends no auth header.
    webhook_username: str | None = None
    webhook_password: str | None = None
    # §1.10 is the PMS format; §1.11 the richer "new_booking" one.
    webhook_payload: Literal["reservation", "new_booking"] = "reservation"
    # §1.10 [3P]: a cancel may carry only action, hotelCode, channel and bookingId.
    cancel_payload: Literal["full", "minimal"] = "full"
    # §1.10 [3P]: Aiosell retries when the PMS answers 5xx (and, here, when it cannot connect).
    # The notes give no schedule; these are the delays before each retry.
    webhook_retry_delays_seconds: tuple[float, ...] = (30.0, 120.0, 600.0)
    # Whether a 2xx without `"success": true` (or a 4xx) is retried too [UNCONFIRMED].
    retries_rejections: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_transport: httpx.AsyncBaseTransport | None = None
    # Deliver generated reservations during the /_sim/ call that makes them, not on the next tick.
    deliver_webhooks_inline: bool = True

    # §1.13 [3P; UNCONFIRMED officially]: "≤ 30 updates per second". Neither the status nor the
    # body past it is documented, so the limit is off by default; set, the update calls past it
    # in a rolling second get 429 {"success": false, "message": "Too Many Requests"}.
    updates_per_second: int | None = None

    # No documented payload cap (§1.13); this only guards the simulator's memory.
    max_body_bytes: int = 10 * 1024 * 1024
    request_log_size: int = 10_000
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (webhook retries) runs under uvicorn; None: /_sim/tick only.
    pump_interval_seconds: float | None = 1.0

    def hotel(self, hotel_code: str) -> HotelMapping | None:
        return next((hotel for hotel in self.hotels if hotel.hotel_code == hotel_code), None)
