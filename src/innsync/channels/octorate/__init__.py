"""Octorate (Connect API, OTA side): a marketplace's hotels whose ARI lives in Octorate."""

from innsync.channels.octorate.adapter import OctorateAdapter
from innsync.channels.octorate.config import OctorateApp, OctorateConfig
from innsync.channels.registry import AdapterContext, ChannelKind
from innsync.settings import Settings, get_settings


def app_of(settings: Settings) -> OctorateApp:
    """The marketplace's Octorate app from innsync's settings (never from a connection)."""
    return OctorateApp(
        client_id=settings.octorate_client_id or "",
        client_secret=settings.octorate_client_secret,
        api_root=settings.octorate_api_root,
        authorize_url=settings.octorate_authorize_url,
    )


def _build(config: OctorateConfig, context: AdapterContext) -> OctorateAdapter:
    return OctorateAdapter(
        config,
        app_of(get_settings()),
        context.http,
        credentials=context.credentials,
        now=context.now,
    )


def _account_identity(config: OctorateConfig) -> str:
    # §2.6: the quota is per accommodation; connections without one share nothing yet.
    return f"accommodation {config.accommodation_id}"


CHANNEL_KIND: ChannelKind[OctorateConfig] = ChannelKind(
    name="octorate",
    config_model=OctorateConfig,
    build=_build,
    title="Octorate",
    account_identity=_account_identity,
)

__all__ = ["CHANNEL_KIND", "OctorateAdapter", "OctorateApp", "OctorateConfig", "app_of"]
