"""Writing dirty marks in the caller's transaction, for every connection that pushes the subject."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.ical_export.models import IcalExport
from innsync.marketplace.models import AriSource
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.outbox.wakeup import note_marks_written
from innsync.stay_dates import DateRange


def _pushing_connections(session: Session, property_id: uuid.UUID) -> list[uuid.UUID]:
    query = select(Connection.id).where(
        Connection.property_id == property_id,
        Connection.push_enabled.is_(True),
        Connection.state != "disabled",
        # A property's ARI source is where its ARI comes from: never pushed back to it.
        Connection.id.not_in(select(AriSource.connection_id)),
    )
    return list(session.scalars(query))


def _mark(
    session: Session,
    property_id: uuid.UUID,
    kind: str,
    subject_ids: Iterable[uuid.UUID],
    dates: Iterable[DateRange],
) -> int:
    ranges = list(dates)
    return _mark_spans(
        session, property_id, kind, [(subject, span) for subject in subject_ids for span in ranges]
    )


def _mark_spans(
    session: Session,
    property_id: uuid.UUID,
    kind: str,
    spans: Sequence[tuple[uuid.UUID, DateRange]],
) -> int:
    """One mark per pushing connection and (subject, range), in one batched INSERT."""
    if not spans:
        return 0
    _mark_ical_exports(session, property_id)
    rows = [
        {
            "connection_id": connection_id,
            "kind": kind,
            "subject_id": subject_id,
            "start": span.start,
            "end": span.end,
            "created_at": utcnow(),
        }
        for connection_id in _pushing_connections(session, property_id)
        for subject_id, span in spans
    ]
    insert_marks(session, rows)
    return len(rows)


def insert_marks(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert dirty-mark rows in one executemany (no ORM object per mark)."""
    if rows:
        session.execute(insert(DirtyMark), list(rows))
        note_marks_written(session)


def _mark_ical_exports(session: Session, property_id: uuid.UUID) -> None:
    """iCal exports are served, not pushed: the same change makes the next poll rebuild them."""
    session.execute(
        update(IcalExport)
        .where(IcalExport.property_id == property_id)
        .values(dirty_version=IcalExport.dirty_version + 1)
        .execution_options(synchronize_session=False)
    )


def mark_unit_change(session: Session, property_id: uuid.UUID) -> None:
    """A stay moved between units of one room type: channels sell room types, so only the
    served per-unit exports can show it."""
    _mark_ical_exports(session, property_id)


def mark_availability(
    session: Session,
    property_id: uuid.UUID,
    room_type_ids: Iterable[uuid.UUID],
    dates: Iterable[DateRange],
) -> int:
    """Availability of these room types may have changed on these dates."""
    return _mark(session, property_id, AVAILABILITY, room_type_ids, dates)


def mark_rates(
    session: Session,
    property_id: uuid.UUID,
    rate_plan_ids: Iterable[uuid.UUID],
    dates: Iterable[DateRange],
) -> int:
    """Rates or restrictions of these plans may have changed (callers include derived plans)."""
    return _mark(session, property_id, RATES, rate_plan_ids, dates)


def mark_rate_spans(
    session: Session, property_id: uuid.UUID, spans: Sequence[tuple[uuid.UUID, DateRange]]
) -> int:
    """Rates of each (rate plan, range) may have changed: one batch for a whole bulk write."""
    return _mark_spans(session, property_id, RATES, spans)


def mark_connection(
    session: Session,
    connection_id: uuid.UUID,
    room_type_ids: Iterable[uuid.UUID],
    rate_plan_ids: Iterable[uuid.UUID],
    dates: DateRange,
) -> None:
    """Everything of one connection over ``dates``: after a mapping change or for a full sync."""
    mark_connections(session, [ConnectionMarks(connection_id, room_type_ids, rate_plan_ids, dates)])


@dataclass(frozen=True)
class ConnectionMarks:
    """Every subject of one connection to mark over ``dates``."""

    connection_id: uuid.UUID
    room_type_ids: Iterable[uuid.UUID]
    rate_plan_ids: Iterable[uuid.UUID]
    dates: DateRange


def mark_connections(session: Session, connections: Sequence[ConnectionMarks]) -> None:
    """``mark_connection`` for many connections: one statement for their iCal exports, one
    batch of marks."""
    if not connections:
        return
    session.execute(
        update(IcalExport)
        .where(IcalExport.connection_id.in_([each.connection_id for each in connections]))
        .values(dirty_version=IcalExport.dirty_version + 1)
        .execution_options(synchronize_session=False)
    )
    created_at = utcnow()
    insert_marks(
        session,
        [
            {
                "connection_id": each.connection_id,
                "kind": kind,
                "subject_id": subject_id,
                "start": each.dates.start,
                "end": each.dates.end,
                "created_at": created_at,
            }
            for each in connections
            for kind, subjects in ((AVAILABILITY, each.room_type_ids), (RATES, each.rate_plan_ids))
            for subject_id in subjects
        ],
    )
