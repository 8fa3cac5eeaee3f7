"""``innsync alerts``: a tenant's alerts from the shell, and its own rule thresholds."""

from __future__ import annotations

import json

import click

from innsync.alerts.rules import RULE_NAMES
from innsync.db.engine import session_factory, transaction
from innsync.errors import DomainError
from innsync.settings import get_settings


@click.group("alerts")
def alerts() -> None:
    """Alerts opened by the rules the background loops evaluate."""


@alerts.command("list")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.option("--state", type=click.Choice(["open", "resolved"]), default=None)
@click.option("--rule", type=click.Choice(RULE_NAMES), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
def list_command(tenant_ref: str, state: str | None, rule: str | None, limit: int) -> None:
    """One line per alert, newest first: state, rule, subject, since when, its figures."""
    from innsync.alerts.service import list_alerts
    from innsync.cli.database import open_database
    from innsync.tenants.service import find_tenant

    engine = open_database(get_settings())
    try:
        with transaction(session_factory(engine)) as session:
            tenant_id = find_tenant(session, tenant_ref).id
            rows = list_alerts(session, tenant_id, state=state, rule=rule, limit=limit)
            lines = [
                f"{a.state:<8} {a.rule:<28} {a.subject_kind}:{a.subject_id} "
                f"opened {a.opened_at.isoformat()} "
                f"{'resolved ' + a.resolved_at.isoformat() if a.resolved_at else ''} "
                f"{json.dumps(a.details, sort_keys=True)}"
                for a in rows
            ]
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} alerts")


@alerts.command("threshold")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.option("--rule", type=click.Choice(RULE_NAMES), required=True)
@click.option("--value", type=float, default=None, help="Omit to return to the global setting.")
def threshold_command(tenant_ref: str, rule: str, value: float | None) -> None:
    """Set a tenant's own threshold for a rule (or remove it)."""
    from innsync.alerts.rules import AlertRule
    from innsync.alerts.service import set_threshold
    from innsync.cli.database import open_database
    from innsync.tenants.service import find_tenant

    engine = open_database(get_settings())
    try:
        with transaction(session_factory(engine)) as session:
            set_threshold(session, find_tenant(session, tenant_ref).id, AlertRule(rule), value)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"{rule}: {'global setting' if value is None else value}")
