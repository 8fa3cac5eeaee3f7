"""Settings of the fake channel: its declared limits and the codes it knows."""

from __future__ import annotations

from pydantic import SecretStr

from innsync.channels.config import ChannelConfig
from innsync.channels.types import ChannelLimits, RatePlanKey

CHANNEX_LIKE_LIMITS = ChannelLimits(
    # Channex allows 10 availability and 10 rate/restriction requests per minute per property.
    requests_per_window=10,
    window_seconds=60.0,
    window_scope="property",
    separate_budgets=True,
    # Channex caps a JSON call at 10 MB and puts no limit on the number of changes in it.
    max_request_bytes=10_000_000,
    max_entries_per_request=None,
    understands_ranges=True,
    understands_weekdays=True,
    accepts_partial_rates=True,
)


class FakeChannelConfig(ChannelConfig):
    """A fake connection: one property with its own limits; no credentials needed."""

    property_code: str = "fake-property"
    limits: ChannelLimits = CHANNEX_LIKE_LIMITS
    known_room_type_codes: frozenset[str] | None = None
    """When set, entries for any other room type are rejected, as a channel does unmapped codes."""
    known_rate_plans: frozenset[RatePlanKey] | None = None
    """When set, rate entries for any other (room type, rate plan) pair are rejected."""
    pull_interval_seconds: float = 30.0
    """How often innsync reads the fake feed (see ``FakeChannel.pull_revisions``)."""
    webhook_secret: SecretStr | None = None
    """The value the channel sends in ``X-Innsync-Fake-Secret``; unset refuses every webhook."""
    account_key: SecretStr | None = None
    """Stands for a channel account's credentials: connections with one key are one account and
    share account-wide limits (see ``CHANNEL_KIND.account_identity``). Any key is accepted."""
