"""Start-up configuration of the Octorate Connect simulator: the app, owners, limits, time.

Section numbers (§) refer to ``shared/channels/octorate.md``. "OpenAPI" is a third-party copy of
Octorate's ``integration/openapi.yaml`` (its error glossary, webhook examples and retry notes),
found with the code search; every value known only from third-party code is configurable here
and listed in ``UNCONFIRMED.md``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from innsync.simulators.kit.faults import FaultSettings
from innsync.simulators.kit.requests import DEFAULT_LOGGED_BODY_BYTES
from innsync.simulators.kit.running import Clock, Sleep, utc_now


@dataclass(frozen=True, slots=True)
class RateSpec:
    """One rate plan sold on a room; a product of its own in the calendar (§2.5 ``id``)."""

    id: int
    name: str
    price: str = "100.00"


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """One room type (Octorate "product") with its units and rate plans."""

    id: int
    name: str
    units: int
    rates: tuple[RateSpec, ...]
    max_guests: int = 2


@dataclass(frozen=True, slots=True)
class AccommodationSpec:
    """One property the simulated Octorate holds."""

    id: int
    name: str
    rooms: tuple[RoomSpec, ...]
    currency: str = "EUR"
    time_zone: str = "Europe/Rome"


@dataclass(frozen=True, slots=True)
class OwnerSpec:
    """A hotel owner who logs in on the authorization page and approves the app (§2.2)."""

    username: str
    password: str
    accommodation_ids: tuple[int, ...]


DEFAULT_ACCOMMODATIONS = (
    AccommodationSpec(
        501,
        "Simulated Lakeside Hotel",
        (
            RoomSpec(5011, "Double", 4, (RateSpec(50111, "Standard", "120.00"),
                                          RateSpec(50112, "Non refundable", "99.00"))),
            RoomSpec(5012, "Single", 2, (RateSpec(50121, "Standard", "80.00"),), max_guests=1),
        ),
    ),
    AccommodationSpec(
        502,
        "Simulated Lakeside Annex",
        (RoomSpec(5021, "Suite", 1, (RateSpec(50211, "Standard", "240.00"),), max_guests=4),),
    ),
)  # fmt: skip
# One owner with two properties: a token sees both, the hotel picks one (issue #16).
DEFAULT_OWNERS = (OwnerSpec("owner", "owner-password", (501, 502)),)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; faults and the hotel actor change at run time."""

    accommodations: tuple[AccommodationSpec, ...] = DEFAULT_ACCOMMODATIONS
    owners: tuple[OwnerSpec, ...] = DEFAULT_OWNERS
    # §2.2: the marketplace's app credentials, issued by Octorate once per app (never per hotel).
    client_id: str = "public_sim_marketplace"
    client_secret: str = "secret_sim_marketplace"  # noqa: S105 (the simulator's own)
    # §2.2: Octorate checks the configured redirect URI; empty accepts any (handy in demos).
    redirect_uris: tuple[str, ...] = ()
    # §2.2 [3P]: the app's permission on accommodations; READONLY refuses calendar writes with
    # 403 "Caller not in requested role".
    accommodation_permission: str = "READWRITE"
    # §2.2 [OFFICIAL]: the code must be exchanged within one minute.
    code_lifetime_seconds: float = 60.0
    # §2.2: no lifetime is published [UNCONFIRMED]; clients honour expireDate.
    access_token_lifetime_seconds: float = 3600.0
    # §2.2: the docs say grant_type=code; standard clients send authorization_code [3P].
    code_grant_types: tuple[str, ...] = ("code", "authorization_code")
    # §2.2 [3P]: an expired token is 401 or 403 with type ApiLoginExpired.
    expired_token_status: int = 401
    # §2.6 [3P explore-omd]: 100 calls per 5 minutes per accommodation, client-side only there.
    quota_calls: int = 100
    quota_window_seconds: float = 300.0
    # OpenAPI error glossary: "403 ApiQuotaException - You've reached your quota limits".
    quota_status: int = 403
    quota_error_type: str = "ApiQuotaException"
    # [3P] page sizes: a client saw ApiParamsExemption (errPageSize) with size=100 on calendar.
    max_page_size: int = 50
    # §2.3 [3P]: list items carry "refer", the portal's reservation id; it makes a push idempotent.
    reservation_reference_field: str = "refer"
    # Reservation statuses [UNCONFIRMED]: a push waits for the hotel, who confirms or rejects it.
    pending_status: str = "PENDING"
    confirmed_status: str = "CONFIRMED"
    rejected_status: str = "REJECTED"
    cancelled_status: str = "CANCELLED"
    # The hotel-side actor: decides on each pushed reservation this long after it arrived.
    hotel_decision_delay_seconds: float = 120.0
    hotel_rejection_ratio: float = 0.0
    # The hotel refuses a stay with a night sold out or stop-sold, whatever the ratio draws.
    hotel_rejects_unsellable: bool = True
    # Webhooks (OpenAPI createSubscription): 200 is delivered, 406 stops, anything else retries
    # "for up to 2 days, delaying more and more"; the exact schedule is [UNCONFIRMED].
    webhook_retry_delays_seconds: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0, 43200.0)
    webhook_timeout_seconds: float = 10.0
    webhook_transport: httpx.AsyncBaseTransport | None = None
    # OpenAPI calendar webhook example: an "hmac" field of 40 hex digits. What it signs and with
    # which key is not documented [UNCONFIRMED]: here HMAC-SHA1 of "content" with the app secret.
    webhook_hmac_field: str | None = "hmac"
    webhook_hmac_algorithm: str = "sha1"
    webhook_events: tuple[str, ...] = (
        "RESERVATION_CREATED",
        "RESERVATION_CHANGE",
        "RESERVATION_CANCELLED",
        "RESERVATION_CONFIRMED",
        "CONTENT_NOTIFICATION",
        "CONTENT_PUSH",
        "PORTAL_SUBSCRIPTION_CALENDAR",
        "XXX_NOT_USED_PORTAL_PROCESS_FAILED",
        "CHAT_MESSAGE_RECEIVED",
    )
    # Which event tells of the hotel's rejection [UNCONFIRMED]: no RESERVATION_REJECTED exists.
    rejected_event: str = "RESERVATION_CANCELLED"
    # OpenAPI: "An https:// address"; off by default so innsync on loopback can subscribe.
    webhook_requires_https: bool = False
    # A calendar read spans at most this many days [UNCONFIRMED]; innsync's horizon is <= 750.
    calendar_max_days: int = 750
    # Paging starts at page 0 [3P clients use both 0 and 1; UNCONFIRMED].
    first_page: int = 0
    # §2.3 bulk body key spellings seen in 3P clients, read as the webhook's names [UNCONFIRMED].
    calendar_aliases: tuple[tuple[str, str], ...] = (
        ("minstay", "minStay"),
        ("maxstay", "maxStay"),
        ("closedArrival", "closeToArrival"),
        ("closedDeparture", "closeToDeparture"),
        ("closed", "stopSells"),
    )
    # How many days ahead the generator changes the calendar.
    generator_days: int = 60

    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)
    max_body_bytes: int = 1_000_000
    request_log_size: int = 10_000
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (hotel actor, webhooks) runs under uvicorn; None: tick only.
    pump_interval_seconds: float | None = 1.0

    def accommodation(self, accommodation_id: int) -> AccommodationSpec | None:
        return next((a for a in self.accommodations if a.id == accommodation_id), None)

    def owner(self, username: str) -> OwnerSpec | None:
        return next((o for o in self.owners if o.username == username), None)
