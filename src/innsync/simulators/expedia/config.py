"""Start-up configuration of the Expedia QuickConnect (EQC) simulator.

Section numbers (§) refer to ``shared/channels/ota-direct-and-standards.md`` §3.2 and the EQC
documents it lists; ``[UNCONFIRMED]`` marks what they leave open, made configurable here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from innsync.simulators.expedia.verification import RateThreshold
from innsync.simulators.kit.faults import FaultSettings
from innsync.simulators.kit.requests import DEFAULT_LOGGED_BODY_BYTES
from innsync.simulators.kit.running import Clock, Sleep, utc_now

# §3.2 simulator page: the public simulator's passwords; any username is taken.
PASSWORD_NORMAL = "ECLPASS"  # noqa: S105 (published simulator passwords)
PASSWORD_DELAY = "ECL.DELAY"  # noqa: S105
PASSWORD_TIMEOUT = "ECL.TIMEOUT"  # noqa: S105


@dataclass(frozen=True, slots=True)
class RoomSetup:
    """One EQC room type and the rate plans sold on it."""

    room_id: str
    rate_ids: tuple[str, ...]
    base_allocation: int = 0
    """Rooms Expedia holds by contract: AR cannot set total inventory below it (warning 7013)."""


@dataclass(frozen=True, slots=True)
class HotelSetup:
    """One EQC property: ids and pricing model as the public simulator lists them."""

    hotel_id: str
    rooms: tuple[RoomSetup, ...]
    pricing: str = "PerDay"
    """``PerDay`` or ``PerOccupancy`` (§3.2 simulator page, hotels 411 and 511)."""
    currency: str = "USD"

    def room(self, room_id: str) -> RoomSetup | None:
        return next((room for room in self.rooms if room.room_id == room_id), None)


# §3.2 simulator page: hotels 111..611 with their room types and rate plans (USD).
DEFAULT_HOTELS = (
    HotelSetup("111", (RoomSetup("222", ("333", "444")),)),
    HotelSetup(
        "211",
        (
            RoomSetup("20000", ("21000", "21000A", "22000")),
            RoomSetup("23000", ("24000", "24000A", "25000")),
        ),
    ),
    HotelSetup(
        "311",
        (
            RoomSetup("30000", ("31000A", "31000", "32000A")),
            RoomSetup("33000", ("34000A", "34000")),
        ),
    ),
    HotelSetup(
        "411",
        (RoomSetup("40000", ("41000", "41000A")), RoomSetup("43000", ("44000", "44000A"))),
        pricing="PerOccupancy",
    ),
    HotelSetup(
        "511",
        (RoomSetup("50000", ("51000A", "51000")), RoomSetup("53000", ("54000A", "54000"))),
        pricing="PerOccupancy",
    ),
    HotelSetup(
        "611", (RoomSetup("60000", ("61000", "62000")), RoomSetup("63000", ("64000", "65000")))
    ),
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; fault settings can change at run time."""

    hotels: tuple[HotelSetup, ...] = DEFAULT_HOTELS
    passwords: tuple[str, ...] = (PASSWORD_NORMAL, PASSWORD_DELAY, PASSWORD_TIMEOUT)
    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)
    # §3.2 simulator page: ECL.DELAY answers slowly, ECL.TIMEOUT not before a client gives up.
    # [UNCONFIRMED] how slow: 10 s, and 130 s (past the 120 s EQC recommends as a time-out).
    delay_seconds: float = 10.0
    timeout_seconds: float = 130.0
    # §3.2: no rate limit is published [UNCONFIRMED]; AR calls per hotel and rolling minute
    # past which a 429 is answered (what the adapter declares). None switches it off.
    ar_calls_per_minute: int | None = 30
    # FAQ "Restricting the maximum number of updates per message": 3000, else error 3107.
    max_updates_per_message: int = 3000
    # BR definition: at most 125 bookings per response.
    max_bookings_per_response: int = 125
    # §3.2: unretrieved or unconfirmed bookings fall back to fax or e-mail. [UNCONFIRMED] after
    # how long: 30 minutes by default, configurable.
    fallback_seconds: float = 1800.0
    # AR examples: Rate Verification ignores costs out of threshold (warning 7013); the
    # published example is 0.00, anything further is [UNCONFIRMED] and configurable.
    rate_threshold: RateThreshold = field(default_factory=RateThreshold)
    # AR @to: at most today + 2 years + 1 day; @from at least yesterday (error 3020).
    max_days_ahead: int = 2 * 366 + 1
    max_body_bytes: int = 10 * 1024 * 1024
    request_log_size: int = 10_000
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (fallback sweep) runs under uvicorn; None: tick only.
    pump_interval_seconds: float | None = 1.0

    def hotel(self, hotel_id: str) -> HotelSetup | None:
        return next((hotel for hotel in self.hotels if hotel.hotel_id == hotel_id), None)
