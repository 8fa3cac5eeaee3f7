"""What the connection pages show: the connection's detail, a full sync's progress, and the
property's room types and rate plans beside the channel's for the mapping editor.

Every read is scoped to the signed-in user's tenant (``get_owned``) and costs a fixed number
of queries, whatever the number of room types, plans or marks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from innsync.connections import service
from innsync.connections.configs import account_part
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.connections.schemas import ConnectionRead, RemoteCatalogRead
from innsync.crypto import SecretBox
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import get_owned
from innsync.sync.models import SyncLogEntry


@dataclass(frozen=True, slots=True)
class ConnectionDetail:
    connection: ConnectionRead
    property_name: str
    progress: Progress
    account_fields: frozenset[str]
    """Fields the operator's channel account holds: not the connection's to set."""


def connection_detail(
    session: Session, box: SecretBox, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> ConnectionDetail:
    """The connection as the API reads it (secrets never included) and its property's name."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    prop = get_owned(session, Property, tenant_id, connection.property_id)
    return ConnectionDetail(
        service.connection_read(session, box, connection),
        prop.name,
        full_sync_progress(session, tenant_id, connection_id),
        account_fields(connection, box),
    )


def account_fields(connection: Connection, box: SecretBox) -> frozenset[str]:
    """The config fields the connection's channel account holds (none without one)."""
    if connection.account is None:
        return frozenset()
    return frozenset(account_part(connection.account, box))


def fix_for(state: str) -> str:
    """What a person does about a connection in this state."""
    return {
        "pending": "Map the room types and rate plans, then test the connection: it becomes "
        "connected when the channel first accepts what innsync sends.",
        "needs_attention": "Fix what the reason names (the credentials under Settings, codes "
        "under Mappings), test the connection, then resume syncing.",
        "disabled": "Nothing is sent or received. Enable it to sync again (a full sync follows).",
    }.get(state, "")


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the connection's backlog (after a full sync: everything) has been sent."""

    started_at: datetime | None
    pending_marks: int
    pending_subjects: int
    mapped_subjects: int
    last_sent_at: datetime | None
    last_outcome: str

    @property
    def percent_done(self) -> int:
        if self.mapped_subjects == 0 or self.pending_subjects == 0:
            return 100
        done = max(self.mapped_subjects - self.pending_subjects, 0)
        return done * 100 // self.mapped_subjects


