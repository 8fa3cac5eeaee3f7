"""Settings of one iCal connection: one listing (a room type) and the platform's feed URL."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from innsync.channels.config import ChannelConfig

# Airbnb marks closed dates "Airbnb (Not available)"; Vrbo and others "Blocked", "Closed",
# "Unavailable" (landscape §4.5). Matched case-insensitively as substrings of SUMMARY.
DEFAULT_BLOCK_PATTERNS = ("not available", "blocked", "closed", "unavailable")


class IcalConfig(ChannelConfig):
    """The platform's export URL is a secret (whoever has it reads the listing's calendar)."""

    feed_url: SecretStr | None = None
    """The platform's ``.ics`` export of the listing; unset: export only, nothing imported."""
    room_type_code: str = "listing"
    """The code the connection's room type is mapped to (one listing = one room type)."""
    platform: str = "ical"
    """Shown as the OTA of imported bookings (``Airbnb``, ``Vrbo``)."""
    currency: str = "EUR"
    """iCal carries no money: imported bookings are stored with amount 0 in this currency."""
    block_patterns: tuple[str, ...] = DEFAULT_BLOCK_PATTERNS
    close_blocked_dates: bool = True
    """Mirror the feed's closed dates as innsync blocks (closing them on the API channels).
    Turn off when the platform's "Not available" is mostly its own booking-window or
    preparation-time closures (Airbnb's are, landscape §4.5); the blocks are then removed."""
    pull_interval_seconds: float = Field(default=300.0, ge=60.0)
    pull_jitter_ratio: float = Field(default=0.1, ge=0.0, le=0.5)
    """Each wait is longer by up to this share, so many feeds on one platform do not line up."""
    timeout_seconds: float = Field(default=20.0, gt=0)
    max_feed_bytes: int = Field(default=2_000_000, ge=1_000)
    max_events: int = Field(default=5_000, ge=1)
    hold_drop_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    """A read that loses more than this share of the bookings seen last time is held for
    review instead of cancelling them (a feed that empties suddenly is usually broken)."""
    hold_min_bookings: int = Field(default=2, ge=1)
    """The hold applies only when the last read had at least this many bookings."""
    stale_after_seconds: float = Field(default=6 * 3600.0, ge=300.0)
    """A feed not read successfully for this long needs attention (shown by the health route)."""
    allow_mass_cancellation: bool = False
    """Set for one read after checking a held feed: its disappearances become cancellations."""

    @field_validator("feed_url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value()
            if not text.startswith(("https://", "http://")):
                raise ValueError("feed_url must be an http(s) URL")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError("currency must be an ISO 4217 code")
        return value
