"""The Channex.io channel (API v1): outbound availability, rates and restrictions."""

from innsync.channels.channex.adapter import CHANNEX_LIMITS, ChannexAdapter
from innsync.channels.channex.config import (
    PRODUCTION_BASE_URL,
    STAGING_BASE_URL,
    ChannexConfig,
)
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: ChannexConfig, context: AdapterContext) -> ChannexAdapter:
    return ChannexAdapter(config, context.http, now=context.now)


CHANNEL_KIND: ChannelKind[ChannexConfig] = ChannelKind(
    name="channex", config_model=ChannexConfig, build=_build, title="Channex.io"
)

__all__ = [
    "CHANNEL_KIND",
    "CHANNEX_LIMITS",
    "PRODUCTION_BASE_URL",
    "STAGING_BASE_URL",
    "ChannexAdapter",
    "ChannexConfig",
]
