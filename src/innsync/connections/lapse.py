"""Warning before a channel's refresh token lapses unused.

Some channels let a refresh token lapse when it goes unused for a while (Beds24: 30 days,
§2.2 of its notes); the channel kind says how long (``ChannelKind.refresh_token_lapse``). A
connection that syncs refreshes its access token daily, so only a quiet one (push and pull
off, a paused property) gets near the limit. Its last use is the newest credential the channel
issued it (``channel_credentials.updated_at``; every refresh writes one), or, before the first,
when the connection was made. Some days before the lapse the connection is set to
``needs_attention`` with the date, and the PMS gets a ``connection.needs_attention`` event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync import containment
from innsync.channels import registry
from innsync.channels.registry import UnknownChannelKindError
from innsync.connections.credentials import ChannelCredential
from innsync.connections.models import Connection, ConnectionState

# A connection already waiting for a person, or turned off, is not warned again.
WATCHED_STATES = (ConnectionState.PENDING, ConnectionState.CONNECTED)


def refresh_token_lapses_at(session: Session, connection: Connection) -> datetime | None:
    """When the connection's refresh token lapses if it stays unused; None if it never does."""
    try:
        lapse = registry.get(connection.channel).refresh_token_lapse
    except UnknownChannelKindError:
        return None
    if lapse is None:
        return None
    last_issued = session.scalar(
        select(func.max(ChannelCredential.updated_at)).where(
            ChannelCredential.connection_id == connection.id
        )
    )
    return (last_issued or connection.created_at) + lapse


def warn_lapsing_refresh_tokens(session: Session, now: datetime, warning: timedelta) -> int:
    """Set every watched connection whose refresh token lapses within ``warning`` to
    needs_attention (with an event); returns how many were set."""
    lapsing = [name for name in registry.kinds() if registry.get(name).refresh_token_lapse]
    watched = session.scalars(
        select(Connection)
        .where(Connection.state.in_(WATCHED_STATES), Connection.channel.in_(lapsing))
        .order_by(Connection.id)
    )
    warned = 0
    for connection in watched:
        lapses_at = refresh_token_lapses_at(session, connection)
        if lapses_at is None or now < lapses_at - warning:
            continue
        verb = "lapsed" if now >= lapses_at else "lapses"
        containment.needs_attention(
            session,
            connection,
            f"the channel's refresh token {verb} unused at {lapses_at.isoformat()}: turn "
            "syncing on so innsync uses it, or give a new invite code",
        )
        warned += 1
    return warned
