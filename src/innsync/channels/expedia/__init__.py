"""Expedia QuickConnect direct (EQC XML): ARI out with AR and read back with PARR, bookings
pulled (BR), confirmed (BC)."""

from datetime import timedelta

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
    # §3.2 (BR definition): a booking not taken electronically reverts to fax or e-mail, and
    # one retrieved but never confirmed by BC stays "retrieved". No figure is published, so
    # innsync holds Expedia to Booking.com's 30 minutes.
    confirm_deadline=timedelta(minutes=30),
    # §3.2: production hosts and Expedia's public EQC simulator, nothing a tenant chooses.
    endpoints={
        "ar_url": (AR_URL, f"{SIMULATOR_URL}/ar"),
        "br_url": (BR_URL, f"{SIMULATOR_URL}/br"),
        "bc_url": (BC_URL, f"{SIMULATOR_URL}/bc"),
        "parr_url": (PARR_URL, f"{SIMULATOR_URL}/parr"),
    },
)

__all__ = ["CHANNEL_KIND", "EXPEDIA_LIMITS", "ExpediaAdapter", "ExpediaConfig"]
