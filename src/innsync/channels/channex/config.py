"""Settings of one Channex connection: where the API lives, the key, the property and timeouts."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from innsync.channels.config import ChannelConfig

# channex.md §1.1: the documented hosts of API v1.
PRODUCTION_BASE_URL = "https://app.channex.io/api/v1"
STAGING_BASE_URL = "https://staging.channex.io/api/v1"


class ChannexConfig(ChannelConfig):
    """One Channex property reached with one API key (channex.md §1.2).

    ``property_id`` may be left out at first: provisioning creates or finds the property and
    stores its id here; until then ARI calls stop with ``MappingMissingError``.
    """

    base_url: str = Field(
        default=PRODUCTION_BASE_URL,
        description=f"API v1 root; {STAGING_BASE_URL} for the staging sandbox",
    )
    api_key: SecretStr = Field(min_length=1, description="Sent as the user-api-key header")
    property_id: str | None = Field(
        default=None,
        description="The Channex property UUID; provisioning sets it when it is left out",
    )
    # A 500-day full sync is one large call that Channex processes before answering; 30 s is
    # generous for that and still short enough to free the bucket when Channex hangs.
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Connecting never needs long; a slow connect means the host is unreachable.
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Sent by Channex in the X-Innsync-Webhook-Secret header of every webhook; "
        "unset refuses every webhook",
    )
    # §1.6: the feed of unacknowledged revisions is the reconciler's source; webhooks bring
    # bookings within seconds, the feed catches what they missed.
    feed_poll_seconds: float = Field(default=60.0, ge=5, le=3600)
    # A connection on an operator's account (connections/accounts.py) has the account's feed
    # read once for every property the account holds (the feed covers the account, §1.6), so
    # its own turn only lists the OTAs behind it: webhooks report a disconnected OTA at once,
    # this list catches one whose webhook was lost. Hourly: a fleet's lists are a request per
    # property each time (10,000 properties every 15 minutes were 11 calls/s to Channex and
    # 4 % of two cores in ``innsync bench scale``), for a safety net behind the webhooks.
    channels_poll_seconds: float = Field(
        default=3600.0,
        ge=60,
        le=86400,
        description="On an operator's channel account: how often each property's OTA "
        "channels are listed (the feed itself is read account-wide every feed_poll_seconds)",
    )
    # [UNCONFIRMED] Channex's documents have no cancellation-policy field on a rate plan;
    # public third-party integrations link one through /cancellation_policies (CHECKLIST.yaml,
    # catalog_cancellation_policy). Off by default, so nothing undocumented is sent.
    cancellation_policies: Literal["off", "linked"] = Field(
        default="off",
        description="[UNCONFIRMED, from third-party code] 'linked': provisioning creates one "
        "Channex cancellation policy per distinct rate-plan cancellation text and links each "
        "rate plan to it (cancellation_policy_id); 'off' sends no policy",
    )

    @field_validator("base_url")
    @classmethod
    def _http_root(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("property_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("property_id must be the Channex property UUID") from None
