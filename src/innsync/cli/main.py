"""``innsync``: serve, migrate, manage tenants and run simulators."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta

import click
import uvicorn

from innsync.cli.accounts import accounts as accounts_group
from innsync.cli.alerts import alerts as alerts_group
from innsync.cli.backup import backup as backup_group
from innsync.cli.bench import bench_command
from innsync.cli.connections import connections as connections_group
from innsync.cli.database import open_database
from innsync.cli.demo import demo
from innsync.cli.guests import guests as guests_group
from innsync.db.engine import session_factory, transaction
from innsync.db.migrate import upgrade
from innsync.errors import DomainError
from innsync.logging import configure_logging
from innsync.settings import get_settings
from innsync.tenants.service import SCOPES, create_tenant, find_tenant, issue_key, list_tenants
from innsync.tenants.users import ROLES, Passwords, Role, create_user


@click.group()
@click.version_option(package_name="innsync")
def cli() -> None:
    """innsync: keep every channel in step with your hotel, and every booking exactly once."""


@cli.command()
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def migrate(quiet: bool) -> None:
    """Bring the database schema to the newest version."""
    settings = get_settings()
    engine = open_database(settings, may_create=True)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    if not quiet:
        click.echo("database at the newest schema")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-migrate", is_flag=True, help="Do not migrate the database on start.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (about one per core).",
)
def serve(host: str, port: int, no_migrate: bool, workers: int) -> None:
    """Run the API and the background loops (in one process, or in --workers processes)."""
    from innsync.api.app import create_app
    from innsync.api.server import serve_processes, server_config, settle_heap

    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    engine = open_database(settings, may_create=not no_migrate)
    if not no_migrate:
        upgrade(engine)
    if workers > 1:
        engine.dispose()  # each process opens its own
        if settings.database_url.startswith("sqlite"):
            click.echo(
                f"SQLite: {workers} processes share one write lock (webhooks are committed in "
                "groups per process); the background loops run in process 0 only",
                err=True,
            )
        click.echo(f"innsync serving on http://{host}:{port} with {workers} processes")
        serve_processes(settings, host, port, workers)
        return
    app = create_app(settings, engine=engine)
    if settings.development_mode:
        click.echo(
            "DEVELOPMENT MODE: tenant URLs may reach this machine and the fake channel is "
            "offered; never run a production installation like this",
            err=True,
        )
    click.echo(f"innsync serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    settle_heap()
    uvicorn.Server(server_config(app, settings, host, port)).run()


@cli.group()
def tenant() -> None:
    """Manage tenants."""


@tenant.command("create")
@click.option("--name", required=True, help="The organization's name.")
def tenant_create(name: str) -> None:
    """Create a tenant; its admin API key is the last line printed (shown only once)."""
    settings = get_settings()
    engine = open_database(settings)
    upgrade(engine)
    try:
        with transaction(session_factory(engine)) as session:
            created, issued = create_tenant(session, name)
            tenant_id = created.id
    finally:
        engine.dispose()
    click.echo(f"tenant {tenant_id} created: {name}")
    click.echo("admin API key (store it now; it is not shown again):")
    click.echo(issued.secret)


@tenant.command("list")
def tenant_list() -> None:
    """List every tenant: id, name, when it was created and how many keys are active."""
    engine = open_database(get_settings())
    try:
        with session_factory(engine)() as session:
            tenants = list_tenants(session)
    finally:
        engine.dispose()
    if not tenants:
        click.echo("no tenants yet: `innsync tenant create --name NAME` makes one")
    for summary in tenants:
        click.echo(
            f"{summary.id}  {summary.name}  created {summary.created_at:%Y-%m-%d %H:%M}Z  "
            f"{summary.active_keys} active key(s)"
        )


@cli.group()
def user() -> None:
    """Manage the people who sign in to the admin pages (/admin)."""


@user.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.option("--email", required=True, help="Signs in with this; unique across all tenants.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in ROLES]),
    default=Role.OWNER.value,
    show_default=True,
    help="owner and manager change things; read_only only looks.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)
def user_create(tenant_ref: str, email: str, role: str, password_stdin: bool) -> None:
    """Create a user. The password is asked for (or read from standard input), never taken
    from the command line, where the shell history and the process list would keep it."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = get_settings()
    engine = open_database(settings)
    upgrade(engine)
    try:
        with transaction(session_factory(engine)) as session:
            tenant_id = find_tenant(session, tenant_ref).id
            passwords = Passwords.from_settings(settings)
            created = create_user(session, passwords, tenant_id, email, password, role)
            address, user_id = created.email, created.id
    except DomainError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        engine.dispose()
    click.echo(f"user {user_id} created: {address} ({role}) in tenant {tenant_id}")


