"""Expedia QuickConnect direct (EQC XML): ARI out with AR and read back with PARR, bookings
pulled (BR), confirmed (BC)."""

from innsync.channels.expedia.adapter import EXPEDIA_LIMITS, ExpediaAdapter
from innsync.channels.expedia.config import AR_URL, BC_URL, BR_URL, PARR_URL, ExpediaConfig
from innsync.channels.registry import AdapterContext, ChannelKind

SIMULATOR_URL = "https://simulator.expediaquickconnect.com/connect"


def _build(config: ExpediaConfig, context: AdapterContext) -> ExpediaAdapter:
    return ExpediaAdapter(config, context.http, now=context.now)


CHANNEL_KIND: ChannelKind[ExpediaConfig] = ChannelKind(
    name="expedia",
    config_model=ExpediaConfig,
    build=_build,
    title="Expedia QuickConnect",
    value_constraints=EXPEDIA_LIMITS.values,
    # §3.2: production hosts and Expedia's public EQC simulator, nothing a tenant chooses.
    endpoints={
        "ar_url": (AR_URL, f"{SIMULATOR_URL}/ar"),
        "br_url": (BR_URL, f"{SIMULATOR_URL}/br"),
        "bc_url": (BC_URL, f"{SIMULATOR_URL}/bc"),
        "parr_url": (PARR_URL, f"{SIMULATOR_URL}/parr"),
    },
)

__all__ = ["CHANNEL_KIND", "EXPEDIA_LIMITS", "ExpediaAdapter", "ExpediaConfig"]