def full_sync_progress(
    session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> Progress:
    """The marks still waiting and the subjects they cover, against the mapped subjects.

    A full sync marks every mapped room type and rate plan over the horizon; the worker
    deletes a mark once the channel took what it covers, so the count falls to 0.
    """
    connection = get_owned(session, Connection, tenant_id, connection_id)
    marks, subjects = session.execute(
        select(func.count(), func.count(distinct(DirtyMark.subject_id))).where(
            DirtyMark.connection_id == connection.id
        )
    ).one()
    rooms = select(func.count()).where(RoomTypeMapping.connection_id == connection.id)
    plans = select(func.count()).where(RatePlanMapping.connection_id == connection.id)
    mapped = session.execute(select(rooms.scalar_subquery() + plans.scalar_subquery())).scalar()
    last = session.execute(
        select(SyncLogEntry.created_at, SyncLogEntry.outcome)
        .where(SyncLogEntry.connection_id == connection.id)
        .order_by(SyncLogEntry.id.desc())
        .limit(1)
    ).first()
    return Progress(
        started_at=connection.last_full_sync_at,
        pending_marks=int(marks),
        pending_subjects=int(subjects),
        mapped_subjects=int(mapped or 0),
        last_sent_at=last[0] if last else None,
        last_outcome=last[1] if last else "",
    )


@dataclass(frozen=True, slots=True)
class Choice:
    code: str
    label: str


@dataclass
class MappingRow:
    """One room type or rate plan of the property, its code on the channel and a suggestion."""

    id: uuid.UUID
    name: str
    code: str
    mapped_to: str
    room_type_id: uuid.UUID | None = None
    suggestion: Choice | None = None
    suggestion_reason: str = ""
    error: str = ""

    @property
    def form_name(self) -> str:
        return f"{'plan' if self.room_type_id else 'room'}.{self.id}"


@dataclass
class MappingEditor:
    connection_id: uuid.UUID
    connection_name: str
    channel: str
    rooms: list[MappingRow]
    plans: list[MappingRow]
    remote: RemoteCatalogRead | None = None
    room_choices: list[Choice] = field(default_factory=list)
    plan_choices: list[Choice] = field(default_factory=list)

    @property
    def unmapped(self) -> int:
        return sum(1 for row in self.rooms + self.plans if not row.mapped_to)


def mapping_editor(
    session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> MappingEditor:
    """The property's room types and rate plans with their codes on this connection."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    mapped = service.read_mappings(session, tenant_id, connection_id)
    room_codes = {m.room_type_id: m.channel_code for m in mapped.room_types}
    plan_codes = {m.rate_plan_id: m.channel_code for m in mapped.rate_plans}
    rooms = session.scalars(
        select(RoomType)
        .where(RoomType.property_id == connection.property_id, RoomType.tenant_id == tenant_id)
        .order_by(RoomType.name, RoomType.id)
    )
    plans = session.scalars(
        select(RatePlan)
        .where(RatePlan.property_id == connection.property_id, RatePlan.tenant_id == tenant_id)
        .order_by(RatePlan.name, RatePlan.id)
    )
    return MappingEditor(
        connection_id=connection.id,
        connection_name=connection.name,
        channel=connection.channel,
        rooms=[MappingRow(r.id, r.name, r.code, room_codes.get(r.id, "")) for r in rooms],
        plans=[
            MappingRow(p.id, p.name, p.code, plan_codes.get(p.id, ""), p.room_type_id)
            for p in plans
        ],
    )


def _same(left: str, right: str) -> bool:
    return " ".join(left.casefold().split()) == " ".join(right.casefold().split())


def suggest(editor: MappingEditor, remote: RemoteCatalogRead | None) -> None:
    """Fill in the remote choices and, for every unmapped item, a suggestion: the channel's
    item with the same code or the same name (a rate plan's within its room type's code);
    without the channel's catalog, the item's own code (channels that take innsync's codes)."""
    editor.remote = remote
    if remote is not None:
        editor.room_choices = [
            Choice(r.remote_id, f"{r.title} ({r.remote_id})") for r in remote.room_types
        ]
        titles = {r.remote_id: r.title for r in remote.room_types}
        editor.plan_choices = [
            Choice(p.remote_id, f"{p.title} · {titles.get(p.room_type_remote_id, '?')}")
            for p in remote.rate_plans
        ]
    used_rooms = {row.mapped_to for row in editor.rooms if row.mapped_to}
    room_of: dict[uuid.UUID, str] = {}
    for row in editor.rooms:
        if not row.mapped_to:
            if remote is None:
                _offer(row, Choice(row.code, row.code), "same code")
            else:
                for item in remote.room_types:
                    if item.remote_id in used_rooms:
                        continue
                    if _same(item.remote_id, row.code) or _same(item.title, row.name):
                        reason = "same code" if _same(item.remote_id, row.code) else "same name"
                        _offer(row, Choice(item.remote_id, item.title), reason)
                        used_rooms.add(item.remote_id)
                        break
        room_of[row.id] = row.mapped_to or (row.suggestion.code if row.suggestion else "")
    used_plans = {row.mapped_to for row in editor.plans if row.mapped_to}
    for row in editor.plans:
        if row.mapped_to:
            continue
        if remote is None:
            _offer(row, Choice(row.code, row.code), "same code")
            continue
        room_code = room_of.get(row.room_type_id) if row.room_type_id else None
        for plan in remote.rate_plans:
            if plan.remote_id in used_plans or plan.room_type_remote_id != room_code:
                continue
            if _same(plan.remote_id, row.code) or _same(plan.title, row.name):
                reason = "same code" if _same(plan.remote_id, row.code) else "same name"
                _offer(row, Choice(plan.remote_id, plan.title), reason)
                used_plans.add(plan.remote_id)
                break


def _offer(row: MappingRow, choice: Choice, reason: str) -> None:
    row.suggestion, row.suggestion_reason = choice, reason
