"""The Channex.io channel (API v1): outbound availability, rates and restrictions."""

from innsync.channels.channex.adapter import CHANNEX_LIMITS, ChannexAdapter
from innsync.channels.channex.config import (
    PRODUCTION_BASE_URL,
    STAGING_BASE_URL,
    ChannexConfig,
)
from innsync.channels.registry import AdapterContext, ChannelKind, secret_digest


def _build(config: ChannexConfig, context: AdapterContext) -> ChannexAdapter:
    return ChannexAdapter(config, context.http, now=context.now)


def _account_identity(config: ChannexConfig) -> str:
    # channex.md §1.2: an API key belongs to one user of one Channex account on one host; every
    # property that key reaches is that account's, whichever connection holds the key.
    return f"{config.base_url} {secret_digest(config.api_key)}"


CHANNEL_KIND: ChannelKind[ChannexConfig] = ChannelKind(
    name="channex",
    config_model=ChannexConfig,
    build=_build,
    title="Channex.io",
    value_constraints=CHANNEX_LIMITS.values,
    account_identity=_account_identity,
    webhook_verifier_field="webhook_secret",
    endpoints={"base_url": (PRODUCTION_BASE_URL, STAGING_BASE_URL)},
)

__all__ = [
    "CHANNEL_KIND",
    "CHANNEX_LIMITS",
    "PRODUCTION_BASE_URL",
    "STAGING_BASE_URL",
    "ChannexAdapter",
    "ChannexConfig",
]
