"""Settings of one Octorate connection: the hotel's accommodation and every unconfirmed spelling.

Section numbers (§) point to ``shared/channels/octorate.md``. The marketplace's app credentials
(client id and secret) and Octorate's URLs are innsync's, not a connection's: they come from
innsync's settings (:class:`OctorateApp`), so a tenant can neither read the secret nor point the
token calls elsewhere. What a connection holds is which accommodation the hotel picked and the
spellings and limits known only from third-party code, each settable the day Octorate answers
differently (``CHECKLIST.yaml`` lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, SecretStr

from innsync.channels.config import ChannelConfig

# §2.1: everything lives under api.octorate.com/connect; the authorization page on admin.
PRODUCTION_API_ROOT = "https://api.octorate.com/connect"
PRODUCTION_AUTHORIZE_URL = "https://admin.octorate.com/octobook/identity/oauth.xhtml"


@dataclass(frozen=True, slots=True)
class OctorateApp:
    """The marketplace's Octorate app: issued once per marketplace (never per hotel)."""

    client_id: str
    client_secret: SecretStr
    api_root: str = PRODUCTION_API_ROOT
    authorize_url: str = PRODUCTION_AUTHORIZE_URL


class OctorateConfig(ChannelConfig):
    """One hotel connected to the marketplace through Octorate (OAuth, §2.2).

    ``accommodation_id`` is the property the hotel picked among those its token sees; until it
    is set the connection can only list them (``GET /oauth/octorate/callback`` shows them).
    """

    accommodation_id: int | None = Field(
        default=None, gt=0, description="The Octorate accommodation this connection is for"
    )
    channel_id: int | None = Field(
        default=None, gt=0, description="The marketplace's portal channel id, sent as channelId"
    )
    quota_calls: int = Field(
        default=100,
        ge=2,
        le=10_000,
        description="§2.6 [3P; UNCONFIRMED]: calls per window per accommodation",
    )
    quota_window_seconds: float = Field(default=300.0, ge=1, le=86_400)
    page_size: int = Field(
        default=50, ge=1, le=1000, description="[3P] size=100 was refused on the calendar"
    )
    first_page: int = Field(default=0, ge=0, le=1, description="[UNCONFIRMED] pages from 0 or 1")
    roomrates_path: str = Field(
        default="/rest/v3/roomrates/{accommodation}",
        description="§2.3 [3P]: room types with their rates, on a v3 path",
    )
    reference_field: str = Field(
        default="refer",
        pattern=r"^[A-Za-z_]{1,40}$",
        description="§2.3 [3P]: the field carrying innsync's reservation id (idempotency)",
    )
    status_pending: str = Field(default="PENDING", description="[UNCONFIRMED]")
    status_confirmed: str = Field(default="CONFIRMED", description="§2.3")
    status_rejected: str = Field(default="REJECTED", description="[UNCONFIRMED]")
    status_cancelled: str = Field(default="CANCELLED", description="§2.3")
    cancel_by: Literal["put_status", "delete"] = Field(
        default="put_status", description="§2.3 [UNCONFIRMED]: PUT {status: CANCELLED} or DELETE"
    )
    stay_time: str = Field(
        default="02:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="§2.3 [3P]: check-in and check-out are sent as timestamps at this UTC time",
    )
    webhook_hmac_field: str | None = Field(
        default="hmac", description="[UNCONFIRMED] the envelope field holding the signature"
    )
    webhook_hmac_algorithm: Literal["sha1", "sha256"] = Field(
        default="sha1", description="[UNCONFIRMED] HMAC of content, keyed with the app secret"
    )
    rejected_event: str = Field(
        default="RESERVATION_CANCELLED",
        description="[UNCONFIRMED] the event telling of the hotel's refusal (no *_REJECTED type)",
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
