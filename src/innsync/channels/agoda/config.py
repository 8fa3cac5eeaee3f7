"""Settings of one Agoda connection: the property, the API key, the endpoint and the cadence.

Section numbers (§) point to ``shared/channels/ota-direct-and-standards.md``; ``[INFERRED]``
marks what §3.3 leaves open, made a setting here and listed in ``CHECKLIST.yaml``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from innsync.channels.config import ChannelConfig

# §3.3: one URL for every call, the operation named by `type` on <request>.
SUPPLY_URL = "https://supply.agoda.com"
API_PATH = "/api"


class AgodaConfig(ChannelConfig):
    """One Agoda property reached with the channel manager's API key (§3.3 Auth)."""

    property_id: str = Field(pattern=r"^[0-9]{1,8}$", description="Agoda property id (§3.3)")
    api_key: SecretStr = Field(min_length=1, description="The API key, sent as ?apiKey= (§3.3)")
    base_url: str = Field(default=SUPPLY_URL, description="Host, up to the domain (§3.3)")
    api_path: str = Field(default=API_PATH, description="The single endpoint's path (§3.3)")
    set_ari_type: int = Field(
        default=10,
        description="`type` of SetARI: 10 is the V2 of the Postman example, 1 the original "
        "SetAri (§3.3 table) [INFERRED]",
    )
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    timezone: str = Field(
        default="Asia/Bangkok",
        description="§3.3: Agoda writes times in ICT (GMT+7); the zone innsync reads Agoda's "
        "'today' in for the SetARI horizon",
    )
    horizon_days: int = Field(
        default=730, ge=1, le=730, description="§3.3: SetARI takes dates up to 730 days ahead"
    )
    max_request_bytes: int = Field(
        default=1_000_000, ge=4_096, le=1_000_000, description="§3.3: at most 1 MB per request"
    )
    list_window_days: int = Field(
        default=90, ge=1, le=90, description="§3.3: GetBookingList spans at most 90 days"
    )
    first_pull_lookback_hours: float = Field(
        default=24.0,
        gt=0,
        le=740 * 24,
        description="How far back the first pull of a new connection looks (§3.3: ≤ 740 days)",
    )
    pull_overlap_seconds: float = Field(
        default=600.0,
        ge=0,
        le=3600,
        description="Each pull re-reads this much before the last one's end: a booking whose "
        "last_action is stamped a little late is still seen [INFERRED]",
    )
    list_by_status: bool = Field(
        default=True,
        description="One GetBookingList per status (ConfirmBooking, AmendBooking, CancelBooking): "
        "§3.3 names status among the criteria; whether it may be left out is [INFERRED]",
    )
    pull_interval_seconds: float = Field(
        default=60.0,
        ge=10.0,
        le=600.0,
        description="The pull cadence; the BookingHint triggers a fetch between pulls",
    )
    pull_retry_cap_seconds: float = Field(
        default=120.0,
        ge=20,
        le=900,
        description="The longest wait between failed pulls: a booking nobody retrieves in time "
        "reaches the hotel by e-mail or fax, so once an outage ends the next pull comes soon",
    )
    hint_secret: SecretStr | None = Field(
        default=None,
        description="A secret Agoda is asked to send with each BookingHint, in the header "
        "below; §3.3 documents no signature [INFERRED]. Without it a hint is checked by its "
        "property id only, and trusted for nothing but which booking to fetch",
    )
    hint_secret_header: str = Field(default="x-agoda-hint-secret", pattern=r"^[a-z0-9-]{1,64}$")
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("api_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @field_validator("set_ari_type")
    @classmethod
    def _ari_type(cls, value: int) -> int:
        if value not in (1, 10):
            raise ValueError("SetARI is type 1 or type 10 (§3.3)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone must be an IANA zone name, got {value!r}") from None
        return value