@cli.group()
def simulate() -> None:
    """Run a channel simulator (a stand-in for the real channel's API, for tests and demos).

    innsync reaches a simulator on this machine only in development mode
    (INNSYNC_DEVELOPMENT_MODE=true for `innsync serve`): loopback URLs are refused otherwise.
    """
    click.echo(
        "innsync reaches this simulator only when it runs with INNSYNC_DEVELOPMENT_MODE=true "
        "(the outbound policy refuses loopback otherwise)",
        err=True,
    )


@simulate.command("channex")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=int)
@click.option(
    "--seed", default=None, type=int, help="Make generated bookings and faults repeatable."
)
def simulate_channex(host: str, port: int, seed: int | None) -> None:
    """The Channex API v1 simulator; inspection endpoints live under /_sim/."""
    from innsync.simulators.channex.app import run
    from innsync.simulators.channex.config import SimulatorConfig

    config = SimulatorConfig() if seed is None else SimulatorConfig(seed=seed)
    click.echo(f"Channex simulator on http://{host}:{port} (user-api-key: {config.api_keys[0]})")
    click.echo(f"inspect what it received: http://{host}:{port}/_sim/requests")
    run(host, port, config)


@simulate.command("aiosell")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8091, show_default=True, type=int)
@click.option("--seed", default=None, type=int, help="Make bookings and faults repeatable.")
@click.option("--webhook-url", default=None, help="The PMS URL reservations are posted to.")
@click.option("--webhook-user", default=None, help="Basic auth user sent with reservation pushes.")
@click.option(
    "--webhook-password",
    default=None,
    envvar="INNSYNC_SIM_AIOSELL_WEBHOOK_PASSWORD",
    help="Basic auth password sent with reservation pushes (better from the environment).",
)
def simulate_aiosell(
    host: str,
    port: int,
    seed: int | None,
    webhook_url: str | None,
    webhook_user: str | None,
    webhook_password: str | None,
) -> None:
    """The Aiosell channel manager API simulator; inspection endpoints live under /_sim/.

    With --webhook-user/--webhook-password set to a connection's webhook_username and
    webhook_password, its reservation pushes to innsync's /hooks URL are stored and answered.
    """
    from innsync.simulators.aiosell.app import run
    from innsync.simulators.aiosell.config import SimulatorConfig

    config = SimulatorConfig(
        seed=seed or 0,
        webhook_url=webhook_url,
        webhook_username=webhook_user
        if webhook_user is not None or webhook_password is None
        else "",
        webhook_password=webhook_password,
    )
    click.echo(f"Aiosell simulator on http://{host}:{port} (Basic {config.username}:***)")
    run(host, port, config)


@simulate.command("beds24")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8092, show_default=True, type=int)
@click.option("--seed", default=None, type=int, help="Make bookings and faults repeatable.")
@click.option("--webhook-url", default=None, help="The URL booking webhooks are posted to.")
@click.option(
    "--webhook-header",
    default="",
    help='The customHeader line sent with webhooks, e.g. "X-Innsync-Webhook-Secret: s3cret".',
)
def simulate_beds24(
    host: str, port: int, seed: int | None, webhook_url: str | None, webhook_header: str
) -> None:
    """The Beds24 API V2 simulator (under /v2); inspection endpoints live under /_sim/."""
    from innsync.simulators.beds24.app import run
    from innsync.simulators.beds24.config import SimulatorConfig

    config = SimulatorConfig(
        seed=seed or 0, webhook_url=webhook_url, webhook_custom_header=webhook_header
    )
    click.echo(
        f"Beds24 simulator on http://{host}:{port}/v2 "
        f"(invite codes: {', '.join(config.invite_codes)})"
    )
    click.echo(f"inspect what it received: http://{host}:{port}/_sim/requests")
    run(host, port, config)


