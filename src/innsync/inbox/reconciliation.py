"""The reconciliation report of one connection: the channel's bookings against innsync's.

Over a window of arrival dates, the adapter lists the bookings the channel holds now
(``ListsBookings``) and innsync lists the reservations it holds from that connection. A
booking only the channel has was missed (or removed from innsync); one only innsync has is
unknown to the channel, or moved out of the window there (read one by one when the adapter
``ReadsBooking``, so a moved booking shows as differing, not missing); one both have may
differ in status (cancelled or not) or dates. innsync's side is the reservations received
from the connection and the direct bookings innsync pushed to it. The report only reads: a
forced pull of a booking (``inbox.forced_pull``) brings innsync in step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.contract import ListsBookings, ReadsBooking
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.types import BookingRevision
from innsync.connections.models import Connection
from innsync.db.units import UnitsOfWork
from innsync.errors import ConflictError, InvalidInputError
from innsync.inbox.timing import AdapterFactory
from innsync.outbox.models import BookingPush
from innsync.properties.service import get_owned
from innsync.reservations.models import Reservation
from innsync.stay_dates import DateRange

# A report covers at most this many arrival days: one listing call per page on the channel,
# and a window an operator can read.
MAX_WINDOW_DAYS = 366
# Bookings only innsync has are read one by one (to tell moved from missing) up to this many;
# past it they are reported as missing on the channel unread.
MAX_SINGLE_READS = 50
# Held alike on both sides, yet only one side's window listing has it (a channel that lists by
# another date than arrival): reported rather than hidden.
NOT_LISTED = "not_in_window_listing"


@dataclass(frozen=True, slots=True)
class Side:
    """One booking as one side holds it."""

    status: str  # innsync: confirmed | cancelled | no_show; channel: new | modified | cancelled
    arrival: date
    departure: date

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True, slots=True)
class Finding:
    channel_booking_id: str
    reservation_id: uuid.UUID | None
    channel: Side | None
    innsync: Side | None
    differences: tuple[str, ...]


@dataclass(slots=True)
class Report:
    connection_id: uuid.UUID
    arrivals: DateRange
    channel_bookings: int = 0
    innsync_bookings: int = 0
    missing_in_innsync: list[Finding] = field(default_factory=list)
    missing_on_channel: list[Finding] = field(default_factory=list)
    differing: list[Finding] = field(default_factory=list)


def _side(revision: BookingRevision) -> Side:
    return Side(revision.status, revision.arrival, revision.departure)


def differences(channel: Side, innsync: Side) -> tuple[str, ...]:
    found = []
    if channel.is_cancelled != innsync.is_cancelled:
        found.append("status")
    if channel.arrival != innsync.arrival:
        found.append("arrival")
    if channel.departure != innsync.departure:
        found.append("departure")
    return tuple(found)


async def reconcile(
    db: UnitsOfWork,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    arrivals: DateRange,
    adapter_for: AdapterFactory,
) -> Report:
    """Compare the channel's bookings arriving in ``arrivals`` with innsync's reservations."""
    if arrivals.end <= arrivals.start:
        raise InvalidInputError("the window is empty: 'to' must be after 'from'")
    if (arrivals.end - arrivals.start).days > MAX_WINDOW_DAYS:
        raise InvalidInputError(f"the window is longer than {MAX_WINDOW_DAYS} days")

    def prepare(session: Session) -> tuple[str, object, dict[str, tuple[uuid.UUID, Side]]]:
        connection = get_owned(session, Connection, tenant_id, connection_id)
        ours = _held(
            session,
            tenant_id,
            connection.id,
            Reservation.arrival >= arrivals.start,
            Reservation.arrival < arrivals.end,
        )
        return connection.channel, adapter_for(connection), ours

    channel, adapter, ours = await db.read(prepare)
    if not isinstance(adapter, ListsBookings):
        raise ConflictError(f"the {channel} channel cannot list its bookings")
    theirs = {
        revision.channel_booking_id: revision for revision in await adapter.list_bookings(arrivals)
    }
    report = Report(connection_id, arrivals, len(theirs), len(ours))
    for booking_id, revision in sorted(theirs.items()):
        mine = ours.get(booking_id)
        if mine is None:
            # innsync may hold it with an arrival outside the window: looked up by id.
            report.missing_in_innsync.append(
                Finding(booking_id, None, _side(revision), None, ("missing_in_innsync",))
            )
            continue
        changed = differences(_side(revision), mine[1])
        if changed:
            report.differing.append(Finding(booking_id, mine[0], _side(revision), mine[1], changed))
    only_ours = sorted(set(ours) - set(theirs))
    for position, booking_id in enumerate(only_ours):
        reservation_id, held = ours[booking_id]
        found: BookingRevision | None = None
        if isinstance(adapter, ReadsBooking) and position < MAX_SINGLE_READS:
            try:
                found = await adapter.read_booking(booking_id)
            except ChannelRejectedError:
                found = None  # the channel does not know it
        if found is None:
            report.missing_on_channel.append(
                Finding(booking_id, reservation_id, None, held, ("missing_on_channel",))
            )
        else:
            changed = differences(_side(found), held) or (NOT_LISTED,)
            report.differing.append(
                Finding(booking_id, reservation_id, _side(found), held, changed)
            )
    await _look_up_moved(db, tenant_id, connection_id, report)
    return report


async def _look_up_moved(
    db: UnitsOfWork, tenant_id: uuid.UUID, connection_id: uuid.UUID, report: Report
) -> None:
    """A booking the channel lists in the window that innsync holds with an arrival outside
    it differs in dates; it is not missing."""
    wanted = [finding.channel_booking_id for finding in report.missing_in_innsync]
    if not wanted:
        return

    def read(session: Session) -> dict[str, tuple[uuid.UUID, Side]]:
        return _held(session, tenant_id, connection_id, booking_ids=wanted)

    elsewhere = await db.read(read)
    still_missing = []
    for finding in report.missing_in_innsync:
        held = elsewhere.get(finding.channel_booking_id)
        if held is None or finding.channel is None:
            still_missing.append(finding)
            continue
        changed = differences(finding.channel, held[1]) or (NOT_LISTED,)
        report.differing.append(
            Finding(finding.channel_booking_id, held[0], finding.channel, held[1], changed)
        )
    report.missing_in_innsync = still_missing


def _held(
    session: Session,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    *where: Any,
    booking_ids: list[str] | None = None,
) -> dict[str, tuple[uuid.UUID, Side]]:
    """innsync's bookings on the channel, by the channel's booking id: the reservations that
    came from the connection, and the direct bookings innsync pushed to it; ``where`` holds
    conditions on the reservation, ``booking_ids`` narrows to those channel ids."""
    columns = (Reservation.id, Reservation.status, Reservation.arrival, Reservation.departure)
    received = select(Reservation.channel_booking_id, *columns).where(
        Reservation.tenant_id == tenant_id,
        Reservation.connection_id == connection_id,
        Reservation.channel_booking_id.is_not(None),
        *where,
    )
    if booking_ids is not None:
        received = received.where(Reservation.channel_booking_id.in_(booking_ids))
    pushed = (
        select(BookingPush.channel_booking_id, *columns)
        .join(Reservation, Reservation.id == BookingPush.reservation_id)
        .where(
            BookingPush.tenant_id == tenant_id,
            BookingPush.connection_id == connection_id,
            BookingPush.channel_booking_id.is_not(None),
            *where,
        )
    )
    if booking_ids is not None:
        pushed = pushed.where(BookingPush.channel_booking_id.in_(booking_ids))
    held: dict[str, tuple[uuid.UUID, Side]] = {}
    for query in (received, pushed):
        for booking_id, reservation_id, status, arrival, departure in session.execute(query):
            held[str(booking_id)] = (reservation_id, Side(status, arrival, departure))
    return held
