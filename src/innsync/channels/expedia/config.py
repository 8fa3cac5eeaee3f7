"""Settings of one Expedia QuickConnect connection: the hotel, the EQC login and the cadence.

Section numbers (§) point to ``shared/channels/ota-direct-and-standards.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from innsync.channels.config import ChannelConfig

# §3.2: production endpoints; the public simulator answers under .../connect/{ar,br,bc,parr}.
AR_URL = "https://services.expediapartnercentral.com/eqc/ar"
BR_URL = "https://services.expediapartnercentral.com/eqc/br"
BC_URL = "https://services.expediapartnercentral.com/eqc/bc"
PARR_URL = "https://services.expediapartnercentral.com/eqc/parr"


class ExpediaConfig(ChannelConfig):
    """One EQC property (``hotel_id``) reached with one EQC login (§3.2 Auth)."""

    hotel_id: str = Field(pattern=r"^[1-9][0-9]{0,13}$", description="§3.2: up to 14 digits")
    username: str = Field(min_length=4, max_length=30, description="§3.2: 4-30 characters")
    password: SecretStr = Field(min_length=6, max_length=30, description="§3.2: 6-30 characters")
    ar_url: str = Field(default=AR_URL, description="Availability and rates (AR) endpoint")
    br_url: str = Field(default=BR_URL, description="Booking retrieval (BR) endpoint")
    bc_url: str = Field(default=BC_URL, description="Booking confirmation (BC) endpoint")
    parr_url: str = Field(
        default=PARR_URL, description="Product, availability and rates read-back (PARR) endpoint"
    )
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    pricing: Literal["per_day", "per_occupancy"] = Field(
        default="per_day",
        description="The property's pricing model on Expedia (PerDay or PerOccupancy rates)",
    )
    confirm_prefix: str = Field(
        default="INN",
        pattern=r"^[A-Za-z0-9-]{0,8}$",
        description="Put before the booking id in the confirmation number sent with BC",
    )
    pull_interval_seconds: float = Field(
        default=60.0,
        ge=10.0,
        le=3600.0,
        description="BR cadence; §3.2's BR definition asks for a retrieval every hour or less",
    )
    timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=300,
        description="AR can take seconds per message (FAQ: up to 5 s); longer waits time out",
    )
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    @field_validator("ar_url", "br_url", "bc_url", "parr_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")