@simulate.command("booking_com")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8093, show_default=True, type=int)
@click.option("--seed", default=None, type=int, help="Make bookings and faults repeatable.")
@click.option(
    "--response-tokens", is_flag=True, help="Hand out response tokens (ota_res_response_token)."
)
def simulate_booking_com(host: str, port: int, seed: int | None, response_tokens: bool) -> None:
    """The Booking.com Connectivity API (OTA XML) simulator; inspection under /_sim/."""
    from innsync.simulators.booking_com.app import run
    from innsync.simulators.booking_com.config import SimulatorConfig

    config = SimulatorConfig(seed=seed or 0, response_tokens=response_tokens)
    click.echo(f"Booking.com simulator on http://{host}:{port} (client id {config.client_id})")
    click.echo(f"token exchange: http://{host}:{port}/token-based-authentication/exchange")
    run(host, port, config)


@simulate.command("expedia")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8095, show_default=True, type=int)
@click.option("--seed", default=None, type=int, help="Make bookings and faults repeatable.")
def simulate_expedia(host: str, port: int, seed: int | None) -> None:
    """The Expedia QuickConnect simulator (AR, BR, BC); inspection under /_sim/."""
    from innsync.simulators.expedia.app import run
    from innsync.simulators.expedia.config import SimulatorConfig

    config = SimulatorConfig(seed=seed or 0)
    hotels = ", ".join(hotel.hotel_id for hotel in config.hotels)
    click.echo(f"Expedia QuickConnect simulator on http://{host}:{port}/connect/{{ar,br,bc}}")
    click.echo(f"hotels {hotels}; passwords {', '.join(config.passwords)}; any username")
    run(host, port, config)


@simulate.command("agoda")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8096, show_default=True, type=int)
@click.option("--seed", default=None, type=int, help="Make bookings and faults repeatable.")
@click.option("--hint-url", default=None, help="Where to push BookingHints (innsync's /hooks/...).")
def simulate_agoda(host: str, port: int, seed: int | None, hint_url: str | None) -> None:
    """The Agoda YCS5 supply API (XML) simulator; inspection under /_sim/."""
    from innsync.simulators.agoda.app import run
    from innsync.simulators.agoda.config import SimulatorConfig

    config = SimulatorConfig(seed=seed or 0, hint_url=hint_url)
    click.echo(f"Agoda simulator on http://{host}:{port}/api?apiKey={config.api_key}")
    click.echo(f"inspect what it received: http://{host}:{port}/_sim/requests")
    run(host, port, config)


@simulate.command("octorate")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8097, show_default=True, type=int)
@click.option(
    "--seed", default=None, type=int, help="Make tokens, decisions and faults repeatable."
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="The app's OAuth redirect URI (repeatable); none accepts any.",
)
@click.option(
    "--decision-seconds",
    default=None,
    type=float,
    help="How long the hotel takes to confirm or reject a pushed reservation.",
)
@click.option(
    "--rejection-ratio", default=0.0, show_default=True, type=float, help="Share rejected."
)
def simulate_octorate(
    host: str,
    port: int,
    seed: int | None,
    redirect_uris: tuple[str, ...],
    decision_seconds: float | None,
    rejection_ratio: float,
) -> None:
    """The Octorate Connect API simulator (innsync on the OTA side); inspection under /_sim/."""
    from innsync.simulators.octorate.app import run
    from innsync.simulators.octorate.config import SimulatorConfig

    if not 0.0 <= rejection_ratio <= 1.0:
        raise click.BadParameter("must be from 0 to 1", param_hint="--rejection-ratio")
    defaults = SimulatorConfig()
    config = SimulatorConfig(
        seed=seed or 0,
        redirect_uris=redirect_uris,
        hotel_rejection_ratio=rejection_ratio,
        hotel_decision_delay_seconds=defaults.hotel_decision_delay_seconds
        if decision_seconds is None
        else decision_seconds,
    )
    click.echo(
        f"Octorate simulator on http://{host}:{port}/connect/rest/v1 (client id {config.client_id})"
    )
    click.echo(
        f"owners sign in at http://{host}:{port}/octobook/identity/oauth.xhtml "
        f"({', '.join(owner.username for owner in config.owners)})"
    )
    click.echo(f"inspect what it received: http://{host}:{port}/_sim/requests")
    run(host, port, config)


