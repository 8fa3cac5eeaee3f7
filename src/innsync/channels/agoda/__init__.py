"""Agoda direct (YCS5 supply API, XML): SetARI out, bookings pulled and hinted."""

from innsync.channels.agoda.adapter import AGODA_LIMITS, AgodaAdapter
from innsync.channels.agoda.config import AgodaConfig
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: AgodaConfig, context: AdapterContext) -> AgodaAdapter:
    return AgodaAdapter(config, context.http, now=context.now)


CHANNEL_KIND: ChannelKind[AgodaConfig] = ChannelKind(
    name="agoda",
    config_model=AgodaConfig,
    build=_build,
    title="Agoda",
    value_constraints=AGODA_LIMITS.values,
)

__all__ = ["AGODA_LIMITS", "CHANNEL_KIND", "AgodaAdapter", "AgodaConfig"]
