"""Booking.com direct (Connectivity APIs, OpenTravel XML): ARI out, reservations pulled."""

from datetime import timedelta

from innsync.channels.booking_com.adapter import BOOKING_COM_LIMITS, BookingComAdapter
from innsync.channels.booking_com.config import (
    AUTH_URL,
    RESERVATIONS_URL,
    SUPPLY_URL,
    BookingComConfig,
)
from innsync.channels.booking_com.tokens import account_key
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: BookingComConfig, context: AdapterContext) -> BookingComAdapter:
    return BookingComAdapter(config, context.http, accounts=context.accounts, now=context.now)


CHANNEL_KIND: ChannelKind[BookingComConfig] = ChannelKind(
    name="booking_com",
    config_model=BookingComConfig,
    build=_build,
    title="Booking.com",
    value_constraints=BOOKING_COM_LIMITS.values,
    # §3.1: the token and its cap are the machine account's, whichever hotel it serves.
    account_identity=account_key,
    # §3.1: a reservation not pulled and acknowledged within 30 minutes goes to the hotel by
    # e-mail instead.
    confirm_deadline=timedelta(minutes=30),
    # §3.1: one set of hosts; test properties are told apart by the Target attribute.
    endpoints={
        "auth_url": (AUTH_URL,),
        "supply_url": (SUPPLY_URL,),
        "reservations_url": (RESERVATIONS_URL,),
    },
)

__all__ = ["BOOKING_COM_LIMITS", "CHANNEL_KIND", "BookingComAdapter", "BookingComConfig"]
