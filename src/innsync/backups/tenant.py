"""One tenant's export and import, for moving a hotel group between installations.

An export is a backup (same format, same checks) whose manifest names the tenant and which holds
only the rows that belong to it: rows with its ``tenant_id``, and rows reached from those by a
required foreign key (a rate plan's calendar, a connection's acknowledged state...). Left out,
because they belong to the installation rather than the tenant: the operator's channel accounts
and grants, rate-limit leases and counters, and the event feed (positions are the installation's;
the importing installation's feed starts with the next event). A tenant whose connections use an
operator's channel account cannot be exported: that account does not travel with it.

Secrets inside (connection configs, webhook secrets) stay encrypted under the source's
INNSYNC_SECRET_KEYS: put the source's key after the target's in the target's INNSYNC_SECRET_KEYS
and run ``innsync keys rotate`` after the import.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import ColumnElement, Engine, Table, func, select

from innsync.backups.cipher import BackupError
from innsync.backups.restore import EXCLUDED_TABLES, backed_up_tables
from innsync.schema import metadata

# The installation's own tables: never part of one tenant's export.
INSTALLATION_TABLES = EXCLUDED_TABLES | frozenset(
    {
        # Which process took the last alert evaluation pass (alerts/lease.py).
        "alert_passes",
        # Where the feed of an operator's channel account is read (inbox/account_feeds.py).
        "account_pull_cursors",
        "bucket_leases",
        "counters",
        "channel_accounts",
        "channel_account_grants",
        # Tokens of channel accounts many tenants' connections share (Booking.com's machine
        # account): the installation's, like the accounts.
        "channel_account_credentials",
        "events",
        "webhook_deliveries",
    }
)


def tenant_tables() -> list[Table]:
    """The tables an export holds, parents first."""
    return [table for table in backed_up_tables() if table.name not in INSTALLATION_TABLES]


def renumbered_tables() -> frozenset[str]:
    """Tables with counted ids that no other table refers to: an import lets the target count
    them anew (reservation history, inbox, sync log...), so they never collide with its own."""
    referred = {
        fk.column.table.name for table in metadata.sorted_tables for fk in table.foreign_keys
    }
    return frozenset(
        table.name
        for table in tenant_tables()
        if len(table.primary_key.columns) == 1
        and next(iter(table.primary_key.columns)).autoincrement is True
        and table.name not in referred
    )


def tenant_scope(tenant_id: uuid.UUID) -> Callable[[Table], ColumnElement[bool]]:
    """The condition that picks one tenant's rows of a table (given as the bare table read)."""

    def where(bare: Table) -> ColumnElement[bool]:
        return _belongs(metadata.tables[bare.name], bare, tenant_id)

    return where


def _belongs(model: Table, target: Table, tenant_id: uuid.UUID) -> ColumnElement[bool]:
    if model.name == "tenants":
        return target.c.id == tenant_id
    if "tenant_id" in model.c:
        return target.c.tenant_id == tenant_id
    # Through a required foreign key first: a nullable one would leave out the rows without it.
    for foreign_key in sorted(model.foreign_keys, key=lambda fk: bool(fk.parent.nullable)):
        parent = foreign_key.column.table
        if parent is model or parent.name in INSTALLATION_TABLES:
            continue
        owned = select(foreign_key.column).where(_belongs(parent, parent, tenant_id))
        return target.c[foreign_key.parent.name].in_(owned)
    raise BackupError(f"table {model.name} has no way to its tenant")


def check_exportable(engine: Engine, tenant_id: uuid.UUID) -> None:
    tenants, connections = metadata.tables["tenants"], metadata.tables["connections"]
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).where(tenants.c.id == tenant_id)) != 1:
            raise BackupError(f"no tenant {tenant_id}")
        borrowed = connection.scalar(
            select(func.count()).where(
                connections.c.tenant_id == tenant_id, connections.c.account_id.is_not(None)
            )
        )
    if borrowed:
        raise BackupError(
            f"{borrowed} connection(s) of this tenant use the operator's channel accounts, "
            "which do not move with a tenant: disconnect them first"
        )


def check_importable(engine: Engine, tenant_id: uuid.UUID) -> None:
    tenants = metadata.tables["tenants"]
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).where(tenants.c.id == tenant_id)):
            raise BackupError(f"tenant {tenant_id} is already in this installation")
