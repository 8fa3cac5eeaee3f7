"""The change order of reservations: each change of a reservation gets its property's next number.

The reservations list pages by ``Reservation.change_seq`` (reservations/listing.py). For a cursor
to skip nothing, a reader that sees number N must already see every committed change numbered
below N. So numbers are taken at the very end of a transaction (``before_commit``), by updating
the property's ``reservation_sequences`` row: that row stays locked until the commit, so a
property's changes commit in the order of their numbers. Taking the lock last, after the room-type
locks every reservation write takes first, keeps one lock order everywhere (no deadlock), and
holds it only for the commit itself.

The numbers are given by session events, so every path that writes a reservation (direct, channel
revisions, conflict resolution, anything added later) is numbered without having to remember to.
A bulk ``UPDATE`` statement on ``reservations`` bypasses the ORM and is not numbered: do not
write reservations that way.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.reservations.models import Reservation, ReservationSequence

_TOUCHED = "innsync.reservations.touched"


def _touched(session: Session) -> dict[int, Reservation]:
    found: dict[int, Reservation] = session.info.setdefault(_TOUCHED, {})
    return found


def _collect(session: Session) -> None:
    """Remember the reservations about to be written; they are numbered at commit."""
    touched = _touched(session)
    for instance in (*session.new, *session.dirty):
        if isinstance(instance, Reservation) and (
            instance in session.new or session.is_modified(instance)
        ):
            touched[id(instance)] = instance


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    _collect(session)


def _before_commit(session: Session) -> None:
    _collect(session)
    touched = session.info.pop(_TOUCHED, {})
    by_property: dict[uuid.UUID, list[Reservation]] = defaultdict(list)
    for reservation in touched.values():
        if reservation in session and reservation not in session.deleted:
            by_property[reservation.property_id].append(reservation)
    for property_id in sorted(by_property):
        reservations = sorted(by_property[property_id], key=lambda r: str(r.id))
        last = take_numbers(session, property_id, len(reservations))
        for offset, reservation in enumerate(reservations):
            reservation.change_seq = last - len(reservations) + 1 + offset


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_TOUCHED, None)


def take_numbers(session: Session, property_id: uuid.UUID, count: int) -> int:
    """Reserve ``count`` numbers of the property's change order; returns the last of them.

    The property's row stays locked until the transaction ends.
    """
    connection = session.connection()
    bump = (
        update(ReservationSequence)
        .where(ReservationSequence.property_id == property_id)
        .values(last_seq=ReservationSequence.last_seq + count)
    )
    if connection.execute(bump).rowcount == 0:
        # The property's first reservation. Two transactions may both get here: the loser's
        # insert fails on the primary key inside its savepoint, and it bumps the winner's row.
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(ReservationSequence).values(property_id=property_id, last_seq=count)
                )
        except IntegrityError:
            connection.execute(bump)
    last = connection.scalar(
        select(ReservationSequence.last_seq).where(ReservationSequence.property_id == property_id)
    )
    if last is None:  # pragma: no cover - the row was written just above
        raise RuntimeError(f"no change order for property {property_id}")
    return int(last)


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_commit", _forget)
event.listen(Session, "after_soft_rollback", _forget)
