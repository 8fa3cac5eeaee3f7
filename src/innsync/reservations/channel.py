"""Channel bookings: apply one neutral booking revision to its reservation, in the caller's
transaction, with the ledger, audit row and PMS events.

- **Order.** The revisions of one booking are ordered by the channel's time of the revision
  (``BookingRevision.received_at``, which adapters fill from the channel's own timestamp), then by
  revision id. A revision is applied only when it is newer than the one the reservation holds, so
  a reservation always shows the newest revision seen, whatever order they came in; duplicates and
  replays change nothing.
- **Newest wins, whole.** The reservation takes everything from its newest revision: status,
  dates, rooms, amounts (a cancellation without rooms leaves it without rooms; the audit trail
  keeps what it had). So the result never depends on the order of delivery.
- **Tombstones.** A cancellation of an unknown booking is stored as a cancelled reservation with no
  ledger effect; the older "new" revision that arrives later is then stale and changes nothing.
- **Short cancellations.** A cancellation naming only the booking (``BookingCancellation``)
  cancels the known reservation keeping its stay, amounts and details; of an unknown booking it
  leaves a tombstone dated the day it was received.
- **Final cancellations.** For channels whose revisions carry no reliable order
  (``CancelsForGood``), a booking the channel cancelled takes no later revision but another
  cancellation: a late modification or a booking delivered after its cancellation is stale.
  (A booking the PMS cancelled still goes through the conflict rules.)
- **Ledger.** Confirmed reservations hold one unit per room and night; a revision moves the
  ledger by the difference between what the reservation held and what it holds now.
- **Overbooking.** A channel booking is never refused. When it takes more units than are free on
  some night it is stored anyway, flagged ``is_overbooked`` (the flag stays until a person clears
  the situation) and an ``inventory.overbooking`` event is written; the ledger move marks the
  room type's availability dirty for every pushing connection, so 0 goes out everywhere.
- **Conflicts.** When the PMS has changed the booking since the last revision applied, a newer
  revision that contradicts the change goes through ``conflict_rules.decide``: it is applied, or
  held as a ``ReservationConflict`` with both versions while the reservation stays as it is.

This module is the use-case; ``revision_checks`` refuses what cannot be applied (before anything
is written), ``stay_ledger`` moves the ledger and reports overbooking, ``conflict_holding`` holds
and supersedes conflicts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import (
    BookingCancellation,
    BookingRevision,
    Guarantee,
    GuestDetails,
    PaymentCollect,
    PaymentType,
)
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.events import kinds
from innsync.money import round_money
from innsync.properties.models import RoomType
from innsync.reservations.assignment import assign_units
from innsync.reservations.conflict_holding import (
    hold_conflict,
    supersede_open_conflict,
    version_of,
)
from innsync.reservations.conflict_rules import Version, contradicted_fields, decide
from innsync.reservations.guests import match_or_create_guest
from innsync.reservations.models import CANCELLED, CONFIRMED, Reservation, ReservationRoom
from innsync.reservations.revision_checks import (
    MAX_ID_LENGTH,
    MappedRoom,
    check_revision,
    clipped,
    guest_in,
    mapped_rooms,
)
from innsync.reservations.service import _record, diff, snapshot
from innsync.reservations.stay_ledger import (
    lock_property_room_types,
    report_overbooking,
    set_stay,
)

OTA_NAME_LENGTH = 64  # reservations.ota_name
SPECIAL_REQUESTS_LENGTH = 4000  # as the API allows
Outcome = Literal[
    "created", "modified", "cancelled", "unchanged", "stale", "conflict held", "pms kept"
]


@dataclass(frozen=True, slots=True)
class RevisionOutcome:
    """What applying one revision did; ``is_overbooked`` when it took units that were not free."""

    outcome: Outcome
    reservation_id: uuid.UUID
    is_overbooked: bool = False


def order_key(revision: BookingRevision | BookingCancellation) -> tuple[datetime, str]:
    """The position of a revision among its booking's revisions (call ``check_revision`` first)."""
    return (revision.received_at, revision.revision_id)


