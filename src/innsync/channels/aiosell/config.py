"""Settings of one Aiosell connection: partner slug, hotel code, credentials and timeouts."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from innsync.channels.config import ChannelConfig

# aiosell.md §1.2: the documented base URL of the PMS integration API.
PRODUCTION_BASE_URL = "https://live.aiosell.com/api/v2/cm"


class AiosellConfig(ChannelConfig):
    """One Aiosell property (``hotel_code``) reached as one partner (aiosell.md §1.2, §1.3).

    ``occupancy_rate_plans`` maps an innsync rate plan code to the Aiosell rateplanCodes it is
    sold under per occupancy (§1.7: ``EXECUTIVE-S-101`` single, ``EXECUTIVE-D-101`` double).
    """

    base_url: str = Field(default=PRODUCTION_BASE_URL, description="API root, up to /cm")
    partner: str = Field(min_length=1, description="The partner slug Aiosell assigned (URL path)")
    hotel_code: str = Field(min_length=1, description="Aiosell's property code (JSON body)")
    username: str = Field(min_length=1, description="Partner user name, sent by Basic auth")
    password: SecretStr = Field(min_length=1, description="Partner password, sent by Basic auth")
    to_channels: tuple[str, ...] = Field(
        default=(),
        description="OTA slugs restrictions apply to (§1.6 toChannels); empty sends none",
    )
    occupancy_rate_plans: dict[str, dict[int, str]] = Field(
        default_factory=dict,
        description="rate plan code -> {occupancy: Aiosell rateplanCode} for occupancy pricing",
    )
    currency: str = Field(
        default="INR",
        pattern=r"^[A-Z]{3}$",
        description="The property's currency: Aiosell sends rates without one (§1.7)",
    )
    timezone: str = Field(
        default="Asia/Kolkata", description="The zone bookedOn times are read in (§1.2)"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_username: str | None = Field(
        default=None, description="The Basic auth user Aiosell sends with reservation pushes"
    )
    webhook_password: SecretStr | None = Field(
        default=None,
        description="The Basic auth password Aiosell sends (§1.3); unset refuses every webhook",
    )

    unreadable_webhook_answer: Literal["refuse", "accept"] = Field(
        default="refuse",
        description=(
            "The answer to a push innsync stored but cannot read: 'refuse' is HTTP 400 with "
            "success false (Aiosell shows the failure and does not retry a 4xx), 'accept' is "
            "the documented success reply. Never a 5xx: Aiosell retries those (§1.10, 3P)."
        ),
    )

    pull_interval_seconds: float = Field(
        default=900.0,
        ge=60,
        le=86_400,
        description="How often the reconciler reads reservations back (§1.9 fetch)",
    )
    pull_window_days: int = Field(
        default=365,
        ge=1,
        le=1000,
        description="Stays from yesterday up to this many days ahead are read back (§1.9)",
    )

    @field_validator("base_url")
    @classmethod
    def _http_root(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("partner")
    @classmethod
    def _slug(cls, value: str) -> str:
        if "/" in value or "?" in value or "#" in value:
            raise ValueError("partner is a slug, without / ? or #")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone must be an IANA zone name, got {value!r}") from None
        return value

    @field_validator("occupancy_rate_plans")
    @classmethod
    def _occupancies(cls, value: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
        for plan, codes in value.items():
            if not codes or any(occupancy < 1 or not code for occupancy, code in codes.items()):
                raise ValueError(f"rate plan {plan!r} needs codes for occupancies of at least 1")
        return value

    @field_validator("to_channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not slug.strip() for slug in value):
            raise ValueError("to_channels holds OTA slugs, none empty")
        return value
