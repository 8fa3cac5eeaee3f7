"""Guest erasure (GDPR article 17): a guest's personal data removed from everywhere innsync keeps
it, while the bookings stay: dates, rooms, prices, channel, references and status.

The unit is the person: erasing starts from one reservation (what a PMS holds when a guest asks)
or from an e-mail, and reaches the guest record and every reservation linked to it. For each
one it blanks the reservation's free text and the personal parts of its guarantee, scrubs the
change history, conflicts and event payloads (so webhooks not yet delivered send no details),
empties the raw bodies of the inbox items that carried the booking, and scrubs sync log details
and booking push errors that quote the guest. Inbox items still pending or parked are left to
be applied: erasing them would lose a booking revision (see docs/privacy.md).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.errors import NotFoundError
from innsync.events.models import Event
from innsync.inbox.models import APPLIED, IGNORED, REJECTED, InboxItem
from innsync.outbox.models import BookingPush
from innsync.privacy.scrub import ERASED_TEXT, quotes, scrub
from innsync.properties.service import get_owned
from innsync.reservations.guests import hashes_of, normalize_email
from innsync.reservations.models import (
    Guest,
    Reservation,
    ReservationChange,
    ReservationConflict,
)
from innsync.reservations.service import snapshot
from innsync.sync.models import SyncLogEntry

logger = logging.getLogger(__name__)

# ReservationChange.action of the audit row an erasure leaves on each reservation.
ERASED_ACTION = "guest_erased"
# Inbox items whose bodies are emptied: those already used or refused. Pending and parked
# items still have to be applied (a cancellation must not be lost).
SETTLED = (APPLIED, IGNORED, REJECTED)
# Rows read per batch while looking for the booking in raw bodies and logs.
BATCH = 200
# Search texts shorter than this would match unrelated bodies (a two-letter surname).
MIN_NEEDLE = 4


@dataclass
class ErasureReport:
    """What an erasure touched: ids and counts, never the erased values."""

    guest_id: uuid.UUID | None
    reservation_ids: list[uuid.UUID] = field(default_factory=list)
    changes: int = 0
    conflicts: int = 0
    events: int = 0
    inbox_items: int = 0
    inbox_items_pending: int = 0
    sync_log_entries: int = 0
    booking_pushes: int = 0


def erase_reservation_guest(
    session: Session, tenant_id: uuid.UUID, reservation_id: uuid.UUID, actor: str
) -> ErasureReport:
    """Erase the guest of this reservation, in it and in every other reservation of theirs."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    guest = session.get(Guest, reservation.guest_id) if reservation.guest_id else None
    return _erase(session, tenant_id, guest, [reservation], actor)


def erase_guest_by_email(
    session: Session, tenant_id: uuid.UUID, email: str, actor: str
) -> ErasureReport:
    """Erase the tenant's guest with this e-mail (exact, any case) from all their bookings."""
    guest = session.scalar(
        select(Guest)
        .where(
            Guest.tenant_id == tenant_id, Guest.email_hash.in_(hashes_of(normalize_email(email)))
        )
        .limit(1)
    )
    if guest is None:
        raise NotFoundError("no guest with this e-mail")
    return _erase(session, tenant_id, guest, [], actor)


def _erase(
    session: Session,
    tenant_id: uuid.UUID,
    guest: Guest | None,
    reservations: list[Reservation],
    actor: str,
) -> ErasureReport:
    if guest is not None:
        reservations = [
            *reservations,
            *session.scalars(
                select(Reservation)
                .where(Reservation.tenant_id == tenant_id, Reservation.guest_id == guest.id)
                .order_by(Reservation.id)
            ),
        ]
    unique = list({r.id: r for r in reservations}.values())
    report = ErasureReport(guest.id if guest is not None else None, [r.id for r in unique])
    needles = _needles(guest, unique)
    for reservation in unique:
        _erase_reservation(session, reservation, needles, report)
    if guest is not None:
        _blank_guest(guest)
    _erase_inbox(session, tenant_id, unique, report)
    _erase_logs(session, tenant_id, needles, report)
    for reservation in unique:
        session.add(
            ReservationChange(
                tenant_id=tenant_id,
                reservation_id=reservation.id,
                revision=reservation.revision,
                action=ERASED_ACTION,
                changes={"guest": "erased"},
                snapshot=snapshot(session, reservation),
                origin=actor[:64],
            )
        )
    session.flush()
    # The audit line: ids and counts only.
    logger.info(
        "guest erased",
        extra={
            "tenant_id": str(tenant_id),
            "guest_id": str(report.guest_id) if report.guest_id else None,
            "reservations": [str(i) for i in report.reservation_ids],
            "inbox_items": report.inbox_items,
            "events": report.events,
            "actor": actor,
        },
    )
    return report


def _needles(guest: Guest | None, reservations: list[Reservation]) -> list[str]:
    """Texts that give the guest away in a log line: e-mail, phone, names."""
    found: list[str] = []
    if guest is not None:
        found += [guest.email or "", guest.phone or "", guest.first_name, guest.last_name]
        found.append(f"{guest.first_name} {guest.last_name}".strip())
    found += [r.guarantee.get("cardholder_name") or "" for r in reservations if r.guarantee]
    return sorted({n for n in found if len(n) >= MIN_NEEDLE}, key=len, reverse=True)