@simulate.command("ical")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8094, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int, help="Repeatable ids and faults.")
@click.option(
    "--poll-seconds",
    default=None,
    type=float,
    help="Poll every listing's import URL (innsync's export) this often; unset: on /_sim/tick.",
)
def simulate_ical(host: str, port: int, seed: int, poll_seconds: float | None) -> None:
    """Airbnb- and Vrbo-style iCal feeds, and their polls of innsync's exports (/_sim/)."""
    from innsync.simulators.ical.app import run
    from innsync.simulators.ical.config import SimulatorConfig

    click.echo(f"iCal simulator on http://{host}:{port}; add listings at POST /_sim/listings")
    run(host, port, SimulatorConfig(seed=seed, pump_interval_seconds=poll_seconds))


@cli.command()
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this worker's Prometheus metrics on this port (/metrics) [default: none].",
)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
def worker(metrics_port: int | None, metrics_host: str) -> None:
    """Run only the background work (outbound sync, inbound inbox, pulls and acknowledgements,
    event delivery, schedules): add these to scale out."""
    import signal
    import threading

    from innsync.db.engine import session_factory as factory
    from innsync.loops import BackgroundLoops
    from innsync.vault import secret_box_from

    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    engine = open_database(settings)
    loops = BackgroundLoops(factory(engine), secret_box_from(settings), settings)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    if metrics_port is not None:
        # Counters are per process: a worker's pushes and pulls are only seen on its own port.
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)
        click.echo(f"metrics on http://{metrics_host}:{metrics_port}/metrics")
    loops.start()
    click.echo("innsync worker running; Ctrl-C to stop")
    stopped.wait()
    loops.stop()


@cli.group()
def sync() -> None:
    """Outbound sync: full syncs and dead letters."""


@sync.command("full")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Show progress until done.")
@click.option("--timeout", default=3600, show_default=True, type=int, help="Seconds to wait.")
def sync_full(connection_id: uuid.UUID, wait: bool, timeout: int) -> None:
    """Send everything of a connection again; a running worker (serve or worker) sends it."""
    import time

    from innsync.connections.models import Connection
    from innsync.connections.service import start_full_sync
    from innsync.sync.state import pending_marks

    settings = get_settings()
    sessions = session_factory(open_database(settings))
    with transaction(sessions) as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise click.ClickException(f"no connection {connection_id}")
        subjects, dates = start_full_sync(session, connection)
    click.echo(
        f"full sync of {subjects} mapped room types and rate plans, {dates.start} to {dates.last}"
    )
    if not wait:
        return
    with sessions() as session:
        total = max(pending_marks(session, connection_id), 1)
    deadline = time.monotonic() + timeout
    with click.progressbar(length=total, label="sending") as bar:
        done = 0
        while done < total:
            with sessions() as session:
                remaining = pending_marks(session, connection_id)
            bar.update(max(total - remaining - done, 0))
            done = max(done, total - remaining)
            if remaining == 0:
                break
            if time.monotonic() > deadline:
                raise click.ClickException(
                    "timed out: is a worker running (innsync serve or worker)?"
                )
            time.sleep(1)
    click.echo("done: the channel has acknowledged everything")


