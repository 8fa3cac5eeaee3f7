"""Tenants with properties, connections and users, built through the services (real rows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from innsync.connections import service as connections
from innsync.connections.models import Connection, ConnectionState
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.properties import service as properties
from innsync.properties.schemas import PropertyCreate
from innsync.settings import Settings
from innsync.tenants.service import create_tenant
from innsync.tenants.users import Passwords, create_user

PASSWORD = "correct horse battery staple"
# The lowest cost Argon2 takes: the suite signs in hundreds of times on a two-core machine,
# where the production default costs about a second per hash.
CHEAP = {"time_cost": 1, "memory_kib": 1024, "parallelism": 1}
PASSWORDS = Passwords(CHEAP["time_cost"], CHEAP["memory_kib"], CHEAP["parallelism"])


def admin_settings(**overrides: Any) -> Settings:
    """Settings for the admin over plain http in tests: the cookie may not be Secure, the
    API-key failure budget is off (tests/api covers it), Argon2 at its cheapest."""
    return Settings(
        database_url="sqlite://",
        background_loops=False,
        auth_failure_limit=0,
        admin_cookie_secure=False,
        password_hash_time_cost=CHEAP["time_cost"],
        password_hash_memory_kib=CHEAP["memory_kib"],
        password_hash_parallelism=CHEAP["parallelism"],
        **overrides,
    )


@dataclass
class Hotel:
    tenant_id: uuid.UUID
    property_ids: list[uuid.UUID] = field(default_factory=list)
    connection_ids: list[uuid.UUID] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)  # role -> e-mail


def build_hotel(
    sessions: sessionmaker[Session],
    box: SecretBox,
    name: str,
    properties_count: int = 1,
    connections_each: int = 1,
) -> Hotel:
    """A tenant with properties of connections (fake channel) and one user per role."""
    with transaction(sessions) as session:
        tenant, _key = create_tenant(session, name)
        hotel = Hotel(tenant.id)
        for index in range(properties_count):
            prop = properties.create_property(
                session,
                tenant.id,
                PropertyCreate(
                    name=f"{name} property {index + 1}",
                    timezone="Europe/Lisbon",
                    currency="EUR",
                    horizon_days=400,
                ),
            )
            hotel.property_ids.append(prop.id)
            for number in range(connections_each):
                created = connections.create_connection(
                    session,
                    box,
                    tenant.id,
                    prop.id,
                    ConnectionCreate(channel="fake", name=f"Channel {index + 1}.{number + 1}"),
                )
                hotel.connection_ids.append(created.id)
        slug = uuid.uuid4().hex[:8]
        for role in ("owner", "manager", "read_only"):
            email = f"{role}-{slug}@hotel.example"
            create_user(session, PASSWORDS, tenant.id, email, PASSWORD, role)
            hotel.emails[role] = email
    return hotel


def needs_attention(sessions: sessionmaker[Session], connection_id: uuid.UUID, reason: str) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(state=ConnectionState.NEEDS_ATTENTION, state_reason=reason)
        )
