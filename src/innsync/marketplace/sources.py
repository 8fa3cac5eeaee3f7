"""Setting and reading a property's ARI source: the one connection its ARI comes from."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.errors import FieldProblem, InvalidInputError
from innsync.marketplace.models import AriSource
from innsync.marketplace.schemas import AriSourceRead, AriSourceWrite
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property
from innsync.properties.service import get_owned


def source_of(session: Session, property_id: uuid.UUID) -> AriSource | None:
    return session.get(AriSource, property_id)


def set_ari_source(
    session: Session,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    data: AriSourceWrite,
    now: datetime,
) -> AriSourceRead:
    """Make ``data.connection_id`` the property's ARI source, or clear it (null).

    The connection must be one of this property's. It is owed the property's marketplace
    bookings (``push_bookings`` on) and is never sent its ARI back (its dirty marks go).
    The first pull is due at once.
    """
    prop = get_owned(session, Property, tenant_id, property_id)
    held = source_of(session, prop.id)
    if data.connection_id is None:
        if held is not None:
            session.delete(held)
            session.flush()
        return AriSourceRead(property_id=prop.id, connection_id=None)
    connection = session.get(Connection, data.connection_id)
    if connection is None or connection.tenant_id != tenant_id:
        raise InvalidInputError(
            "no such connection", [FieldProblem("/connection_id", "no such connection")]
        )
    if connection.property_id != prop.id:
        raise InvalidInputError(
            "the connection belongs to another property",
            [FieldProblem("/connection_id", "a connection of this property is needed")],
        )
    if held is None or held.connection_id != connection.id:
        if held is not None:
            session.delete(held)
            session.flush()
        held = AriSource(
            property_id=prop.id,
            tenant_id=tenant_id,
            connection_id=connection.id,
            next_pull_at=now,
            pull_error="",
            limiter_state={},
        )
        session.add(held)
    connection.push_bookings = True
    session.execute(delete(DirtyMark).where(DirtyMark.connection_id == connection.id))
    session.flush()
    return source_read(held)


def read_ari_source(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID
) -> AriSourceRead:
    prop = get_owned(session, Property, tenant_id, property_id)
    held = source_of(session, prop.id)
    if held is None:
        return AriSourceRead(property_id=prop.id, connection_id=None)
    return source_read(held)


def source_read(held: AriSource) -> AriSourceRead:
    return AriSourceRead(
        property_id=held.property_id,
        connection_id=held.connection_id,
        next_pull_at=held.next_pull_at,
        pulled_at=held.pulled_at,
        pull_error=held.pull_error,
    )


def source_by_connection(session: Session, connection_id: uuid.UUID) -> AriSource | None:
    return session.scalar(select(AriSource).where(AriSource.connection_id == connection_id))
