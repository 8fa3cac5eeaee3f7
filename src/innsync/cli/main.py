"""``innsync``: serve, migrate, manage tenants and run simulators."""

from __future__ import annotations

import click
import uvicorn

from innsync.db.engine import build_engine, session_factory, transaction
from innsync.db.migrate import upgrade
from innsync.logging import configure_logging
from innsync.settings import get_settings
from innsync.tenants.service import create_tenant


@click.group()
@click.version_option(package_name="innsync")
def cli() -> None:
    """innsync: keep every channel in step with your hotel, and every booking exactly once."""


@cli.command()
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def migrate(quiet: bool) -> None:
    """Bring the database schema to the newest version."""
    settings = get_settings()
    engine = build_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    if not quiet:
        click.echo(
            f"database at the newest schema: {engine.url.render_as_string(hide_password=True)}"
        )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-migrate", is_flag=True, help="Do not migrate the database on start.")
def serve(host: str, port: int, no_migrate: bool) -> None:
    """Run the API and the background loops in one process."""
    from innsync.api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    engine = build_engine(settings.database_url)
    if not no_migrate:
        upgrade(engine)
    app = create_app(settings, engine=engine)
    click.echo(f"innsync serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


@cli.group()
def tenant() -> None:
    """Manage tenants."""


@tenant.command("create")
@click.option("--name", required=True, help="The organization's name.")
def tenant_create(name: str) -> None:
    """Create a tenant; its admin API key is the last line printed (shown only once)."""
    settings = get_settings()
    engine = build_engine(settings.database_url)
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


@cli.group()
def simulate() -> None:
    """Run a channel simulator (a stand-in for the real channel's API, for tests and demos)."""


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
