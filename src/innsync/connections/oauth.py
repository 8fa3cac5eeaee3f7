"""OAuth connect step of channels whose hotels approve innsync's app (Octorate, §2.2).

``start``: an operator with an API key asks for the connection's authorization URL; innsync
makes an unguessable ``state`` (Authlib's ``generate_token``: 43 characters of 62, about 256
bits, from the system's CSPRNG), keeps only its SHA-256 with the connection,
an expiry and a used mark, and sends the hotel's browser to the channel. ``claim``: the channel
sends the browser back with ``code`` and ``state``; the state is the only credential of that
call, so it must be known, unused and unexpired, and it is used up in the same conditional
``UPDATE`` that checks it (two callbacks racing with one state: one wins, the other is told it
was used). A tampered, replayed or expired state is a clear 400, and nothing is exchanged.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from authlib.common.security import generate_token
from sqlalchemy import ForeignKey, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from innsync.connections.models import Connection
from innsync.db.base import Base, UtcDateTime
from innsync.errors import ConflictError, DomainError
from innsync.properties.service import get_owned

# Channels whose connections are authorized by the hotel through OAuth.
OAUTH_CHANNELS = frozenset({"octorate"})
# 43 letters and digits (about 256 bits): far beyond guessing, and short enough for any URL.
STATE_LENGTH = 43


class OAuthState(Base):
    """One connect step in flight: the hash of its ``state`` and whom it is for."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class OAuthStateError(DomainError):
    """The callback's ``state`` is unknown (tampered), already used, or expired."""

    status = 400
    title = "Invalid OAuth state"


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogateescape")).hexdigest()


def start(
    session: Session,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    now: datetime,
    lifetime: timedelta,
    *,
    is_configured: bool,
) -> tuple[Connection, str]:
    """A new state for the tenant's connection; returns the connection and the raw state.

    ``is_configured``: the operator set the channel's app credentials (without them the
    channel would refuse the hotel's approval, so none is started)."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    if connection.channel not in OAUTH_CHANNELS:
        raise ConflictError(f"a {connection.channel} connection is not authorized by OAuth")
    if not is_configured:
        raise ConflictError("INNSYNC_OCTORATE_CLIENT_ID is not set: the operator must set it")
    state = str(generate_token(STATE_LENGTH))
    session.add(
        OAuthState(
            state_hash=state_hash(state),
            connection_id=connection.id,
            tenant_id=tenant_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return connection, state


def claim(session: Session, state: str, now: datetime) -> Connection:
    """Use up ``state`` and return its connection; ``OAuthStateError`` saying why not."""
    hashed = state_hash(state)
    taken = session.execute(
        update(OAuthState)
        .where(
            OAuthState.state_hash == hashed,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    held = session.get(OAuthState, hashed, populate_existing=True)
    if held is None:
        raise OAuthStateError("unknown state: start the connect step again")
    if getattr(taken, "rowcount", 0) != 1:
        if held.used_at is not None:
            raise OAuthStateError("this state was already used: start the connect step again")
        raise OAuthStateError("this state has expired: start the connect step again")
    return session.get_one(Connection, held.connection_id)
