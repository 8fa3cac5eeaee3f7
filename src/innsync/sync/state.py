"""Reading dirty marks and acknowledged state, and recording what a channel accepted or refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from innsync.channels.encoding import rate_values_from_json, rate_values_to_json, update_to_json
from innsync.channels.types import AvailabilityUpdate, RatePlanKey, RateUpdate, RateValues
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.db.upsert import upsert_rows
from innsync.outbox.marks import insert_marks
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.stay_dates import DateRange, merge_ranges
from innsync.sync.desired import Mappings
from innsync.sync.models import AckedAvailability, AckedRate, DeadLetter, SyncLogEntry

# Marks read per connection and kind in one pass; the rest wait for the next pass.
MAX_MARKS_PER_PASS = 5000


@dataclass(slots=True)
class DirtySet:
    """The marks one pass consumes: their ids (to delete after) and the ranges per subject."""

    mark_ids: list[int] = field(default_factory=list)
    oldest: datetime | None = None
    ranges: dict[uuid.UUID, list[DateRange]] = field(default_factory=dict)

    @property
    def all_ranges(self) -> list[DateRange]:
        return merge_ranges(span for spans in self.ranges.values() for span in spans)


def read_marks(session: Session, connection_id: uuid.UUID, kind: str) -> DirtySet:
    query = (
        select(DirtyMark)
        .where(DirtyMark.connection_id == connection_id, DirtyMark.kind == kind)
        .order_by(DirtyMark.id)
        .limit(MAX_MARKS_PER_PASS)
    )
    dirty = DirtySet()
    for mark in session.scalars(query):
        dirty.mark_ids.append(mark.id)
        if dirty.oldest is None or mark.created_at < dirty.oldest:
            dirty.oldest = mark.created_at
        dirty.ranges.setdefault(mark.subject_id, []).append(DateRange(mark.start, mark.end))
    for subject_id, spans in dirty.ranges.items():
        dirty.ranges[subject_id] = merge_ranges(spans)
    return dirty


def clear_marks(session: Session, mark_ids: Sequence[int]) -> None:
    """Delete exactly the marks a pass read; marks written since then stay for the next pass."""
    for start in range(0, len(mark_ids), 500):
        session.execute(delete(DirtyMark).where(DirtyMark.id.in_(mark_ids[start : start + 500])))


def pending_marks(session: Session, connection_id: uuid.UUID) -> int:
    query = select(func.count()).where(DirtyMark.connection_id == connection_id)
    return int(session.scalar(query) or 0)


def acked_availability(
    session: Session, connection_id: uuid.UUID, mappings: Mappings, dirty: DirtySet
) -> dict[str, dict[date, int]]:
    """What the channel acknowledged for each mapped room type over its dirty span."""
    return {
        code: dict(rows)
        for code, rows in _acked_rows(
            session, AckedAvailability, connection_id, mappings.room_types, dirty
        ).items()
    }


def acked_rates(
    session: Session, connection_id: uuid.UUID, mappings: Mappings, dirty: DirtySet
) -> dict[RatePlanKey, dict[date, RateValues]]:
    """What the channel acknowledged for each mapped rate plan over its dirty span."""
    return {
        key: {day: rate_values_from_json(value) for day, value in rows.items()}
        for key, rows in _acked_rows(
            session, AckedRate, connection_id, mappings.rate_plans, dirty
        ).items()
    }


def _subject_column(model: Any) -> Any:
    """The column naming the room type or rate plan of an acknowledged-state table."""
    return model.room_type_id if model is AckedAvailability else model.rate_plan_id


def _value_column(model: Any) -> Any:
    """The column holding the acknowledged value of an acknowledged-state table."""
    return model.availability if model is AckedAvailability else model.rate_values


def _acked_rows(
    session: Session,
    model: Any,
    connection_id: uuid.UUID,
    codes: Mapping[uuid.UUID, Any],
    dirty: DirtySet,
) -> dict[Any, dict[date, Any]]:
    """Acknowledged values per channel code and date, for the mapped subjects of ``dirty``
    (either table), read as plain tuples: no ORM object per subject-day."""
    subject = _subject_column(model)
    found: dict[Any, dict[date, Any]] = {}
    for subject_id, spans in dirty.ranges.items():
        code = codes.get(subject_id)
        if code is None:
            continue
        query = select(model.stay_date, _value_column(model)).where(
            model.connection_id == connection_id,
            subject == subject_id,
            model.stay_date >= spans[0].start,
            model.stay_date < spans[-1].end,
        )
        found[code] = {stay_date: value for stay_date, value in session.execute(query)}
    return found


def store_availability(
    session: Session,
    connection_id: uuid.UUID,
    mappings: Mappings,
    accepted: Mapping[str, Mapping[date, int]],
) -> None:
    """Write the acknowledged units of the dates a channel just accepted."""
    for code, days in accepted.items():
        room_type_id = mappings.room_type_id(code)
        if room_type_id is not None and days:
            _upsert_days(
                session, AckedAvailability, connection_id, room_type_id, "availability", days
            )


def store_rates(
    session: Session,
    connection_id: uuid.UUID,
    mappings: Mappings,
    accepted: Mapping[RatePlanKey, Mapping[date, RateValues]],
) -> None:
    """Write the acknowledged rate values of the dates a channel just accepted."""
    for key, days in accepted.items():
        rate_plan_id = mappings.rate_plan_id(key)
        if rate_plan_id is not None and days:
            encoded = {day: rate_values_to_json(values) for day, values in days.items()}
            _upsert_days(session, AckedRate, connection_id, rate_plan_id, "rate_values", encoded)


def _upsert_days(
    session: Session,
    model: Any,
    connection_id: uuid.UUID,
    subject_id: uuid.UUID,
    column: str,
    values: Mapping[date, Any],
) -> None:
    """Insert or update one acknowledged value per date of one subject (either acked table),
    as batched upserts: one statement per batch, not one ORM row per subject-day."""
    subject = _subject_column(model).key
    upsert_rows(
        session,
        model.__table__,
        [
            {"connection_id": connection_id, subject: subject_id, "stay_date": day, column: value}
            for day, value in values.items()
        ],
        ("connection_id", subject, "stay_date"),
        (column,),
    )


def forget_acked(session: Session, connection_id: uuid.UUID) -> None:
    """A full sync: nothing counts as acknowledged any more, so everything is sent again."""
    session.execute(
        delete(AckedAvailability).where(AckedAvailability.connection_id == connection_id)
    )
    session.execute(delete(AckedRate).where(AckedRate.connection_id == connection_id))


def forget_marked(session: Session, bucket_key: str) -> None:
    """A holder of the bucket died with a request perhaps on the wire: what the channel holds
    over the dates still marked (that request's among them: marks go only once the answer is
    recorded) is unknown, so nothing there counts as acknowledged and the values are sent
    whole. Coarse on purpose (each subject's whole marked span): it only costs a larger
    request, once."""
    spans = session.execute(
        select(
            DirtyMark.connection_id,
            DirtyMark.kind,
            DirtyMark.subject_id,
            func.min(DirtyMark.start),
            func.max(DirtyMark.end),
        )
        .join(Connection, Connection.id == DirtyMark.connection_id)
        .where(Connection.bucket_key == bucket_key)
        .group_by(DirtyMark.connection_id, DirtyMark.kind, DirtyMark.subject_id)
    ).all()
    for connection_id, kind, subject_id, start, end in spans:
        model: Any = AckedAvailability if kind == AVAILABILITY else AckedRate
        session.execute(
            delete(model).where(
                model.connection_id == connection_id,
                _subject_column(model) == subject_id,
                model.stay_date >= start,
                model.stay_date < end,
            )
        )


def forget_sent(
    session: Session,
    connection_id: uuid.UUID,
    kind: str,
    mappings: Mappings,
    updates: Iterable[AvailabilityUpdate | RateUpdate],
) -> None:
    """The channel may hold what these updates said, or not: forget what was acknowledged over
    their dates and mark them, so that the bucket's holder sends innsync's values once more."""
    for update in updates:
        if isinstance(update, AvailabilityUpdate):
            model: Any = AckedAvailability
            subject_id = mappings.room_type_id(update.room_type_code)
        else:
            model, subject_id = AckedRate, mappings.rate_plan_id(update.rate_plan)
        if subject_id is None:
            continue
        session.execute(
            delete(model).where(
                model.connection_id == connection_id,
                _subject_column(model) == subject_id,
                model.stay_date >= update.dates.start,
                model.stay_date < update.dates.end,
            )
        )
        insert_marks(
            session,
            [
                {
                    "connection_id": connection_id,
                    "kind": kind,
                    "subject_id": subject_id,
                    "start": update.dates.start,
                    "end": update.dates.end,
                    "created_at": utcnow(),
                }
            ],
        )


def record_dead_letters(
    session: Session,
    connection_id: uuid.UUID,
    kind: str,
    mappings: Mappings,
    rejected: Iterable[tuple[AvailabilityUpdate | RateUpdate, str]],
) -> int:
    count = 0
    for update, reason in rejected:
        subject = (
            mappings.room_type_id(update.room_type_code)
            if isinstance(update, AvailabilityUpdate)
            else mappings.rate_plan_id(update.rate_plan)
        )
        session.add(
            DeadLetter(
                connection_id=connection_id,
                kind=kind,
                subject_id=subject,
                start=update.dates.start,
                end=update.dates.end,
                payload=dict(update_to_json(update)),
                reason=reason[:2000],
            )
        )
        count += 1
    return count


def log_request(
    session: Session,
    connection_id: uuid.UUID,
    kind: str,
    updates: Sequence[AvailabilityUpdate | RateUpdate],
    request_bytes: int,
    outcome: str,
    duration_ms: int,
    detail: str = "",
    task_id: str | None = None,
) -> None:
    starts = [update.dates.start for update in updates]
    ends = [update.dates.last for update in updates]
    session.add(
        SyncLogEntry(
            connection_id=connection_id,
            kind=kind,
            entries=len(updates),
            first_date=min(starts) if starts else None,
            last_date=max(ends) if ends else None,
            request_bytes=request_bytes,
            outcome=outcome,
            detail=detail[:2000],
            task_id=task_id,
            duration_ms=duration_ms,
        )
    )


KINDS = (AVAILABILITY, RATES)


def backlog(session: Session, now: datetime) -> tuple[int, float]:
    """Dirty marks waiting across all connections, and the age in seconds of the oldest one."""
    count, oldest = session.execute(select(func.count(), func.min(DirtyMark.created_at))).one()
    if oldest is not None and not isinstance(oldest, datetime):
        oldest = datetime.fromisoformat(str(oldest))
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return int(count or 0), max(age, 0.0)