def _erase_reservation(
    session: Session, reservation: Reservation, needles: list[str], report: ErasureReport
) -> None:
    reservation.notes = ""
    reservation.special_requests = ""
    if reservation.guarantee is not None:
        reservation.guarantee = scrub(reservation.guarantee)
    if reservation.pms_base is not None:
        reservation.pms_base = scrub(reservation.pms_base)
    for change in session.scalars(
        select(ReservationChange).where(ReservationChange.reservation_id == reservation.id)
    ):
        change.changes = scrub(change.changes, needles)
        change.snapshot = scrub(change.snapshot, needles)
        report.changes += 1
    for conflict in session.scalars(
        select(ReservationConflict).where(ReservationConflict.reservation_id == reservation.id)
    ):
        conflict.channel_version = scrub(conflict.channel_version, needles)
        conflict.pms_version = scrub(conflict.pms_version, needles)
        report.conflicts += 1
    for event in session.scalars(
        select(Event).where(
            Event.tenant_id == reservation.tenant_id, Event.subject_id == str(reservation.id)
        )
    ):
        event.payload = scrub(event.payload, needles)
        report.events += 1


def _blank_guest(guest: Guest) -> None:
    """Keep the row (reservations point to it) with nothing that says who it was."""
    guest.first_name = guest.last_name = ""
    guest.email = guest.phone = guest.address = guest.city = guest.postal_code = None
    guest.country = guest.language = None
    guest.email_hash = guest.phone_hash = guest.name_hash = None
    guest.erased_at = utcnow()


def _erase_inbox(
    session: Session, tenant_id: uuid.UUID, reservations: list[Reservation], report: ErasureReport
) -> None:
    """Empty the bodies that carried these bookings: the items their history names, and any
    other item of their connections whose raw body holds one of their booking ids."""
    named = {
        int(origin.removeprefix("inbox:"))
        for origin in session.scalars(
            select(ReservationChange.origin).where(
                ReservationChange.reservation_id.in_([r.id for r in reservations]),
                ReservationChange.origin.like("inbox:%"),
            )
        )
        if origin.removeprefix("inbox:").isdigit()
    }
    booking_ids: dict[uuid.UUID, list[re.Pattern[bytes]]] = {}
    for r in reservations:
        if r.connection_id is not None:
            booking_ids.setdefault(r.connection_id, []).extend(
                _standalone(i) for i in (r.channel_booking_id, r.ota_reservation_code) if i
            )
    for connection_id, ids in booking_ids.items():
        for item in _batched(
            session,
            select(InboxItem).where(
                InboxItem.tenant_id == tenant_id, InboxItem.connection_id == connection_id
            ),
            InboxItem.id,
        ):
            if item.id in named or any(i.search(item.body) for i in ids):
                _erase_item(item, report)
            else:
                session.expunge(item)  # read only to look: keep the session small
    for item_id in named:
        item = session.get(InboxItem, item_id)
        if item is not None and item.tenant_id == tenant_id:
            _erase_item(item, report)


def _standalone(booking_id: str) -> re.Pattern[bytes]:
    """The id as a whole token: booking "B1" is not in a body about "B10"."""
    return re.compile(rb"(?<![0-9A-Za-z])" + re.escape(booking_id.encode()) + rb"(?![0-9A-Za-z])")


def _erase_item(item: InboxItem, report: ErasureReport) -> None:
    if item.status not in SETTLED:
        report.inbox_items_pending += 1
    elif item.body != b"":
        item.body = b""
        item.reason = (item.reason + "; " if item.reason else "") + "body erased (guest erasure)"
        report.inbox_items += 1


def _erase_logs(
    session: Session, tenant_id: uuid.UUID, needles: list[str], report: ErasureReport
) -> None:
    """Scrub channel answers that quote the guest, in the tenant's sync log and push errors."""
    if not needles:
        return
    connections = select(Connection.id).where(Connection.tenant_id == tenant_id)
    for entry in _batched(
        session,
        select(SyncLogEntry).where(SyncLogEntry.connection_id.in_(connections)),
        SyncLogEntry.id,
    ):
        if quotes(entry.detail, needles):
            entry.detail = ERASED_TEXT
            report.sync_log_entries += 1
    for push in session.scalars(
        select(BookingPush).where(BookingPush.tenant_id == tenant_id, BookingPush.last_error != "")
    ):
        if quotes(push.last_error, needles):
            push.last_error = ERASED_TEXT
            report.booking_pushes += 1


def _batched(session: Session, query: Any, key: Any) -> Iterable[Any]:
    """Rows of ``query`` a batch at a time in key order: bounded memory on a large inbox."""
    after = None
    while True:
        page = query.order_by(key).limit(BATCH)
        if after is not None:
            page = page.where(key > after)
        rows = list(session.scalars(page))
        if not rows:
            return
        yield from rows
        after = getattr(rows[-1], key.key)
