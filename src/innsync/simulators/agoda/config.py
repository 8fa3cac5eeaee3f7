"""Start-up configuration of the Agoda simulator: API key, properties, limits, hints, time.

Section numbers (§) refer to ``shared/channels/ota-direct-and-standards.md`` §3.3, the notes
this simulator is built from; ``[INFERRED]`` marks what they leave open, made configurable here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from innsync.simulators.kit.faults import FaultSettings
from innsync.simulators.kit.requests import DEFAULT_LOGGED_BODY_BYTES
from innsync.simulators.kit.running import Clock, Sleep, utc_now


@dataclass(frozen=True, slots=True)
class RoomSetup:
    """One Agoda room (``room_id``) and the rate plans (``rateplan_id``) sold on it."""

    room_id: str
    rateplan_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PropertySetup:
    """One Agoda property the API key may reach."""

    property_id: str
    rooms: tuple[RoomSetup, ...]
    currency: str = "USD"

    def room(self, room_id: str) -> RoomSetup | None:
        return next((room for room in self.rooms if room.room_id == room_id), None)


DEFAULT_PROPERTIES = (
    PropertySetup(
        "226110",
        (
            RoomSetup("8179851", ("937901", "937902")),
            RoomSetup("8179852", ("937903", "937904")),
            RoomSetup("8179853", ("937905", "937906")),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; fault settings can change at run time."""

    # §3.3 Auth: one API key in the query string.
    api_key: str = "agoda-sim-key"
    properties: tuple[PropertySetup, ...] = DEFAULT_PROPERTIES
    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)

    # §3.3: Agoda's times are ICT (GMT+7); its 'today' decides past dates and the horizon.
    timezone: str = "Asia/Bangkok"
    # §3.3 table: SetAri is type 1, SetARI V2 type 10 (Postman example) [INFERRED].
    set_ari_types: tuple[int, ...] = (1, 10)
    horizon_days: int = 730
    # §3.3: GetAri (type 2) reads at most 31 days a call.
    ari_read_max_days: int = 31
    max_body_bytes: int = 1_000_000
    # §3.3: GetBookingList spans ≤ 90 days, looks back ≤ 740, names ≤ 5 properties.
    list_max_days: int = 90
    list_lookback_days: int = 740
    list_max_properties: int = 5
    # [INFERRED] whether GetBookingList needs its status criterion.
    list_requires_status: bool = False
    # §3.3: GetBookingDetail names 1 property and ≤ 50 bookings; details kept 90 days.
    detail_max_ids: int = 50
    retention_days: int = 90
    # §3.3: no daily limit stated [INFERRED]: calls per API key and rolling minute; None: off.
    calls_per_minute: int | None = 60
    # [INFERRED] a booking action not retrieved (GetBookingDetail) within this long is sent to
    # the property by e-mail/fax: the count a channel manager must keep at 0.
    fallback_seconds: float = 1800.0
    # §3.3 BookingHint: pushed every 1-2 minutes, 3 retries 15 s apart, then e-mailed.
    hint_url: str | None = None
    hint_interval_seconds: float = 60.0
    hint_retries: int = 3
    hint_retry_seconds: float = 15.0
    # [INFERRED] a secret the channel manager gave Agoda, sent with each hint in this header.
    hint_secret: str | None = None
    hint_secret_header: str = "x-agoda-hint-secret"  # noqa: S105 (a header name)
    hint_transport: httpx.AsyncBaseTransport | None = None
    request_log_size: int = 10_000
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (hints, fallback sweep) runs under uvicorn; None: tick only.
    pump_interval_seconds: float | None = 1.0

    def property(self, property_id: str | None) -> PropertySetup | None:
        return next((p for p in self.properties if p.property_id == property_id), None)
