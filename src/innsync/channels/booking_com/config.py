"""Settings of one Booking.com connection: the property, the machine account and the cadence.

Section numbers (§) point to ``shared/channels/ota-direct-and-standards.md``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from innsync.channels.config import ChannelConfig

# §3.1: the documented hosts. ARI goes to supply-xml, reservations to secure-supply-xml.
AUTH_URL = "https://connectivity-authentication.booking.com/token-based-authentication/exchange"
SUPPLY_URL = "https://supply-xml.booking.com"
RESERVATIONS_URL = "https://secure-supply-xml.booking.com"


class BookingComConfig(ChannelConfig):
    """One Booking.com property (``hotel_id``) reached with one machine account (§3.1 Auth)."""

    hotel_id: str = Field(min_length=1, pattern=r"^[0-9A-Za-z_-]{1,32}$")
    client_id: str = Field(min_length=1, description="The machine account's client id")
    client_secret: SecretStr = Field(min_length=1, description="The machine account's secret")
    auth_url: str = Field(default=AUTH_URL, description="The token exchange endpoint (§3.1)")
    supply_url: str = Field(default=SUPPLY_URL, description="ARI host, up to the domain")
    reservations_url: str = Field(default=RESERVATIONS_URL, description="Reservations host")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    decimal_places: int = Field(
        default=2, ge=0, le=3, description="DecimalPlaces of the amounts sent (§3.1 RateAmount)"
    )
    timezone: str = Field(
        default="Europe/Amsterdam",
        description="§3.1 Rules judge past dates in CET: the zone innsync reads 'today' in",
    )
    pull_interval_seconds: float = Field(
        default=20.0,
        ge=5.0,
        le=300.0,
        description="Reservation pull cadence; §3.1 recommends 20 s (process page) or 30 s (FAQ)",
    )
    attention_after_failed_pulls: int = Field(
        default=5,
        ge=1,
        le=8,
        description="Failed pulls in a row before the PMS is told (connection.needs_attention); "
        "with the reconciler's backoff (10 s doubling) the 5th comes 2.5 minutes into an outage, "
        "the 8th about 21 minutes in, before §3.1's 30-minute e-mail fallback",
    )
    pull_retry_cap_seconds: float = Field(
        default=120,
        ge=20,
        le=900,
        description="The longest wait between failed pulls. Other channels back off to 15 "
        "minutes; here a pull that comes back late costs the hotel e-mailed reservations after "
        "§3.1's 30 minutes, so once an outage ends the next pull comes within this time",
    )
    tokens_per_hour: int = Field(
        default=30, ge=1, le=30, description="§3.1: at most 30 tokens per hour per machine account"
    )
    hotel_filter_param: str | None = Field(
        default="hotel_ids",
        description="Query parameter naming the hotel on reservation pulls [UNCONFIRMED, §3.1]",
    )
    month_batches: bool = Field(
        default=False,
        description="One request per calendar month (§3.1 'batch by month', read as advice)",
    )
    target: str = Field(default="Production", pattern=r"^(Test|Production)$")
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @field_validator("auth_url", "supply_url", "reservations_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone must be an IANA zone name, got {value!r}") from None
        return value
