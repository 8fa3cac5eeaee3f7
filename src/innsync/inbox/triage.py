"""Triage of the inbox: list the items that wait for a person (parked, rejected) and requeue them.

Requeuing puts an item back to ``pending`` with its attempts reset, for the processor to take
again; the processor applies each revision once, so a requeue is safe to repeat. An item
already pending is left as it is; an applied or ignored one has done its work. Two kinds of
rejected item can never apply and are refused with the reason: a webhook call that failed
verification (kept truncated, for audit) and a pulled message the adapter could not read (kept
raw, not as a revision the processor can take).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innsync.connections import audit
from innsync.connections.models import Connection
from innsync.errors import ConflictError, NotFoundError
from innsync.inbox.models import APPLIED, IGNORED, PARKED, PENDING, REJECTED, InboxItem

WAITING = (PARKED, REJECTED)
REQUEUED = "inbox_requeued"
# The audit row names at most this many item ids (the count is always exact).
AUDITED_IDS = 100


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """Which items: the tenant's parked and rejected ones, narrowed by connection, state, time."""

    connection_id: uuid.UUID | None = None
    states: Sequence[str] = WAITING
    since: datetime | None = None


@dataclass(slots=True)
class RequeueResult:
    requeued: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)  # pending already, or applied/ignored
    refused: dict[int, str] = field(default_factory=dict)  # can never apply, with the reason


def never_applies(item: InboxItem) -> str | None:
    """Why a rejected item can never apply, or ``None`` when processing it again may work."""
    if item.status != REJECTED:
        return None
    if item.dedupe_key.startswith("rejected:"):
        return (
            "the call failed verification at the door (its body was kept truncated, for "
            "audit): it is not known to come from the channel; ask the channel to send it again"
        )
    if item.dedupe_key.startswith("unreadable:"):
        return (
            "the channel's message could not be read and is kept raw, not as a booking "
            "revision; force a pull of the booking instead"
        )
    return None


def _query(tenant_id: uuid.UUID, where: InboxFilter) -> Select[InboxItem]:
    query = select(InboxItem).where(
        InboxItem.tenant_id == tenant_id, InboxItem.status.in_(list(where.states))
    )
    if where.connection_id is not None:
        query = query.where(InboxItem.connection_id == where.connection_id)
    if where.since is not None:
        query = query.where(InboxItem.received_at >= where.since)
    return query


def _check_connection(session: Session, tenant_id: uuid.UUID, where: InboxFilter) -> None:
    if where.connection_id is None:
        return
    connection = session.get(Connection, where.connection_id)
    if connection is None or connection.tenant_id != tenant_id:
        raise NotFoundError(f"connection {where.connection_id} not found")


def list_items(
    session: Session,
    tenant_id: uuid.UUID,
    where: InboxFilter,
    after_id: int | None = None,
    limit: int = 100,
) -> list[InboxItem]:
    """The tenant's items matching ``where``, oldest first, after ``after_id`` (a page)."""
    _check_connection(session, tenant_id, where)
    query = _query(tenant_id, where)
    if after_id is not None:
        query = query.where(InboxItem.id > after_id)
    return list(session.scalars(query.order_by(InboxItem.id).limit(limit)))


def requeue_items(
    session: Session,
    tenant_id: uuid.UUID,
    actor: str,
    *,
    ids: Sequence[int] | None = None,
    where: InboxFilter | None = None,
    limit: int = 1000,
) -> RequeueResult:
    """Requeue the named items (all must be the tenant's, and ``where``'s connection's when
    it names one), or else up to ``limit`` items matching ``where``.

    Named items that can never apply are a ``ConflictError`` and nothing is requeued; matched
    ones are skipped and reported. Each call that requeues something is audited per connection.
    """
    if ids is not None:
        named = select(InboxItem).where(
            InboxItem.id.in_(list(ids)), InboxItem.tenant_id == tenant_id
        )
        if where is not None and where.connection_id is not None:
            named = named.where(InboxItem.connection_id == where.connection_id)
        items = list(session.scalars(named.order_by(InboxItem.id).with_for_update()))
        missing = sorted(set(ids) - {item.id for item in items})
        if missing:
            raise NotFoundError(f"inbox items {missing[:20]} not found")
        refusals = {item.id: why for item in items if (why := never_applies(item)) is not None}
        if refusals:
            first, why = next(iter(refusals.items()))
            raise ConflictError(f"inbox item {first} can never apply: {why}")
    else:
        chosen = where or InboxFilter()
        _check_connection(session, tenant_id, chosen)
        items = list(
            session.scalars(
                _query(tenant_id, chosen).order_by(InboxItem.id).limit(limit).with_for_update()
            )
        )
    result = RequeueResult()
    by_connection: dict[uuid.UUID, list[int]] = {}
    for item in items:
        why = never_applies(item)
        if why is not None:
            result.refused[item.id] = why
        elif item.status in (PENDING, APPLIED, IGNORED):
            result.unchanged.append(item.id)
        else:
            item.status, item.reason, item.attempts = PENDING, "", 0
            item.not_before = item.processed_at = None
            result.requeued.append(item.id)
            by_connection.setdefault(item.connection_id, []).append(item.id)
    for connection_id, requeued in by_connection.items():
        connection = session.get_one(Connection, connection_id)
        audit.record(
            session,
            connection,
            actor,
            REQUEUED,
            {"count": len(requeued), "item_ids": requeued[:AUDITED_IDS]},
        )
    session.flush()
    return result
