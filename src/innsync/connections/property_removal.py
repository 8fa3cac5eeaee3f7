"""Deleting a property: refused while anything a hotel still uses hangs on it, else complete.

What blocks (409, each named): room types (and with them rate plans, units, calendars), bookings
and connections that are not disconnected. What goes with the property: its disconnected
connections with their history (sync log, inbox, dead letters, acknowledged state, credentials,
iCal feeds) and its reservation counter. The tenant's event feed keeps what it told the PMS.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection, ConnectionState
from innsync.errors import ConflictError
from innsync.properties.models import Property, RoomType
from innsync.properties.service import get_owned
from innsync.reservations.models import Reservation, ReservationSequence
from innsync.schema import metadata


def delete_property(session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID) -> None:
    """Delete the property and what only it owned, or answer 409 with what blocks it."""
    prop = get_owned(session, Property, tenant_id, property_id)
    blockers = _blockers(session, prop.id)
    if blockers:
        raise ConflictError(
            f"the property still has {'; '.join(blockers)}: delete the room types, cancel and "
            "keep or move the bookings elsewhere, and disconnect the channels first"
        )
    connections = select(Connection.id).where(Connection.property_id == prop.id)
    connection_ids = list(session.scalars(connections))
    if connection_ids:
        for table, column in _rows_of_connections():
            session.execute(delete(table).where(table.c[column].in_(connection_ids)))
        session.execute(delete(Connection).where(Connection.id.in_(connection_ids)))
    session.execute(delete(ReservationSequence).where(ReservationSequence.property_id == prop.id))
    session.delete(prop)


def _blockers(session: Session, property_id: uuid.UUID) -> list[str]:
    def count(model: type[RoomType] | type[Reservation]) -> int:
        query = select(func.count()).select_from(model).where(model.property_id == property_id)
        return session.scalar(query) or 0

    found = []
    if room_types := count(RoomType):
        found.append(_plural(room_types, "room type"))
    if reservations := count(Reservation):
        found.append(_plural(reservations, "reservation"))
    live = session.execute(
        select(Connection.channel, Connection.name)
        .where(Connection.property_id == property_id)
        .where(Connection.state != ConnectionState.DISABLED)
        .order_by(Connection.created_at)
    ).all()
    if live:
        names = ", ".join(f"{name!r} ({channel})" for channel, name in live)
        found.append(f"{_plural(len(live), 'connection')} not disconnected: {names}")
    return found


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _rows_of_connections() -> list[tuple[Table, str]]:
    """Every table with a foreign key to a connection, found in the schema so that a table added
    later goes with its connection too (none of them is referenced in turn)."""
    connections = Connection.__table__
    return [
        (table, fk.parent.name)
        for table in reversed(metadata.sorted_tables)
        for fk in table.foreign_keys
        if fk.column.table is connections and table is not connections
    ]
