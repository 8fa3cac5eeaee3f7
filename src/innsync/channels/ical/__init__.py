"""The iCal channel: Airbnb, Vrbo and any calendar, by secret ``.ics`` URLs (RFC 5545)."""

from innsync.channels.ical.adapter import IcalChannel
from innsync.channels.ical.config import IcalConfig
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: IcalConfig, context: AdapterContext) -> IcalChannel:
    return IcalChannel(config, context.http, credentials=context.credentials, now=context.now)


CHANNEL_KIND: ChannelKind[IcalConfig] = ChannelKind(
    name="ical",
    config_model=IcalConfig,
    build=_build,
    title="iCal (Airbnb, Vrbo, any calendar)",
    # The feed is the platform's export URL, the tenant's to give: held to the outbound
    # policy when stored and at every connect (the worker's client is guarded).
    tenant_urls=frozenset({"feed_url"}),
)

__all__ = ["CHANNEL_KIND", "IcalChannel", "IcalConfig"]
