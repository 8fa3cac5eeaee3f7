"""The connection audit: every operator action on a connection, with who and when.

Switch changes (pause pushes or pulls, shadow mode, the state) are kept as ``old -> new`` per
field; the inbox and booking tools add their own actions (``inbox_requeued``,
``booking_pulled``). The connection read shows the newest switch changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection, ConnectionAudit
from innsync.db.base import utcnow

# The fields of a connection an operator flips to roll a channel out or back.
SWITCHES = (
    "push_enabled",
    "push_bookings",
    "pull_enabled",
    "webhook_enabled",
    "shadow_mode",
    "state",
)
SWITCH_CHANGED = "switch_changed"
# The connection read lists this many of the newest switch changes.
HISTORY_SHOWN = 20
CLI_ACTOR = "cli"
SYSTEM_ACTOR = "system"  # innsync itself (provisioning storing the channel's ids)


def api_actor(key_id: object) -> str:
    """How an API key is named in the audit."""
    return f"key:{key_id}"


def user_actor(user_id: object) -> str:
    """How an admin app user is named in the audit."""
    return f"user:{user_id}"


def switches_of(connection: Connection) -> dict[str, Any]:
    return {name: getattr(connection, name) for name in SWITCHES}


def record(
    session: Session,
    connection: Connection,
    actor: str,
    action: str,
    detail: Mapping[str, Any],
    now: datetime | None = None,
) -> ConnectionAudit:
    row = ConnectionAudit(
        tenant_id=connection.tenant_id,
        connection_id=connection.id,
        created_at=now or utcnow(),
        actor=actor[:64],
        action=action,
        detail=dict(detail),
    )
    session.add(row)
    return row


def record_switch_changes(
    session: Session, connection: Connection, before: Mapping[str, Any], actor: str
) -> int:
    """One audit row per switch whose value differs from ``before``; returns how many."""
    changed = 0
    for name, old in before.items():
        new = getattr(connection, name)
        if new != old:
            record(
                session, connection, actor, SWITCH_CHANGED, {"field": name, "old": old, "new": new}
            )
            changed += 1
    return changed


def switch_history(session: Session, connection: Connection) -> list[ConnectionAudit]:
    """The newest switch changes of the connection, newest first."""
    return list(
        session.scalars(
            select(ConnectionAudit)
            .where(
                ConnectionAudit.connection_id == connection.id,
                ConnectionAudit.action == SWITCH_CHANGED,
            )
            .order_by(ConnectionAudit.id.desc())
            .limit(HISTORY_SHOWN)
        )
    )
