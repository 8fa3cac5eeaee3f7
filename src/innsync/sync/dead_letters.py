"""Dead letters chosen by an operator: filters shared by the list and the replay.

A dead letter is an entry the channel refused (``sync.state.record_dead_letters``); replaying
marks its dates dirty again, so the worker plans and sends them after the cause is fixed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from innsync.outbox.models import DirtyMark
from innsync.sync.models import DeadLetter


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """All given conditions hold: the subject kind (``availability``/``rates``), stay dates
    overlapping ``[date_from, date_to)``, the channel's reason containing ``error_text`` (any
    case), created at or after ``created_since``; ``include_replayed`` for the list."""

    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    error_text: str | None = None
    created_since: datetime | None = None
    include_replayed: bool = True


def matching(connection_id: uuid.UUID, where: DeadLetterFilter) -> Select[DeadLetter]:
    query = select(DeadLetter).where(DeadLetter.connection_id == connection_id)
    if where.kind is not None:
        query = query.where(DeadLetter.kind == where.kind)
    if where.date_from is not None:
        query = query.where(DeadLetter.end > where.date_from)
    if where.date_to is not None:
        query = query.where(DeadLetter.start < where.date_to)
    if where.error_text:
        # Lower-cased on both sides: LIKE is case-sensitive on PostgreSQL and not on MariaDB.
        escaped = (
            where.error_text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        query = query.where(func.lower(DeadLetter.reason).like(f"%{escaped}%", escape="\\"))
    if where.created_since is not None:
        query = query.where(DeadLetter.created_at >= where.created_since)
    if not where.include_replayed:
        query = query.where(DeadLetter.replayed_at.is_(None))
    return query.order_by(DeadLetter.id)


def replay(
    session: Session, connection_id: uuid.UUID, where: DeadLetterFilter, now: datetime
) -> int:
    """Mark the dates of every unreplayed dead letter matching ``where`` dirty again; returns
    how many letters were replayed. Replayed letters are never replayed twice."""
    chosen = DeadLetterFilter(
        kind=where.kind,
        date_from=where.date_from,
        date_to=where.date_to,
        error_text=where.error_text,
        created_since=where.created_since,
        include_replayed=False,
    )
    letters = list(session.scalars(matching(connection_id, chosen).with_for_update()))
    for letter in letters:
        if letter.subject_id is not None:
            session.add(
                DirtyMark(
                    connection_id=connection_id,
                    kind=letter.kind,
                    subject_id=letter.subject_id,
                    start=letter.start,
                    end=letter.end,
                )
            )
        letter.replayed_at = now
    session.flush()
    return len(letters)
