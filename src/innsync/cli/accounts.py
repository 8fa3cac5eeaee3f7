"""``innsync accounts``: channel accounts the operator holds, and which tenants may use them.

An account's config (its keys) is read as a JSON object from a file or from standard input,
never from the command line, where it would stay in the shell's history and the process list.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory, transaction
from innsync.db.migrate import upgrade
from innsync.errors import DomainError
from innsync.settings import get_settings

T = TypeVar("T")

CONFIG_FILE = click.option(
    "--config-file",
    "config_file",
    required=True,
    type=click.File("r"),
    help='A JSON object of the account\'s config fields, e.g. {"api_key": "..."}; "-" reads '
    "standard input.",
)


@click.group("accounts")
def accounts() -> None:
    """Channel accounts held by the operator (encrypted; tenants never see their secrets)."""


def _config(handle: Any) -> dict[str, Any]:
    try:
        config = json.load(handle)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"the config is not JSON: {exc.msg}") from exc
    if not isinstance(config, dict):
        raise click.ClickException("the config must be a JSON object of fields")
    return config


def _in_transaction(work: Callable[[Session, SecretBox], T]) -> T:
    """Run one use-case in one committed transaction; domain errors become clear messages."""
    from innsync.vault import secret_box_from

    settings = get_settings()
    engine = build_engine(settings.database_url)
    try:
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            return work(session, secret_box_from(settings))
    except DomainError as exc:
        problems = "".join(f"\n  {p.pointer}: {p.detail}" for p in exc.problems)
        raise click.ClickException(f"{exc.detail}{problems}") from exc
    finally:
        engine.dispose()


@accounts.command("create")
@click.option("--channel", required=True, help="The channel kind, e.g. channex.")
@click.option("--name", required=True, help="The name tenants' connections refer to.")
@CONFIG_FILE
def accounts_create(channel: str, name: str, config_file: Any) -> None:
    """Register a channel account; grant it to tenants with ``innsync accounts grant``."""
    from innsync.connections.accounts import create_account

    config = _config(config_file)
    account_id = _in_transaction(
        lambda session, box: create_account(session, box, channel, name, config).id
    )
    fields = ", ".join(sorted(config))
    click.echo(f"account {account_id} created: {name} ({channel}; fields {fields})")


@accounts.command("list")
def accounts_list() -> None:
    """Every account, its fields (never their values), when rotated and the tenants granted."""
    from sqlalchemy import select

    from innsync.connections.accounts import account_read, list_accounts
    from innsync.connections.models import ChannelAccountGrant

    def read(session: Session, box: SecretBox) -> list[str]:
        lines = []
        for account in list_accounts(session):
            shown = account_read(account, box)
            tenants = session.scalars(
                select(ChannelAccountGrant.tenant_id)
                .where(ChannelAccountGrant.account_id == account.id)
                .order_by(ChannelAccountGrant.tenant_id)
            )
            rotated = shown.rotated_at.isoformat() if shown.rotated_at else "never"
            lines.append(
                f"{shown.id} {shown.name} ({shown.channel}) fields: {', '.join(shown.fields)}; "
                f"rotated: {rotated}; tenants: {', '.join(str(t) for t in tenants) or 'none'}"
            )
        return lines

    for line in _in_transaction(read) or ["no channel accounts"]:
        click.echo(line)


@accounts.command("rotate")
@click.argument("account")
@CONFIG_FILE
def accounts_rotate(account: str, config_file: Any) -> None:
    """Replace the given fields of ACCOUNT (name or id), a new key say; the rest is kept.

    Connections on the account use the new values from their next call on.
    """
    from innsync.connections.accounts import rotate_account

    config = _config(config_file)
    name = _in_transaction(lambda session, box: rotate_account(session, box, account, config).name)
    click.echo(f"account {name}: {', '.join(sorted(config))} rotated")


@accounts.command("grant")
@click.argument("account")
@click.option("--tenant", "tenant_id", required=True, type=click.UUID)
def accounts_grant(account: str, tenant_id: uuid.UUID) -> None:
    """Let a tenant connect its properties with ACCOUNT (name or id)."""
    from innsync.connections.accounts import grant_account

    added = _in_transaction(lambda session, _box: grant_account(session, account, tenant_id))
    click.echo(f"tenant {tenant_id} {'may now use' if added else 'could already use'} {account}")


@accounts.command("revoke")
@click.argument("account")
@click.option("--tenant", "tenant_id", required=True, type=click.UUID)
def accounts_revoke(account: str, tenant_id: uuid.UUID) -> None:
    """Take ACCOUNT away from a tenant; refused while the tenant's connections use it."""
    from innsync.connections.accounts import revoke_account

    _in_transaction(lambda session, _box: revoke_account(session, account, tenant_id))
    click.echo(f"tenant {tenant_id} may no longer use {account}")
