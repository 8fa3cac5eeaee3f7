"""``innsync connections``: provision a connection's hotel on its channel."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import click
import httpx
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.errors import ChannelError
from innsync.cli.database import open_database
from innsync.connections.schemas import ProvisionRead
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.errors import DomainError
from innsync.inbox.reconciliation import Report, Side
from innsync.outbound import OutboundPolicy, async_client
from innsync.settings import Settings, get_settings


@click.group("connections")
def connections() -> None:
    """Channel connections: provisioning, switches, the inbox, forced pulls, reconciliation."""


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


def _tenant_of(sessions: sessionmaker[Session], connection_id: uuid.UUID) -> uuid.UUID:
    """The tenant owning the connection (the operator acts in every tenant)."""
    from innsync.connections.models import Connection

    with sessions() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise click.ClickException(f"no connection {connection_id}")
        return connection.tenant_id


def _open() -> tuple[sessionmaker[Session], SecretBox, Settings]:
    """Sessions on the configured database, with the keys installed: inbox bodies and
    reservations hold guests' details, encrypted at rest."""
    from innsync.db.personal import install_keys
    from innsync.vault import secret_box_from

    settings = get_settings()
    box = secret_box_from(settings)
    install_keys(box)
    return session_factory(open_database(settings)), box, settings


@connections.command("inbox")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--state", type=click.Choice(["parked", "rejected"]), default=None)
@click.option("--since", type=click.DateTime(), default=None, help="Received at or after (UTC).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def inbox_command(
    connection_id: uuid.UUID, state: str | None, since: datetime | None, limit: int
) -> None:
    """List the connection's parked and rejected inbox items with their reasons."""
    from innsync.inbox import triage

    sessions, _, _ = _open()
    tenant_id = _tenant_of(sessions, connection_id)
    where = triage.InboxFilter(connection_id, (state,) if state else triage.WAITING, _utc(since))
    with sessions() as session:
        items = triage.list_items(session, tenant_id, where, None, limit)
        for item in items:
            mark = "" if triage.never_applies(item) is None else " (can never apply)"
            click.echo(
                f"{item.id:>8} {item.status:8} {item.source:7} "
                f"{item.received_at:%Y-%m-%d %H:%M} {item.reason}{mark}"
            )
    click.echo(f"{len(items)} items")


@connections.command("requeue")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--item", "item_ids", multiple=True, type=int, help="An item id (repeatable).")
@click.option("--state", type=click.Choice(["parked", "rejected"]), default=None)
@click.option("--since", type=click.DateTime(), default=None, help="Received at or after (UTC).")
def requeue_command(
    connection_id: uuid.UUID, item_ids: tuple[int, ...], state: str | None, since: datetime | None
) -> None:
    """Put parked (or rejected) items back to pending for the processor; audited as "cli"."""
    from innsync.connections.audit import CLI_ACTOR
    from innsync.db.engine import transaction
    from innsync.inbox import triage

    sessions, _, _ = _open()
    tenant_id = _tenant_of(sessions, connection_id)
    try:
        with transaction(sessions) as session:
            if item_ids:
                if state or since:
                    raise click.UsageError("give either --item or --state/--since, not both")
                result = triage.requeue_items(
                    session,
                    tenant_id,
                    CLI_ACTOR,
                    ids=list(item_ids),
                    where=triage.InboxFilter(connection_id),
                )
            else:
                where = triage.InboxFilter(
                    connection_id, (state,) if state else triage.WAITING, _utc(since)
                )
                result = triage.requeue_items(session, tenant_id, CLI_ACTOR, where=where)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{len(result.requeued)} requeued, {len(result.unchanged)} unchanged, "
        f"{len(result.refused)} can never apply"
    )
    for item_id, why in result.refused.items():
        click.echo(f"{item_id:>8} {why}")


