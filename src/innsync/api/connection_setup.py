"""Creating a connection or changing its config, tested with the channel first.

One flow for the JSON API and the admin's forms: the operator's rules (``connections.guard``),
the channel's connection test with the new config, then the write, keeping what the channel
issued during the test (an invite code is single use, so the refresh token it gave is the only
way in afterwards).
"""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from innsync.api.channel_calls import ChannelCallError
from innsync.channels.contract import ChannelAdapter
from innsync.channels.credentials import InMemoryCredentialStore
from innsync.channels.errors import ChannelAuthError, ChannelError, ChannelUnavailableError
from innsync.connections import service
from innsync.connections.credentials import keep_credentials
from innsync.connections.guard import ConnectionRules
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate, ConnectionRead, ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.units import UnitsOfWork
from innsync.properties.service import get_owned


async def tested(adapter: ChannelAdapter) -> None:
    """Run the adapter's connection test; a failure is a clear problem and nothing is stored."""
    try:
        await adapter.test_connection()
    except ChannelAuthError as exc:
        raise ChannelCallError(
            422,
            "Channel refused the credentials",
            f"{exc}; nothing was stored: fix the credentials (or send ?test=false to store "
            "them untested)",
        ) from exc
    except ChannelUnavailableError as exc:
        hint = "" if exc.retry_after is None else f"; retry after {exc.retry_after:.0f} s"
        raise ChannelCallError(
            503,
            "Channel unavailable",
            f"{exc}{hint}; nothing was stored (send ?test=false to store it untested)",
        ) from exc
    except ChannelError as exc:
        raise ChannelCallError(
            422,
            "Channel refused the connection test",
            f"{exc}; nothing was stored (send ?test=false to store it untested)",
        ) from exc


async def create_tested(
    db: UnitsOfWork,
    box: SecretBox,
    rules: ConnectionRules,
    http: httpx.AsyncClient,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    data: ConnectionCreate,
    test: bool = True,
) -> ConnectionRead:
    """Connect a property to a channel: checked, tested (unless ``test`` is off), stored."""
    await run_in_threadpool(rules.check, data.channel, data.config)
    obtained = InMemoryCredentialStore()
    if test:
        adapter = await db.read(
            lambda s: service.adapter_for_new(s, box, tenant_id, property_id, data, http, obtained)
        )
        await tested(adapter)

    def create(session: Session) -> ConnectionRead:
        connection = service.create_connection(session, box, tenant_id, property_id, data)
        keep_credentials(session, box, connection.id, obtained.held())
        return service.connection_read(session, box, connection)

    return await db.write(create)


async def update_tested(
    db: UnitsOfWork,
    box: SecretBox,
    rules: ConnectionRules,
    http: httpx.AsyncClient,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    data: ConnectionUpdate,
    actor: str,
    test: bool = True,
) -> ConnectionRead:
    """Change a connection; a changed config is checked and tested first, as on creation."""
    if data.config is not None:
        given = data.config
        channel = await db.read(
            lambda s: get_owned(s, Connection, tenant_id, connection_id).channel
        )
        await run_in_threadpool(rules.check, channel, given)
    obtained = InMemoryCredentialStore()
    if test and data.config is not None:
        patch = data.config
        adapter = await db.read(
            lambda s: service.adapter_for_patch(
                s, box, tenant_id, connection_id, patch, http, obtained
            )
        )
        await tested(adapter)

    def update(session: Session) -> ConnectionRead:
        connection = service.update_connection(session, box, tenant_id, connection_id, data, actor)
        keep_credentials(session, box, connection.id, obtained.held())
        return service.connection_read(session, box, connection)

    return await db.write(update)
