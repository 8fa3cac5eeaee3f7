"""``innsync connections``: provision a connection's hotel on its channel."""

from __future__ import annotations

import asyncio
import uuid

import click
import httpx
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.errors import ChannelError
from innsync.cli.database import open_database
from innsync.connections.schemas import ProvisionRead
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.errors import DomainError
from innsync.outbound import OutboundPolicy, async_client
from innsync.settings import get_settings


@click.group("connections")
def connections() -> None:
    """Channel connections: provisioning."""


async def provision_connection(
    sessions: sessionmaker[Session],
    box: SecretBox,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
) -> ProvisionRead:
    """Provision one connection, whichever tenant owns it (the operator's view)."""
    from innsync.api.deps import Database
    from innsync.connections.models import Connection
    from innsync.connections.provisioning import provision

    with sessions() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise click.ClickException(f"no connection {connection_id}")
        tenant_id = connection.tenant_id
    return await provision(Database(sessions), box, tenant_id, connection_id, http)


def describe(report: ProvisionRead) -> list[str]:
    """One line per item, then the counts: what an operator reads after provisioning."""
    lines = [
        f"{item.action:8} {item.kind:9} {item.title!r} -> {item.remote_id}"
        + (f" ({', '.join(item.changed)})" if item.changed else "")
        for item in report.items
    ]
    lines.append(
        f"property {report.remote_property_id}: {report.created} created, "
        f"{report.updated} updated, {report.matched} unchanged; "
        f"{len(report.mappings.room_types)} room types and "
        f"{len(report.mappings.rate_plans)} rate plans mapped"
    )
    return lines


@connections.command("provision")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
def provision_command(connection_id: uuid.UUID) -> None:
    """Create or match the property, room types and rate plans on the channel; map them."""
    from innsync.vault import secret_box_from

    settings = get_settings()
    engine = open_database(settings)

    async def run() -> ProvisionRead:
        outbound = OutboundPolicy.from_settings(settings)
        async with async_client(outbound, timeout=settings.channel_timeout_seconds) as http:
            return await provision_connection(
                session_factory(engine), secret_box_from(settings), connection_id, http
            )

    try:
        report = asyncio.run(run())
    except (ChannelError, DomainError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    for line in describe(report):
        click.echo(line)