@connections.command("pull-booking")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--booking", "channel_booking_id", required=True, help="The channel's booking id.")
def pull_booking_command(connection_id: uuid.UUID, channel_booking_id: str) -> None:
    """Read one booking from the channel and keep it in the inbox like any pull."""
    from innsync.api.deps import Database
    from innsync.connections.audit import CLI_ACTOR
    from innsync.connections.service import build_adapter
    from innsync.inbox.forced_pull import ForcedPull, pull_booking

    sessions, box, settings = _open()
    tenant_id = _tenant_of(sessions, connection_id)

    async def run() -> ForcedPull:
        outbound = OutboundPolicy.from_settings(settings)
        async with async_client(outbound, timeout=settings.channel_timeout_seconds) as http:
            return await pull_booking(
                Database(sessions),
                tenant_id,
                connection_id,
                channel_booking_id,
                lambda connection: build_adapter(connection, box, http, sessions),
                CLI_ACTOR,
            )

    try:
        pulled = asyncio.run(run())
    except (ChannelError, DomainError) as exc:
        raise click.ClickException(str(exc)) from exc
    said = "stored" if pulled.stored else "already in the inbox"
    click.echo(
        f"revision {pulled.revision_id} {said}: inbox item {pulled.inbox_item_id} ({pulled.status})"
    )


@connections.command("reconcile")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]))
def reconcile_command(connection_id: uuid.UUID, date_from: datetime, date_to: datetime) -> None:
    """Bookings the channel has that innsync does not, the reverse, and those that differ,
    arriving from --from to --to (both included)."""
    from innsync.api.deps import Database
    from innsync.connections.service import build_adapter
    from innsync.inbox.reconciliation import reconcile
    from innsync.stay_dates import DateRange

    if date_to < date_from:
        raise click.UsageError("--to must not be before --from")
    sessions, box, settings = _open()
    tenant_id = _tenant_of(sessions, connection_id)
    arrivals = DateRange.inclusive(date_from.date(), date_to.date())

    async def run() -> Report:
        outbound = OutboundPolicy.from_settings(settings)
        async with async_client(outbound, timeout=settings.channel_timeout_seconds) as http:
            return await reconcile(
                Database(sessions),
                tenant_id,
                connection_id,
                arrivals,
                lambda connection: build_adapter(connection, box, http, sessions),
            )

    try:
        report = asyncio.run(run())
    except (ChannelError, DomainError) as exc:
        raise click.ClickException(str(exc)) from exc
    for line in describe_report(report):
        click.echo(line)


def describe_report(report: Report) -> list[str]:
    """One line per finding, then the counts."""
    lines = []
    for title, findings in (
        ("missing in innsync", report.missing_in_innsync),
        ("missing on the channel", report.missing_on_channel),
        ("differing", report.differing),
    ):
        for finding in findings:
            theirs, ours = finding.channel, finding.innsync
            lines.append(
                f"{title}: {finding.channel_booking_id} "
                f"channel={_side(theirs)} innsync={_side(ours)} "
                f"({', '.join(finding.differences)})"
            )
    lines.append(
        f"{report.channel_bookings} on the channel, {report.innsync_bookings} in innsync: "
        f"{len(report.missing_in_innsync)} missing in innsync, "
        f"{len(report.missing_on_channel)} missing on the channel, "
        f"{len(report.differing)} differing"
    )
    return lines


def _side(side: Side | None) -> str:
    if side is None:
        return "-"
    return f"{side.status} {side.arrival}..{side.departure}"


@connections.command("switch")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--push/--no-push", default=None, help="Pause or resume pushes.")
@click.option("--pull/--no-pull", default=None, help="Pause or resume pulls.")
@click.option("--shadow/--no-shadow", default=None, help="Shadow mode on or off.")
def switch_command(
    connection_id: uuid.UUID, push: bool | None, pull: bool | None, shadow: bool | None
) -> None:
    """Flip a connection's switches; each change is audited as "cli"."""
    from innsync.connections.audit import CLI_ACTOR
    from innsync.connections.schemas import ConnectionUpdate
    from innsync.connections.service import update_connection
    from innsync.db.engine import transaction

    sessions, box, _ = _open()
    tenant_id = _tenant_of(sessions, connection_id)
    change = ConnectionUpdate(push_enabled=push, pull_enabled=pull, shadow_mode=shadow)
    try:
        with transaction(sessions) as session:
            connection = update_connection(
                session, box, tenant_id, connection_id, change, CLI_ACTOR
            )
            shown = (
                f"push={'on' if connection.push_enabled else 'off'} "
                f"pull={'on' if connection.pull_enabled else 'off'} "
                f"shadow={'on' if connection.shadow_mode else 'off'}"
            )
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(shown)


def _utc(moment: datetime | None) -> datetime | None:
    """Command-line times are UTC."""
    return None if moment is None else moment.replace(tzinfo=UTC)