def ingest_revision(
    session: Session,
    connection: Connection,
    revision: BookingRevision,
    origin: str,
    received_at: datetime | None = None,
    *,
    final_cancellations: bool = False,
) -> RevisionOutcome:
    """Apply one revision of a booking received on ``connection``.

    Raises ``UnmappedCodeError`` or ``InvalidRevisionError`` before writing anything. Takes the
    locks of every room type of the property first, in id order (as direct bookings do), so
    revisions of one property apply one at a time on every database. A revision that contradicts
    a PMS change made since the last revision goes through the conflict rules
    (``conflict_rules.decide``) and may be held instead of applied; ``received_at`` is when
    innsync received the revision (its inbox time; now when not given), the time the rules
    weigh against the PMS change, both on innsync's clock. With ``final_cancellations`` a
    cancelled reservation takes no later revision but another cancellation.
    """
    check_revision(revision)
    room_types = lock_property_room_types(session, connection.property_id)
    rooms = mapped_rooms(session, connection, revision, room_types)
    reservation = _channel_reservation(session, connection, revision.channel_booking_id)
    if reservation is not None:
        held = (reservation.channel_revised_at, reservation.channel_revision_id or "")
        if reservation.channel_revised_at is not None and order_key(revision) <= held:
            outcome: Outcome = "unchanged" if order_key(revision) == held else "stale"
            return RevisionOutcome(outcome, reservation.id)
        if final_cancellations and revision.status != "cancelled":
            # The channel's own version: before the PMS changed it, if it did since.
            channel_status = (reservation.pms_base or {}).get("status", reservation.status)
            if channel_status == CANCELLED:
                return RevisionOutcome("stale", reservation.id)
        supersede_open_conflict(session, reservation)
        if reservation.pms_base is not None and reservation.pms_changed_at is not None:
            pms = snapshot(session, reservation)
            fields = contradicted_fields(
                Version.of_snapshot(reservation.pms_base),
                Version.of_snapshot(pms),
                version_of(revision, rooms),
            )
            decision = decide(
                contradictions=fields,
                is_cancellation=revision.status == "cancelled",
                # Every booking a channel sends is the channel's own (an OTA booking). Direct
                # bookings pushed to a channel (PushesReservations) would not be; none is yet.
                is_ota_booking=True,
                revision_received_at=received_at or utcnow(),
                pms_changed_at=reservation.pms_changed_at,
            )
            if decision != "apply":
                # The revision is taken in, not applied: a redelivery is "unchanged", an older
                # revision "stale", and only a newer one is checked again.
                reservation.channel_revision_id = revision.revision_id
                reservation.channel_revised_at = revision.received_at
                if decision == "keep_pms":
                    return RevisionOutcome("pms kept", reservation.id)
                hold_conflict(
                    session, reservation, revision, fields, pms, reservation.pms_changed_at, origin
                )
                return RevisionOutcome("conflict held", reservation.id)
    return apply_revision(session, connection, room_types, reservation, revision, rooms, origin)


def ingest_cancellation(
    session: Session,
    connection: Connection,
    cancellation: BookingCancellation,
    origin: str,
    received_at: datetime | None = None,
    *,
    final_cancellations: bool = False,
) -> RevisionOutcome:
    """Apply a cancellation that names only the booking, as a revision built from what the
    reservation holds (or a tombstone when innsync does not know the booking yet)."""
    lock_property_room_types(session, connection.property_id)  # before the look-up: no race
    reservation = _channel_reservation(session, connection, cancellation.channel_booking_id)
    return ingest_revision(
        session,
        connection,
        cancellation_revision(cancellation, reservation),
        origin,
        received_at,
        final_cancellations=final_cancellations,
    )


