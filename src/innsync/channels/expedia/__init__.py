"""Expedia QuickConnect direct (EQC XML): ARI out with AR, bookings pulled (BR), confirmed (BC)."""

from innsync.channels.expedia.adapter import EXPEDIA_LIMITS, ExpediaAdapter
from innsync.channels.expedia.config import ExpediaConfig
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: ExpediaConfig, context: AdapterContext) -> ExpediaAdapter:
    return ExpediaAdapter(config, context.http, now=context.now)


CHANNEL_KIND: ChannelKind[ExpediaConfig] = ChannelKind(
    name="expedia",
    config_model=ExpediaConfig,
    build=_build,
    title="Expedia QuickConnect",
    value_constraints=EXPEDIA_LIMITS.values,
)

__all__ = ["CHANNEL_KIND", "EXPEDIA_LIMITS", "ExpediaAdapter", "ExpediaConfig"]
