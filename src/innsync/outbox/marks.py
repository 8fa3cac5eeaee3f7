"""Writing dirty marks in the caller's transaction, for every connection that pushes the subject."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.ical_export.models import IcalExport
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.stay_dates import DateRange


def _pushing_connections(session: Session, property_id: uuid.UUID) -> list[uuid.UUID]:
    query = select(Connection.id).where(
        Connection.property_id == property_id,
        Connection.push_enabled.is_(True),
        Connection.state != "disabled",
    )
    return list(session.scalars(query))


def _mark(
    session: Session,
    property_id: uuid.UUID,
    kind: str,
    subject_ids: Iterable[uuid.UUID],
    dates: Iterable[DateRange],
) -> int:
    subjects, ranges = list(subject_ids), list(dates)
    if subjects and ranges:
        _mark_ical_exports(session, property_id)
    connections = _pushing_connections(session, property_id) if subjects and ranges else []
    for connection_id in connections:
        for subject_id in subjects:
            for span in ranges:
                session.add(
                    DirtyMark(
                        connection_id=connection_id,
                        kind=kind,
                        subject_id=subject_id,
                        start=span.start,
                        end=span.end,
                    )
                )
    return len(connections) * len(subjects) * len(ranges)


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


def mark_connection(
    session: Session,
    connection_id: uuid.UUID,
    room_type_ids: Iterable[uuid.UUID],
    rate_plan_ids: Iterable[uuid.UUID],
    dates: DateRange,
) -> None:
    """Everything of one connection over ``dates``: after a mapping change or for a full sync."""
    session.execute(
        update(IcalExport)
        .where(IcalExport.connection_id == connection_id)
        .values(dirty_version=IcalExport.dirty_version + 1)
        .execution_options(synchronize_session=False)
    )
    for kind, subjects in ((AVAILABILITY, room_type_ids), (RATES, rate_plan_ids)):
        for subject_id in subjects:
            session.add(
                DirtyMark(
                    connection_id=connection_id,
                    kind=kind,
                    subject_id=subject_id,
                    start=dates.start,
                    end=dates.end,
                )
            )
