"""Settings of one Beds24 connection: API root, credentials, property, price slots, time-outs.

Section numbers (§) point to ``shared/channels/beds24.md``.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator

from innsync.channels.config import ChannelConfig

# §2.1: the host most clients use; beds24.com/api/v2 and www.beds24.com/api/v2 work too.
PRODUCTION_BASE_URL = "https://api.beds24.com/v2"
BASE_URLS = (PRODUCTION_BASE_URL, "https://beds24.com/api/v2", "https://www.beds24.com/api/v2")
# §2.6: a room holds at most 16 prices, price1 … price16.
PRICE_SLOTS = 16
_SLOT_CODE = re.compile(r"^price([1-9]|1[0-6])$")


class Beds24Config(ChannelConfig):
    """One Beds24 property reached with one refresh token (§2.2).

    Room types are Beds24 ``roomId`` numbers (as text). A rate plan is one of the room's price
    slots (§2.6): its code is ``price1`` … ``price16``, or any code mapped to a slot in
    ``rate_plan_slots``. Restrictions are per room on Beds24 (§2.6, Part 3 #9), so
    ``restriction_plans`` names, per room, the one rate plan whose restrictions are sent; a room
    left out takes the restrictions of every plan (right when it sells one plan).
    """

    base_url: str = Field(default=PRODUCTION_BASE_URL, description="API V2 root, up to /v2")
    invite_code: SecretStr | None = Field(
        default=None,
        description="An invite code from SETTINGS > MARKETPLACE > API; used once for set-up",
    )
    refresh_token: SecretStr | None = Field(
        default=None, description="A refresh token from a past set-up (instead of a code)"
    )
    organization: str | None = Field(
        default=None, description="Integration partners only: sent as the organization header"
    )
    device_name: str = Field(default="innsync", max_length=100)
    account_id: str | None = Field(
        default=None,
        description="The Beds24 account (ownerId): connections with the same one share one "
        "credit budget (§2.3); unset, the refresh token identifies the account",
    )
    property_id: int = Field(gt=0, description="The Beds24 propertyId")
    currency: str = Field(
        default="EUR", pattern=r"^[A-Z]{3}$", description="The property's currency (§2.5)"
    )
    rate_plan_slots: dict[str, int] = Field(
        default_factory=dict, description="rate plan code -> price slot 1..16 (§2.6)"
    )
    restriction_plans: dict[str, str] = Field(
        default_factory=dict,
        description="roomId -> the rate plan code whose restrictions Beds24 holds for the room",
    )
    credits_per_window: int = Field(
        default=100, ge=1, le=10_000, description="§2.3: 100 per 5 minutes, 200 when bought"
    )
    min_credits: float = Field(
        default=1.0,
        ge=0,
        description="Below this many credits left in the window, calls wait for the reset",
    )
    webhook_header: str = Field(
        default="x-innsync-webhook-secret",
        pattern=r"^[A-Za-z0-9-]+$",
        description="The custom header Beds24 sends with booking webhooks (§2.8)",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="The custom header's value; unset refuses every webhook"
    )
    ignored_statuses: tuple[str, ...] = Field(
        default=("inquiry",),
        description="Booking statuses that are not reservations (§2.5: an inquiry holds no "
        "room); such bookings are not taken in",
    )
    pull_poll_seconds: float = Field(default=300.0, ge=30, le=86_400)
    first_pull_days: int = Field(
        default=30, ge=1, le=365, description="The first modifiedFrom pull looks this far back"
    )
    pull_overlap_seconds: float = Field(
        default=600.0,
        ge=0,
        le=86_400,
        description="Each pull starts this long before the last modifiedTime seen, since the "
        "time zone of modifiedFrom is not documented (§2.5)",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @field_validator("base_url")
    @classmethod
    def _http_root(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("rate_plan_slots")
    @classmethod
    def _slots(cls, value: dict[str, int]) -> dict[str, int]:
        for code, slot in value.items():
            if not code or not 1 <= slot <= PRICE_SLOTS:
                raise ValueError(f"rate plan {code!r} needs a price slot from 1 to {PRICE_SLOTS}")
        return value

    @field_validator("restriction_plans")
    @classmethod
    def _rooms(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not room.isdigit() or not plan for room, plan in value.items()):
            raise ValueError("restriction_plans maps a numeric roomId to a rate plan code")
        return value

    @model_validator(mode="after")
    def _has_credentials(self) -> Beds24Config:
        if self.invite_code is None and self.refresh_token is None:
            raise ValueError("a Beds24 connection needs an invite_code or a refresh_token")
        return self

    def slot_of(self, rate_plan_code: str) -> int | None:
        """The price slot a rate plan code stands for, or ``None`` for an unknown code."""
        if rate_plan_code in self.rate_plan_slots:
            return self.rate_plan_slots[rate_plan_code]
        matched = _SLOT_CODE.match(rate_plan_code)
        return int(matched.group(1)) if matched else None