def cancellation_revision(
    cancellation: BookingCancellation, reservation: Reservation | None
) -> BookingRevision:
    """The whole revision a short cancellation stands for: the reservation's stay, amounts and
    details; for an unknown booking a one-night stay on the day it was received, nothing owed."""
    if reservation is None:
        day = cancellation.received_at.date()
        return BookingRevision(
            channel_booking_id=cancellation.channel_booking_id,
            revision_id=cancellation.revision_id,
            status="cancelled",
            arrival=day,
            departure=day + timedelta(days=1),
            rooms=(),
            guest=GuestDetails(),
            total_amount=Decimal(0),
            currency=cancellation.currency,
            received_at=cancellation.received_at,
            ota_name=cancellation.ota_name,
        )
    guarantee = reservation.guarantee
    return BookingRevision(
        channel_booking_id=cancellation.channel_booking_id,
        revision_id=cancellation.revision_id,
        status="cancelled",
        arrival=reservation.arrival,
        departure=reservation.departure,
        rooms=(),
        guest=GuestDetails(),  # the reservation keeps its guest
        total_amount=reservation.total_amount,
        currency=reservation.currency,
        received_at=cancellation.received_at,
        ota_name=cancellation.ota_name or reservation.ota_name,
        ota_reservation_code=reservation.ota_reservation_code,
        channel_reference=reservation.channel_reference,
        booked_at=reservation.booked_at,
        arrival_time=reservation.arrival_time,
        special_requests=reservation.special_requests or None,
        total_before_tax=reservation.total_before_tax,
        commission=reservation.commission,
        payment_collect=_payment_collect(reservation.payment_collect),
        payment_type=_payment_type(reservation.payment_type),
        guarantee=None if guarantee is None else Guarantee(**guarantee),
    )


def _payment_collect(value: str | None) -> PaymentCollect | None:
    return "property" if value == "property" else "ota" if value == "ota" else None


def _payment_type(value: str | None) -> PaymentType | None:
    return (
        "credit_card"
        if value == "credit_card"
        else "bank_transfer"
        if value == "bank_transfer"
        else None
    )


def _channel_reservation(
    session: Session, connection: Connection, channel_booking_id: str
) -> Reservation | None:
    return session.scalar(
        select(Reservation)
        .where(
            Reservation.tenant_id == connection.tenant_id,
            Reservation.source == str(connection.id),
            Reservation.channel_booking_id == channel_booking_id,
        )
        .execution_options(populate_existing=True)
    )


def apply_revision(
    session: Session,
    connection: Connection,
    room_types: dict[uuid.UUID, RoomType],
    reservation: Reservation | None,
    revision: BookingRevision,
    rooms: list[MappedRoom],
    origin: str,
    actor_key_id: uuid.UUID | None = None,
) -> RevisionOutcome:
    """Make the reservation (new when ``None``) the revision, whole; the PMS's changes, if any,
    are superseded. The caller holds the room-type locks and has checked the revision's order."""
    before = snapshot(session, reservation) if reservation is not None else None
    if reservation is None:
        reservation = Reservation(
            tenant_id=connection.tenant_id,
            property_id=connection.property_id,
            source=str(connection.id),
            channel=connection.channel,
            connection_id=connection.id,
            channel_booking_id=revision.channel_booking_id,
            revision=1,
            is_overbooked=False,
            notes="",
        )
    shortfalls = set_stay(
        session,
        room_types,
        reservation,
        status=CANCELLED if revision.status == "cancelled" else CONFIRMED,
        stay=revision.stay,
        rooms=[
            reservation_room(index, room, revision.currency) for index, room in enumerate(rooms)
        ],
    )
    reservation.currency = revision.currency
    reservation.total_amount = round_money(revision.total_amount, revision.currency)
    take_details(reservation, revision)
    reservation.channel_revision_id = revision.revision_id
    reservation.channel_revised_at = revision.received_at
    reservation.pms_base = reservation.pms_changed_at = None
    session.add(reservation)  # only now: an incomplete row must not be flushed by a query above
    guest = match_or_create_guest(
        session, connection.tenant_id, guest_in(revision.guest), revision.received_at
    )
    if guest is not None:
        reservation.guest_id = guest.id
    session.flush()
    assign_units(session, reservation)

    outcome = record_revision(session, reservation, before, origin, actor_key_id)
    if shortfalls:
        report_overbooking(session, connection, reservation, shortfalls)
    return RevisionOutcome(outcome, reservation.id, is_overbooked=bool(shortfalls))


