"""Start-up configuration of the Booking.com simulator: machine account, hotels, rules, time.

Section numbers (§) refer to `shared/channels/ota-direct-and-standards.md`, the notes this
simulator is built from; `[UNCONFIRMED]` marks what they leave open, made configurable here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from innsync.simulators.kit.faults import FaultSettings
from innsync.simulators.kit.requests import DEFAULT_LOGGED_BODY_BYTES

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RoomSetup:
    """One Booking.com room (InvTypeCode) and the rate plans (RatePlanCode) sold on it."""

    room_id: str
    rate_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HotelSetup:
    """One Booking.com property the machine account may reach."""

    hotel_id: str
    rooms: tuple[RoomSetup, ...]
    currency: str = "EUR"

    def room(self, room_id: str) -> RoomSetup | None:
        return next((room for room in self.rooms if room.room_id == room_id), None)


# Rate ids are the hotel's; each room here sells its own two, as innsync maps one channel code
# to one rate plan of one room type.
DEFAULT_HOTELS = (
    HotelSetup(
        "1234567",
        (
            RoomSetup("123456701", ("9001", "9002")),
            RoomSetup("123456702", ("9003", "9004")),
            RoomSetup("123456703", ("9005", "9006")),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; fault settings can change at run time."""

    # §3.1 Auth: a machine account's client id and secret, exchanged for a JWT.
    client_id: str = "innsync-sim-client"
    client_secret: str = "booking-sim-secret"  # noqa: S105 (a simulator default, not a secret)
    hotels: tuple[HotelSetup, ...] = DEFAULT_HOTELS
    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)

    # §3.1 Auth: the JWT is valid one hour, at most 30 tokens an hour per machine account.
    token_lifetime_seconds: float = 3600.0
    tokens_per_hour: int = 30
    # §3.1 Rules: dates are judged in CET; up to one day back is accepted.
    timezone: str = "Europe/Amsterdam"
    past_days_accepted: int = 1
    # §3.1 Rate limits: none published [UNCONFIRMED]; ARI calls per endpoint, hotel and rolling
    # minute past which a 429 is answered. None switches the limit off.
    ari_calls_per_minute: int | None = 60
    # §3.1 Rules: "batch by month". None accepts any span; a number refuses a request whose
    # dates touch more calendar months than that (read strictly, 1).
    max_months_per_request: int | None = None
    # §3.1 Reservations: an unacknowledged reservation falls back to e-mail after 30 minutes.
    email_fallback_seconds: float = 1800.0
    # §3.1: the `ota_res_response_token` feature: every pull hands out a fresh token per
    # reservation, and an acknowledgement must carry the latest one (409 otherwise).
    response_tokens: bool = False
    # [UNCONFIRMED] whether acknowledging an already acknowledged message again succeeds; the
    # kit's contract asks for a harmless repeat, so it does unless this is switched off.
    repeated_ack_succeeds: bool = True
    # §4: every request body must validate against the OpenTravel 2015A schema.
    validates_schema: bool = True
    max_body_bytes: int = 10 * 1024 * 1024
    request_log_size: int = 10_000
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (e-mail fallback sweep) runs under uvicorn; None: tick only.
    pump_interval_seconds: float | None = 1.0

    def hotel(self, hotel_id: str) -> HotelSetup | None:
        return next((hotel for hotel in self.hotels if hotel.hotel_id == hotel_id), None)
