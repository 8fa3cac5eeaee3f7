"""Keeping one bad row from stopping a background loop.

The loops serve every tenant at once, so an error met by one connection's data (a stored config
that no longer validates, a secret that cannot be decrypted, an update no request can carry, a
bug met by that data alone) must stay with that connection: it is recorded on the connection's
row (``needs_attention`` with the reason, and a ``connection.needs_attention`` event for the
PMS), and the loop goes on with every other connection. A person fixes the config or the data
and sets the connection back to ``connected``.

Only errors of the database itself are left to the loop (its next pass retries): they are not
about one row, and recording them needs the database.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync.connections.models import Connection, ConnectionState
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.service import emit

logger = logging.getLogger(__name__)

NEEDS_ATTENTION = ConnectionState.NEEDS_ATTENTION
MAX_REASON = 2000


def describe(error: BaseException) -> str:
    """The error as a person reads it on the connection: its kind and its message, bounded."""
    text = f"{type(error).__name__}: {error}"
    return "".join(char if char.isprintable() else " " for char in text)[:MAX_REASON]


def connection_failed(
    sessions: sessionmaker[Session], connection_id: uuid.UUID, loop: str, error: BaseException
) -> None:
    """Park a connection a loop could not serve, with the reason; the loop carries on.

    Database errors are re-raised: they are the loop's to retry, not the connection's fault.
    """
    if isinstance(error, SQLAlchemyError):
        raise error
    logger.error(
        "connection parked after an error",
        exc_info=error,
        extra={"connection_id": str(connection_id), "loop": loop},
    )
    with transaction(sessions) as session:
        connection = session.get(Connection, connection_id, with_for_update=True)
        if connection is not None:
            needs_attention(session, connection, f"{loop}: {describe(error)}")


def needs_attention(session: Session, connection: Connection, reason: str) -> None:
    """In the caller's transaction: the connection waits for a person; told once to the PMS."""
    if connection.state == NEEDS_ATTENTION:
        return
    connection.state, connection.state_reason = NEEDS_ATTENTION, reason[:MAX_REASON]
    emit(
        session,
        connection.tenant_id,
        kinds.CONNECTION_NEEDS_ATTENTION,
        {"connection_id": str(connection.id), "reason": reason[:500]},
        property_id=connection.property_id,
        subject_id=str(connection.id),
    )