@sync.command("replay-dead-letters")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
@click.option("--kind", type=click.Choice(["availability", "rates"]), default=None)
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Only letters whose stay dates reach this date or later.",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Only letters whose stay dates start on or before this date.",
)
@click.option("--error-text", default=None, help="The channel's reason contains it (any case).")
@click.option(
    "--since", type=click.DateTime(), default=None, help="Refused at or after this time (UTC)."
)
def sync_replay(
    connection_id: uuid.UUID,
    kind: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    error_text: str | None,
    since: datetime | None,
) -> None:
    """Mark the dates of refused entries dirty again, after fixing their cause; the filters
    choose which (all unreplayed ones without)."""

    from innsync.connections.models import Connection
    from innsync.connections.service import replay_dead_letters
    from innsync.sync.dead_letters import DeadLetterFilter

    where = DeadLetterFilter(
        kind=kind,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() + timedelta(days=1) if date_to else None,
        error_text=error_text,
        created_since=since.replace(tzinfo=UTC) if since else None,
    )
    settings = get_settings()
    sessions = session_factory(open_database(settings))
    with transaction(sessions) as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise click.ClickException(f"no connection {connection_id}")
        count = replay_dead_letters(session, connection.tenant_id, connection_id, where)
    click.echo(f"{count} dead letters replayed")


@sync.command("audit")
@click.option("--connection", "connection_id", required=True, type=click.UUID)
def sync_audit(connection_id: uuid.UUID) -> None:
    """Read back what the channel shows, compare with what it acknowledged, queue repairs."""
    import asyncio

    from innsync.connections.models import Connection
    from innsync.connections.service import build_adapter
    from innsync.outbound import OutboundPolicy, async_client
    from innsync.sync.drift import audit_connection
    from innsync.vault import secret_box_from

    settings = get_settings()
    sessions = session_factory(open_database(settings))
    box = secret_box_from(settings)
    with sessions() as session:
        connection = session.get(Connection, connection_id)
        if connection is None:
            raise click.ClickException(f"no connection {connection_id}")

    async def audit() -> str:
        outbound = OutboundPolicy.from_settings(settings)
        async with async_client(outbound, timeout=settings.channel_timeout_seconds) as http:
            adapter = build_adapter(connection, box, http)
            try:
                report = await audit_connection(sessions, connection_id, adapter)
            except TypeError as exc:
                raise click.ClickException(str(exc)) from exc
        return (
            f"drift: {report.availability_dates} availability dates and {report.rate_dates} "
            "rate dates differ; queued for repair"
        )

    click.echo(asyncio.run(audit()))


@cli.group()
def keys() -> None:
    """Tenants' API keys, and the encryption keys for secrets at rest."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key; put it first in INNSYNC_SECRET_KEYS, then run `innsync keys rotate`."""
    from innsync.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret with the first key of INNSYNC_SECRET_KEYS."""
    from innsync.rotation import rotate_secrets
    from innsync.vault import secret_box_from

    settings = get_settings()
    sessions = session_factory(open_database(settings))
    with transaction(sessions) as session:
        count = rotate_secrets(session, secret_box_from(settings))
    click.echo(f"{count} secrets re-encrypted with the newest key; older keys can now be removed")


@keys.command("create")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.option("--name", default="admin key (CLI)", show_default=True, help="What the key is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=["admin"],
    show_default=True,
    help="Repeat for several scopes.",
)
@click.option(
    "--expires-in-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="The key is refused after this many days; omitted: it never expires.",
)
def keys_create(
    tenant_ref: str, name: str, scopes: tuple[str, ...], expires_in_days: float | None
) -> None:
    """Issue an API key for a tenant (e.g. to replace a lost admin key); the key is the last line
    printed, shown only once. Revoke the lost one with DELETE /api/v1/api-keys/{id}."""
    expires_at = (
        None if expires_in_days is None else datetime.now(UTC) + timedelta(days=expires_in_days)
    )
    engine = open_database(get_settings())
    try:
        with transaction(session_factory(engine)) as session:
            found = find_tenant(session, tenant_ref)
            issued = issue_key(
                session, found.id, name=name, scopes=list(scopes), expires_at=expires_at
            )
            tenant_id, tenant_name, key_id = found.id, found.name, issued.key.id
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"key {key_id} ({', '.join(sorted(scopes))}) issued to {tenant_name} ({tenant_id})")
    if expires_at is not None:
        click.echo(f"it expires at {expires_at.isoformat(timespec='seconds')}")
    click.echo("API key (store it now; it is not shown again):")
    click.echo(issued.secret)


cli.add_command(bench_command())


cli.add_command(accounts_group)
cli.add_command(backup_group)
cli.add_command(connections_group)
cli.add_command(demo)
cli.add_command(guests_group)
cli.add_command(alerts_group)
