"""The connections page: every connection of the tenant with its switches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.properties.models import Property

# The switches a form may flip, as the connection's column names (ConnectionUpdate fields).
SWITCHES = {
    "push_enabled": "Push ARI",
    "pull_enabled": "Pull bookings",
    "webhook_enabled": "Webhooks",
    # Computes and logs what would be sent without sending (docs/operations.md).
    "shadow_mode": "Shadow mode",
}


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    id: uuid.UUID
    name: str
    channel: str
    property_name: str
    state: str
    reason: str
    switches: dict[str, bool]


def list_rows(session: Session, tenant_id: uuid.UUID) -> list[ConnectionRow]:
    """One query: the tenant's connections with their property's name, by property then name."""
    rows = session.execute(
        select(Connection, Property.name)
        .join(Property, Property.id == Connection.property_id)
        .where(Connection.tenant_id == tenant_id, Property.tenant_id == tenant_id)
        .order_by(Property.name, Connection.name, Connection.id)
    )
    return [
        ConnectionRow(
            id=connection.id,
            name=connection.name,
            channel=connection.channel,
            property_name=property_name,
            state=connection.state.replace("_", " "),
            reason=connection.state_reason,
            switches={name: bool(getattr(connection, name)) for name in SWITCHES},
        )
        for connection, property_name in rows
    ]
