"""The Beds24 channel manager (API V2): calendar out, bookings in and out."""

from datetime import timedelta

from innsync.channels.beds24.adapter import BEDS24_LIMITS, Beds24Adapter, account_identity
from innsync.channels.beds24.config import BASE_URLS, PRODUCTION_BASE_URL, Beds24Config
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: Beds24Config, context: AdapterContext) -> Beds24Adapter:
    return Beds24Adapter(config, context.http, credentials=context.credentials, now=context.now)


CHANNEL_KIND: ChannelKind[Beds24Config] = ChannelKind(
    name="beds24",
    config_model=Beds24Config,
    build=_build,
    title="Beds24",
    value_constraints=BEDS24_LIMITS.values,
    account_identity=account_identity,
    webhook_verifier_field="webhook_secret",
    endpoints={"base_url": BASE_URLS},
    # §2.2: refresh tokens never expire as long as they are used within 30 days.
    refresh_token_lapse=timedelta(days=30),
)

__all__ = [
    "BEDS24_LIMITS",
    "CHANNEL_KIND",
    "PRODUCTION_BASE_URL",
    "Beds24Adapter",
    "Beds24Config",
]
