"""``innsync alerts``: a tenant's alerts from the shell, its own rule thresholds, and who is
notified of them (``innsync alerts notify``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from innsync.alerts.rules import RULE_NAMES
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.errors import DomainError
from innsync.settings import get_settings

T = TypeVar("T")


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


@alerts.group("notify")
def notify_group() -> None:
    """Who is told about a tenant's alerts: e-mail, signed webhook or Slack-compatible webhook."""


def _with_tenant(tenant_ref: str, work: Callable[[Session, SecretBox, uuid.UUID], T]) -> T:
    """Run one use-case for the tenant in one committed transaction; domain errors read well."""
    from innsync.cli.database import open_database
    from innsync.tenants.service import find_tenant
    from innsync.vault import secret_box_from

    settings = get_settings()
    engine = open_database(settings)
    try:
        box = secret_box_from(settings)
        with transaction(session_factory(engine)) as session:
            return work(session, box, find_tenant(session, tenant_ref).id)
    except DomainError as exc:
        problems = "".join(f"\n  {p.pointer}: {p.detail}" for p in exc.problems)
        raise click.ClickException(f"{exc.detail}{problems}") from exc
    finally:
        engine.dispose()


@notify_group.command("add")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.option("--kind", type=click.Choice(["email", "webhook", "slack"]), required=True)
@click.option("--name", required=True, help="What the target is called (e.g. 'night desk').")
@click.option("--address", required=True, help="An e-mail address, or the URL to POST to.")
@click.option(
    "--rule", "rules", multiple=True, type=click.Choice(RULE_NAMES), help="Repeat; none: all."
)
@click.option("--min-severity", type=click.Choice(["warning", "critical"]), default="warning")
def notify_add(
    tenant_ref: str, kind: str, name: str, address: str, rules: tuple[str, ...], min_severity: str
) -> None:
    """Add a target; a webhook's signing secret is printed this once."""
    from pydantic import ValidationError

    from innsync.alerts.notify import create_target
    from innsync.alerts.schemas import NotificationTargetCreate
    from innsync.outbound import OutboundPolicy, OutboundRefusedError

    settings = get_settings()
    try:
        data = NotificationTargetCreate.model_validate(
            {
                "kind": kind,
                "name": name,
                "address": address,
                "rules": list(rules),
                "min_severity": min_severity,
            }
        )
    except ValidationError as exc:
        raise click.ClickException("; ".join(e["msg"] for e in exc.errors())) from exc
    if kind == "email" and not settings.alert_smtp_host:
        raise click.ClickException("no SMTP server is set (INNSYNC_ALERT_SMTP_HOST)")
    if kind != "email":
        try:
            OutboundPolicy.from_settings(settings).check_url(address)
        except OutboundRefusedError as exc:
            raise click.ClickException(f"the outbound policy refuses this URL: {exc}") from exc
    target_id, secret = _with_tenant(
        tenant_ref,
        lambda s, box, tenant_id: (lambda t: (t[0].id, t[1]))(
            create_target(s, box, tenant_id, data)
        ),
    )
    click.echo(f"added {kind} target {target_id}")
    if secret is not None:
        click.echo(f"signing secret (shown once): {secret}")


@notify_group.command("list")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
def notify_list(tenant_ref: str) -> None:
    """One line per target: id, kind, name, address (an URL by its host), rules, severity."""
    from innsync.alerts.notify import list_targets, read_target

    def lines(session: Session, box: SecretBox, tenant_id: uuid.UUID) -> list[str]:
        shown = [read_target(box, t) for t in list_targets(session, tenant_id)]
        return [
            f"{t.id} {t.kind:<7} {t.name!r} {t.address} rules={','.join(t.rules) or 'all'} "
            f"min_severity={t.min_severity}{'' if t.is_active else ' (inactive)'}"
            for t in shown
        ]

    found = _with_tenant(tenant_ref, lines)
    for line in found:
        click.echo(line)
    click.echo(f"{len(found)} targets")


@notify_group.command("remove")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.argument("target_id", type=click.UUID)
def notify_remove(tenant_ref: str, target_id: uuid.UUID) -> None:
    """Remove a target and the record of its notifications."""
    from innsync.alerts.notify import remove_target

    _with_tenant(tenant_ref, lambda s, _box, tenant_id: remove_target(s, tenant_id, target_id))
    click.echo(f"removed {target_id}")


@notify_group.command("test")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.argument("target_id", type=click.UUID)
def notify_test(tenant_ref: str, target_id: uuid.UUID) -> None:
    """Send a test message to the target now; exits 1 when it was not taken."""
    from innsync.alerts.notify import get_target
    from innsync.alerts.notify_send import send_test
    from innsync.alerts.notify_transports import SmtpConfig
    from innsync.outbound import OutboundPolicy, sync_client

    settings = get_settings()

    def send(session: Session, box: SecretBox, tenant_id: uuid.UUID) -> str | None:
        target = get_target(session, tenant_id, target_id)
        policy = OutboundPolicy.from_settings(settings)
        with sync_client(policy, timeout=settings.webhook_timeout_seconds) as client:
            smtp = SmtpConfig.from_settings(settings)
            return send_test(box, client, smtp, target, datetime.now(UTC))

    error = _with_tenant(tenant_ref, send)
    if error is not None:
        raise click.ClickException(f"not delivered: {error}")
    click.echo("delivered")
