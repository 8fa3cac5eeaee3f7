"""Sync history per connection: every call to the channel with its outcome, the entries it
refused (dead letters) with a replay, and the inbound items that wait for a person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, User, Writer
from innsync.admin.connections import ConnectionRow, list_rows
from innsync.admin.rendering import page
from innsync.api.deps import Db
from innsync.connections import audit, history
from innsync.connections.models import Connection
from innsync.connections.service import replay_dead_letters
from innsync.errors import ConflictError, NotFoundError
from innsync.inbox import triage
from innsync.inbox.models import InboxItem
from innsync.properties.models import Property
from innsync.properties.service import get_owned
from innsync.sync import dead_letters
from innsync.sync.dead_letters import DeadLetterFilter
from innsync.sync.models import DeadLetter, SyncLogEntry

router = APIRouter(prefix=ADMIN_PATH, include_in_schema=False)

# Rows a page shows of each list: the newest calls, the oldest waiting items and letters.
SHOWN = 100
DEAD_LETTER_KINDS = ("availability", "rates")


@dataclass(frozen=True, slots=True)
class SyncRow:
    connection: ConnectionRow
    waiting_letters: int


@dataclass(frozen=True, slots=True)
class WaitingItem:
    item: InboxItem
    why_never: str | None


@dataclass(frozen=True, slots=True)
class History:
    connection: Connection
    property_name: str
    calls: list[SyncLogEntry]
    letters: list[DeadLetter]
    waiting_letters: int
    items: list[WaitingItem]


def sync_rows(session: Session, tenant_id: uuid.UUID) -> list[SyncRow]:
    """Each connection with its dead letters waiting for a replay: two queries in all."""
    rows = list_rows(session, tenant_id)
    waiting = dict(
        session.execute(
            select(DeadLetter.connection_id, func.count())
            .join(Connection, Connection.id == DeadLetter.connection_id)
            .where(Connection.tenant_id == tenant_id, DeadLetter.replayed_at.is_(None))
            .group_by(DeadLetter.connection_id)
        ).all()
    )
    return [SyncRow(row, waiting.get(row.id, 0)) for row in rows]


def read_history(
    session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID, outcome: str | None
) -> History:
    connection = get_owned(session, Connection, tenant_id, connection_id)
    prop = session.get_one(Property, connection.property_id)
    calls = history.read_sync_log(session, tenant_id, connection.id, outcome, SHOWN)
    letters = list(
        session.scalars(dead_letters.matching(connection.id, DeadLetterFilter()).limit(SHOWN))
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(DeadLetter)
        .where(DeadLetter.connection_id == connection.id, DeadLetter.replayed_at.is_(None))
    )
    where = triage.InboxFilter(connection.id)
    items = [
        WaitingItem(item, triage.never_applies(item))
        for item in triage.list_items(session, tenant_id, where, None, SHOWN)
    ]
    return History(connection, prop.name, calls, letters, waiting or 0, items)


def _notice(request: Request) -> str:
    """What the last action did, from the numbers the redirect carries (never free text)."""
    query = request.query_params
    count = query.get("count", "")
    if not count.isdigit():
        return ""
    done = query.get("done")
    plural = "" if count == "1" else "s"
    if done == "replayed":
        return f"{count} dead letter{plural} replayed: their dates are sent again."
    if done == "requeued":
        return f"{count} inbox item{plural} requeued for processing."
    return ""


@router.get("/sync")
async def sync_page(request: Request, db: Db, user: User) -> HTMLResponse:
    rows = await db.read(lambda s: sync_rows(s, user.tenant_id))
    context = {"user": user, "active": "ops", "section": "sync", "rows": rows}
    return page(request, "ops_sync.html", context)


@router.get("/connections/{connection_id}/history")
async def history_page(
    request: Request,
    db: Db,
    user: User,
    connection_id: uuid.UUID,
    outcome: str = "",
) -> HTMLResponse:
    if outcome and outcome not in history.OUTCOMES:
        raise AdminRefusalError(400, "Unknown outcome.")
    try:
        found = await db.read(
            lambda s: read_history(s, user.tenant_id, connection_id, outcome or None)
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    context: dict[str, Any] = {
        "user": user,
        "active": "ops",
        "section": "sync",
        "history": found,
        "outcomes": history.OUTCOMES,
        "outcome": outcome,
        "kinds": DEAD_LETTER_KINDS,
        "notice": _notice(request),
    }
    return page(request, "ops_history.html", context)


def _back(connection_id: uuid.UUID, done: str, count: int) -> RedirectResponse:
    target = f"{ADMIN_PATH}/connections/{connection_id}/history?done={done}&count={count}"
    return RedirectResponse(target, status_code=303)


@router.post("/connections/{connection_id}/dead-letters/replay")
async def replay(request: Request, db: Db, user: Writer, connection_id: uuid.UUID) -> Response:
    """Send the dates of the connection's unreplayed dead letters (of one kind, if chosen)."""
    form = await request.form()
    kind = form.get("kind") or None
    if kind is not None and kind not in DEAD_LETTER_KINDS:
        raise AdminRefusalError(400, "Unknown kind of dead letter.")
    where = DeadLetterFilter(kind=kind if isinstance(kind, str) else None)
    try:
        count = await db.write(
            lambda s: replay_dead_letters(s, user.tenant_id, connection_id, where)
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    return _back(connection_id, "replayed", count)


@router.post("/connections/{connection_id}/inbox-items/{item_id}/requeue")
async def requeue(
    db: Db,
    user: Writer,
    connection_id: uuid.UUID,
    item_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> Response:
    """Put one parked or rejected item of the connection back for the processor; audited."""
    actor = audit.user_actor(user.user_id)
    where = triage.InboxFilter(connection_id)

    def run(session: Session) -> int:
        result = triage.requeue_items(session, user.tenant_id, actor, ids=[item_id], where=where)
        return len(result.requeued)

    try:
        count = await db.write(run)
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such inbox item.") from exc
    except ConflictError as exc:
        raise AdminRefusalError(409, exc.detail) from exc
    return _back(connection_id, "requeued", count)
