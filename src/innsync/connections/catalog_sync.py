"""Keeping each channel's catalog in step with innsync's, level-triggered.

Provisioning records on the connection the digest of the catalog it sent
(``connections.catalog``). Each pass compares, for every connection provisioned at least once,
that digest with the digest of innsync's catalog now, and provisions again where they differ:
a property's new address, a renamed room type or a changed rate-plan fee reaches the channel
without anyone calling ``provision``, and a change missed by a failed pass is simply found
again by the next one. Nothing is sent while the digests agree.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.errors import ChannelError, ChannelRejectedError
from innsync.connections.catalog import catalog_digest, property_catalog
from innsync.connections.models import Connection, ConnectionState
from innsync.connections.provisioning import provision
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import transaction
from innsync.errors import DomainError

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Connections re-provisioned by one pass; the rest are found again by the next pass.
BATCH = 20
# How long one process holds a connection it re-provisions (a few calls, each bounded by the
# HTTP time-out); another process running the pass meanwhile leaves it alone.
LEASE = timedelta(seconds=120)


class SessionUnits:
    """Units of work over a session factory, run in the caller's thread (the loops' way)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    async def read(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return work(session)

    async def write(self, work: Callable[[Session], T]) -> T:
        with transaction(self._sessions) as session:
            return work(session)


def out_of_step(session: Session, limit: int = BATCH) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(tenant, connection, digest now) of provisioned connections whose catalog moved on."""
    query = (
        select(Connection)
        .where(
            Connection.catalog_digest.is_not(None),
            Connection.state != ConnectionState.DISABLED,
        )
        .order_by(Connection.id)
    )
    due: list[tuple[uuid.UUID, uuid.UUID, str]] = []
    for connection in session.scalars(query):
        digest = catalog_digest(property_catalog(session, connection))
        if digest != connection.catalog_digest:
            due.append((connection.tenant_id, connection.id, digest))
            if len(due) == limit:
                break
    return due


async def keep_catalogs_in_step(
    sessions: sessionmaker[Session],
    box: SecretBox,
    http: httpx.AsyncClient,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Provision again every connection whose catalog changed since; returns how many."""
    with sessions() as session:
        due = out_of_step(session)
    units = SessionUnits(sessions)
    for tenant_id, connection_id, digest in due:
        if not _lease(sessions, connection_id, clock()):
            continue
        try:
            await provision(units, box, tenant_id, connection_id, http)
        except ChannelRejectedError as exc:
            # The channel would refuse the same catalog again: a person changes it (here or
            # there). Recorded as sent, so it is not retried every pass; the next change of
            # innsync's catalog, or a manual provision, tries again.
            _refused(sessions, connection_id, digest, exc)
        except ChannelError as exc:
            # Unavailable or refused credentials: the digests still differ, so the next pass
            # tries again (the credentials' own failure shows on the ARI side).
            logger.warning(
                "keeping the catalog on the channel failed; retried next pass",
                extra={"connection_id": str(connection_id), "error": containment.describe(exc)},
            )
        except DomainError as exc:
            # Deleted or changed meanwhile (a config that cannot provision any more): the
            # next pass reads the connection afresh.
            logger.warning(
                "the catalog pass skipped a connection",
                extra={"connection_id": str(connection_id), "error": str(exc)},
            )
        finally:
            _release(sessions, connection_id)
    return len(due)


def _lease(sessions: sessionmaker[Session], connection_id: uuid.UUID, now: datetime) -> bool:
    """Take the connection for this pass, unless another process holds it."""
    with transaction(sessions) as session:
        taken = session.execute(
            update(Connection)
            .where(
                Connection.id == connection_id,
                or_(
                    Connection.catalog_lease_until.is_(None),
                    Connection.catalog_lease_until < now,
                ),
            )
            .values(catalog_lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0) == 1)


def _release(sessions: sessionmaker[Session], connection_id: uuid.UUID) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(catalog_lease_until=None)
            .execution_options(synchronize_session=False)
        )


def _refused(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    digest: str,
    exc: ChannelRejectedError,
) -> None:
    with transaction(sessions) as session:
        connection = session.get(Connection, connection_id, with_for_update=True)
        if connection is None:
            return
        connection.catalog_digest = digest
        containment.needs_attention(
            session, connection, f"the channel refused the catalog innsync sent: {exc}"
        )
