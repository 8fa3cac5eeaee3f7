"""Channel accounts the operator holds: registered once, encrypted, rotatable, granted to tenants.

A PMS vendor running innsync for its hotels holds one Channex master account (one machine
account, one marketplace app). It registers the account's part of the config here (the CLI,
``innsync accounts``); tenants it grants the account to connect their properties with
``{"account": "<name>", ...}`` and never read its secrets.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.connections.configs import (
    ACCOUNT_FIELD,
    account_part,
    refresh_bucket_key,
    validated_account_part,
)
from innsync.connections.models import ChannelAccount, ChannelAccountGrant, Connection
from innsync.connections.schemas import ChannelAccountRead
from innsync.crypto import SecretBox
from innsync.errors import ConflictError, FieldProblem, InvalidInputError, NotFoundError
from innsync.tenants.models import Tenant


def account_read(account: ChannelAccount, box: SecretBox) -> ChannelAccountRead:
    return ChannelAccountRead(
        id=account.id,
        channel=account.channel,
        name=account.name,
        fields=sorted(account_part(account, box)),
        created_at=account.created_at,
        rotated_at=account.rotated_at,
    )


def create_account(
    session: Session, box: SecretBox, channel: str, name: str, config: dict[str, Any]
) -> ChannelAccount:
    """Register an account under a unique name; its config is encrypted at rest."""
    if not name.strip() or len(name) > 200:
        raise InvalidInputError("an account name is 1 to 200 characters")
    if session.scalar(select(ChannelAccount.id).where(ChannelAccount.name == name)) is not None:
        raise ConflictError(f"a channel account named '{name}' exists already")
    part = validated_account_part(channel, config)
    account = ChannelAccount(channel=channel, name=name, config_encrypted=box.encrypt(_dumps(part)))
    session.add(account)
    session.flush()
    return account


def find_account(session: Session, name_or_id: str) -> ChannelAccount:
    """The account with this name, or this id (the operator's view: every account)."""
    account = session.scalar(select(ChannelAccount).where(ChannelAccount.name == name_or_id))
    if account is None:
        try:
            account = session.get(ChannelAccount, uuid.UUID(name_or_id))
        except ValueError:
            account = None
    if account is None:
        raise NotFoundError(f"no channel account '{name_or_id}'")
    return account


def list_accounts(session: Session) -> list[ChannelAccount]:
    return list(session.scalars(select(ChannelAccount).order_by(ChannelAccount.name)))


def rotate_account(
    session: Session, box: SecretBox, name_or_id: str, config: dict[str, Any]
) -> ChannelAccount:
    """Replace the given fields of the account's config (a new key, say); the rest is kept.

    Every connection on the account gets the new values on its next adapter build, and its
    bucket key is recomputed: a new key may be another account's budget.
    """
    account = find_account(session, name_or_id)
    merged = {**account_part(account, box), **config}
    part = validated_account_part(account.channel, merged)
    account.config_encrypted = box.encrypt(_dumps(part))
    account.rotated_at = datetime.now(UTC)
    session.flush()
    for connection in session.scalars(
        select(Connection).where(Connection.account_id == account.id)
    ):
        refresh_bucket_key(connection, box)
        # The config an adapter is built from changed: caches keyed by it must see that.
        connection.updated_at = account.rotated_at
    session.flush()
    return account


def grant_account(session: Session, name_or_id: str, tenant_id: uuid.UUID) -> bool:
    """Let the tenant connect with the account; ``False`` when it already could."""
    account = find_account(session, name_or_id)
    if session.get(Tenant, tenant_id) is None:
        raise NotFoundError(f"tenant {tenant_id} not found")
    if session.get(ChannelAccountGrant, (account.id, tenant_id)) is not None:
        return False
    session.add(ChannelAccountGrant(account_id=account.id, tenant_id=tenant_id))
    session.flush()
    return True


def revoke_account(session: Session, name_or_id: str, tenant_id: uuid.UUID) -> None:
    """Take the account away from the tenant; refused while its live connections use it."""
    account = find_account(session, name_or_id)
    grant = session.get(ChannelAccountGrant, (account.id, tenant_id))
    if grant is None:
        raise NotFoundError(f"tenant {tenant_id} has no grant of '{account.name}'")
    in_use = session.scalar(
        select(func.count()).where(
            Connection.account_id == account.id,
            Connection.tenant_id == tenant_id,
            Connection.state != "disabled",
        )
    )
    if in_use:
        raise ConflictError(
            f"{in_use} connection(s) of tenant {tenant_id} use '{account.name}'; "
            "delete them or move them to other credentials first"
        )
    session.delete(grant)
    session.flush()


def granted_accounts(session: Session, tenant_id: uuid.UUID) -> list[ChannelAccount]:
    """The accounts the tenant may connect with."""
    return list(
        session.scalars(
            select(ChannelAccount)
            .join(ChannelAccountGrant, ChannelAccountGrant.account_id == ChannelAccount.id)
            .where(ChannelAccountGrant.tenant_id == tenant_id)
            .order_by(ChannelAccount.name)
        )
    )


def usable_account(
    session: Session, tenant_id: uuid.UUID, channel: str, reference: object
) -> ChannelAccount:
    """The account a tenant's connection config names, when the tenant was granted it.

    An unknown account and another tenant's are one answer, so names do not leak.
    """
    pointer = f"/config/{ACCOUNT_FIELD}"
    if not isinstance(reference, str) or not reference:
        raise InvalidInputError(
            "the channel account is named by its name or id",
            [FieldProblem(pointer, "a channel account's name or id")],
        )
    query = select(ChannelAccount).join(
        ChannelAccountGrant, ChannelAccountGrant.account_id == ChannelAccount.id
    )
    query = query.where(ChannelAccountGrant.tenant_id == tenant_id)
    try:
        by_id = uuid.UUID(reference)
    except ValueError:
        account = session.scalar(query.where(ChannelAccount.name == reference))
    else:
        account = session.scalar(query.where(ChannelAccount.id == by_id))
    if account is None:
        raise InvalidInputError(
            f"no channel account '{reference}' is available to this tenant",
            [FieldProblem(pointer, "not a channel account granted to this tenant")],
        )
    if account.channel != channel:
        raise InvalidInputError(
            f"the channel account '{account.name}' is a {account.channel} account",
            [FieldProblem(pointer, f"not a {channel} account")],
        )
    return account


def _dumps(part: dict[str, Any]) -> str:
    return json.dumps(part, sort_keys=True)
