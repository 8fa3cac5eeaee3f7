"""The iCal channel: Airbnb, Vrbo and any calendar, by secret ``.ics`` URLs (RFC 5545)."""

from innsync.channels.ical.adapter import IcalChannel
from innsync.channels.ical.config import IcalConfig
from innsync.channels.registry import AdapterContext, ChannelKind
from innsync.settings import get_settings


def _build(config: IcalConfig, context: AdapterContext) -> IcalChannel:
    return IcalChannel(
        config,
        context.http,
        credentials=context.credentials,
        now=context.now,
        allow_private_addresses=get_settings().outbound_allow_private_addresses,
    )


CHANNEL_KIND: ChannelKind[IcalConfig] = ChannelKind(
    name="ical", config_model=IcalConfig, build=_build, title="iCal (Airbnb, Vrbo, any calendar)"
)

__all__ = ["CHANNEL_KIND", "IcalChannel", "IcalConfig"]
