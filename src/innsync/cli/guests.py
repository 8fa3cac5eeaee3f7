"""``innsync guests erase``: a guest's personal data removed everywhere (GDPR), from the shell,
for an operator acting on a request that did not come through the PMS."""

from __future__ import annotations

import uuid

import click

from innsync.db.engine import session_factory, transaction
from innsync.errors import DomainError
from innsync.settings import get_settings


@click.group("guests")
def guests() -> None:
    """Guests' personal data."""


@guests.command("erase")
@click.option("--tenant", "tenant_ref", required=True, help="The tenant's id or exact name.")
@click.option("--reservation", "reservation_id", type=click.UUID, help="A reservation of theirs.")
@click.option("--email", help="Their e-mail (exact, any case), read from a prompt when '-'.")
def erase(tenant_ref: str, reservation_id: uuid.UUID | None, email: str | None) -> None:
    """Erase a guest from every booking of theirs; the bookings' facts stay. Irreversible.

    Prints ids and counts only, never the erased details."""
    from innsync.cli.database import open_database
    from innsync.db.personal import install_keys
    from innsync.privacy.erasure import erase_guest_by_email, erase_reservation_guest
    from innsync.tenants.service import find_tenant
    from innsync.vault import secret_box_from

    if (reservation_id is None) == (email is None):
        raise click.UsageError("give either --reservation or --email")
    if email == "-":
        # Typed at a prompt, the address stays out of the shell's history.
        email = click.prompt("guest e-mail", hide_input=True)
    settings = get_settings()
    install_keys(secret_box_from(settings))
    engine = open_database(settings)
    try:
        with transaction(session_factory(engine)) as session:
            tenant_id = find_tenant(session, tenant_ref).id
            if reservation_id is not None:
                report = erase_reservation_guest(session, tenant_id, reservation_id, "cli")
            else:
                assert email is not None
                report = erase_guest_by_email(session, tenant_id, email, "cli")
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    count = len(report.reservation_ids)
    click.echo(f"guest {report.guest_id or '(none)'} erased from {count} reservations")
    for found in report.reservation_ids:
        click.echo(f"  reservation {found}")
    click.echo(
        f"history rows {report.changes}, events {report.events}, inbox bodies "
        f"{report.inbox_items}, sync log entries {report.sync_log_entries}"
    )
    if report.inbox_items_pending:
        click.echo(
            f"{report.inbox_items_pending} inbound items of these bookings are still to be "
            "applied: erase again once they are"
        )