def record_revision(
    session: Session,
    reservation: Reservation,
    before: dict[str, object] | None,
    origin: str,
    actor_key_id: uuid.UUID | None = None,
) -> Outcome:
    """Audit row and PMS event for what the revision changed (nothing when it changed nothing)."""
    if before is None:
        if reservation.status == CANCELLED:  # a tombstone
            changes: dict[str, object] = {"status": [None, CANCELLED]}
            _record(
                session,
                reservation,
                "cancelled",
                changes,
                actor_key_id,
                kinds.RESERVATION_CANCELLED,
                origin,
            )
            return "cancelled"
        _record(
            session, reservation, "created", {}, actor_key_id, kinds.RESERVATION_CREATED, origin
        )
        return "created"
    changes = diff(before, snapshot(session, reservation))
    if not changes:
        return "unchanged"
    reservation.revision += 1
    if reservation.status == CANCELLED and before["status"] == CONFIRMED:
        _record(
            session,
            reservation,
            "cancelled",
            changes,
            actor_key_id,
            kinds.RESERVATION_CANCELLED,
            origin,
        )
        return "cancelled"
    _record(
        session, reservation, "modified", changes, actor_key_id, kinds.RESERVATION_MODIFIED, origin
    )
    return "modified"


def take_details(reservation: Reservation, revision: BookingRevision) -> None:
    """What the channel says of the booking beyond stay, rooms and total, from its newest
    revision. ``booked_at`` is the exception: kept once known, as later revisions may not say."""
    reservation.ota_name = clipped(revision.ota_name, OTA_NAME_LENGTH)
    reservation.ota_reservation_code = clipped(revision.ota_reservation_code, MAX_ID_LENGTH)
    reservation.channel_reference = clipped(revision.channel_reference, MAX_ID_LENGTH)
    if reservation.booked_at is None:
        reservation.booked_at = revision.booked_at
    reservation.arrival_time = revision.arrival_time
    reservation.special_requests = clipped(revision.special_requests, SPECIAL_REQUESTS_LENGTH) or ""
    reservation.total_before_tax = _money_or_none(revision.total_before_tax, revision.currency)
    reservation.commission = _money_or_none(revision.commission, revision.currency)
    reservation.payment_collect = revision.payment_collect
    reservation.payment_type = revision.payment_type
    guarantee = revision.guarantee
    reservation.guarantee = (
        None
        if guarantee is None
        else {
            "card_type": clipped(guarantee.card_type, 16),
            "card_last_four": guarantee.card_last_four,
            "cardholder_name": clipped(guarantee.cardholder_name, 200),
            "expires": clipped(guarantee.expires, 7),
            "is_virtual": guarantee.is_virtual,
        }
    )


def _money_or_none(amount: Decimal | None, currency: str) -> Decimal | None:
    return None if amount is None else round_money(amount, currency)


def reservation_room(position: int, room: MappedRoom, currency: str) -> ReservationRoom:
    nightly = {
        night.isoformat(): str(round_money(amount, currency))
        for night, amount in room.booked.nightly_prices
    }
    amount = sum((Decimal(value) for value in nightly.values()), Decimal("0.00"))
    return ReservationRoom(
        position=position,
        room_type_id=room.room_type_id,
        rate_plan_id=room.rate_plan_id,
        adults=room.booked.occupancy - room.booked.children,
        children=room.booked.children,
        child_ages=list(room.booked.child_ages),
        nightly_prices=nightly,
        amount=round_money(amount, currency),
        charges=[
            {
                "kind": charge.kind,
                "name": clipped(charge.name, 200) or charge.kind,
                "amount": str(round_money(charge.amount, currency)),
                "inclusive": charge.is_inclusive,
            }
            for charge in room.booked.charges
        ],
    )
