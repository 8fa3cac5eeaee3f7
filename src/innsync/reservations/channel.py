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
- **Ledger.** Confirmed reservations hold one unit per room and night; a revision moves the
  ledger by the difference between what the reservation held and what it holds now.
- **Overbooking.** A channel booking is never refused. When it takes more units than are free on
  some night it is stored anyway, flagged ``is_overbooked`` (the flag stays until a person clears
  the situation) and an ``inventory.overbooking`` event is written; the ledger move marks the
  room type's availability dirty for every pushing connection, so 0 goes out everywhere.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import BookedRoom, BookingRevision, GuestDetails
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.events import kinds
from innsync.events.service import emit
from innsync.inventory.availability import day_counts, lock_room_types, move_ledger
from innsync.money import MAX_AMOUNT, round_money
from innsync.properties.models import RatePlan, RoomType
from innsync.reservations.guests import match_or_create_guest
from innsync.reservations.models import Reservation, ReservationRoom
from innsync.reservations.schemas import GuestIn
from innsync.reservations.service import LedgerDeltas, _record, diff, snapshot
from innsync.stay_dates import DateRange

CONFIRMED = "confirmed"
CANCELLED = "cancelled"
# Bounds of what a real channel booking can be. Anything beyond is a malformed message, refused
# before it can write thousands of ledger rows or overflow a column.
MAX_NIGHTS = 365
MAX_ROOMS = 100
MAX_OCCUPANCY = 100
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2199, 12, 31)
MAX_ID_LENGTH = 128  # reservations.channel_booking_id and channel_revision_id
GUEST_FIELD_LIMITS = {"name": 200, "email": 320, "phone": 64}  # as GuestIn allows

Outcome = Literal["created", "modified", "cancelled", "unchanged", "stale"]


class RevisionNotAppliedError(Exception):
    """A revision that cannot be applied as it is; ``reason`` is written for an operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnmappedCodeError(RevisionNotAppliedError):
    """A room or rate code has no mapping on the connection: the revision waits for one."""


class InvalidRevisionError(RevisionNotAppliedError):
    """The revision holds values no booking can have: it is refused for good."""


@dataclass(frozen=True, slots=True)
class RevisionOutcome:
    """What applying one revision did; ``is_overbooked`` when it took units that were not free."""

    outcome: Outcome
    reservation_id: uuid.UUID
    is_overbooked: bool = False


@dataclass(frozen=True, slots=True)
class _Room:
    """A booked room with its channel codes resolved to innsync ids."""

    room_type_id: uuid.UUID
    rate_plan_id: uuid.UUID | None
    booked: BookedRoom


def order_key(revision: BookingRevision) -> tuple[datetime, str]:
    """The position of a revision among its booking's revisions (call ``check_revision`` first)."""
    return (revision.received_at, revision.revision_id)


def check_revision(revision: BookingRevision) -> None:
    """Refuse values no booking can have, before anything is read or written."""
    for name, value in (
        ("booking id", revision.channel_booking_id),
        ("revision id", revision.revision_id),
    ):
        if len(value) > MAX_ID_LENGTH or not _is_clean(value):
            raise InvalidRevisionError(
                f"the {name} must be printable text of at most {MAX_ID_LENGTH} characters"
            )
    if not EARLIEST_DATE.year <= revision.received_at.year <= LATEST_DATE.year:
        raise InvalidRevisionError("the revision's time is not a plausible date")
    if revision.arrival < EARLIEST_DATE or revision.departure > LATEST_DATE:
        raise InvalidRevisionError(
            f"the stay must lie between {EARLIEST_DATE} and {LATEST_DATE}, "
            f"not {revision.arrival} to {revision.departure}"
        )
    if revision.stay.nights > MAX_NIGHTS:
        raise InvalidRevisionError(f"a stay of {revision.stay.nights} nights exceeds {MAX_NIGHTS}")
    if len(revision.rooms) > MAX_ROOMS:
        raise InvalidRevisionError(f"{len(revision.rooms)} rooms exceed {MAX_ROOMS}")
    if revision.total_amount > MAX_AMOUNT:
        raise InvalidRevisionError(f"the total exceeds {MAX_AMOUNT}")
    for index, room in enumerate(revision.rooms):
        codes = [room.room_type_code] + ([room.rate_plan_code] if room.rate_plan_code else [])
        if any(len(code) > MAX_ID_LENGTH or not _is_clean(code) for code in codes):
            raise InvalidRevisionError(f"room {index}: codes must be printable text")
        if room.occupancy > MAX_OCCUPANCY:
            raise InvalidRevisionError(f"room {index}: occupancy exceeds {MAX_OCCUPANCY}")
        if sum((amount for _, amount in room.nightly_prices), Decimal(0)) > MAX_AMOUNT:
            raise InvalidRevisionError(f"room {index}: the price exceeds {MAX_AMOUNT}")


def ingest_revision(
    session: Session, connection: Connection, revision: BookingRevision, origin: str
) -> RevisionOutcome:
    """Apply one revision of a booking received on ``connection``.

    Raises ``UnmappedCodeError`` or ``InvalidRevisionError`` before writing anything. Takes the
    locks of every room type of the property first, in id order (as direct bookings do), so
    revisions of one property apply one at a time on every database.
    """
    check_revision(revision)
    room_types = _lock_property_room_types(session, connection.property_id)
    rooms = _mapped_rooms(session, connection, revision, room_types)
    reservation = session.scalar(
        select(Reservation)
        .where(
            Reservation.tenant_id == connection.tenant_id,
            Reservation.source == str(connection.id),
            Reservation.channel_booking_id == revision.channel_booking_id,
        )
        .execution_options(populate_existing=True)
    )
    if reservation is not None:
        held = (reservation.channel_revised_at, reservation.channel_revision_id or "")
        if reservation.channel_revised_at is not None and order_key(revision) <= held:
            outcome: Outcome = "unchanged" if order_key(revision) == held else "stale"
            return RevisionOutcome(outcome, reservation.id)

    is_cancel = revision.status == "cancelled"
    old_nights: LedgerDeltas = Counter()
    before = None
    if reservation is not None:
        before = snapshot(session, reservation)
        if reservation.status == CONFIRMED:
            old_nights = _nights(
                [room.room_type_id for room in reservation.rooms],
                DateRange(reservation.arrival, reservation.departure),
            )
    stay = revision.stay
    new_nights = (
        _nights([room.room_type_id for room in rooms], stay) if not is_cancel else Counter()
    )
    deltas: LedgerDeltas = Counter(new_nights)
    deltas.subtract(old_nights)
    shortfalls = _shortfalls(session, room_types, deltas)
    move_ledger(session, deltas)

    if reservation is None:
        reservation = Reservation(
            tenant_id=connection.tenant_id,
            property_id=connection.property_id,
            source=str(connection.id),
            channel_booking_id=revision.channel_booking_id,
            revision=1,
            is_overbooked=False,
            notes="",
        )
        session.add(reservation)
    reservation.status = CANCELLED if is_cancel else CONFIRMED
    reservation.arrival, reservation.departure = stay.start, stay.end
    reservation.currency = revision.currency
    reservation.total_amount = round_money(revision.total_amount)
    reservation.channel_revision_id = revision.revision_id
    reservation.channel_revised_at = revision.received_at
    reservation.rooms = [_reservation_room(index, room) for index, room in enumerate(rooms)]
    guest = match_or_create_guest(session, connection.tenant_id, _guest_in(revision.guest))
    if guest is not None:
        reservation.guest_id = guest.id
    if shortfalls:
        reservation.is_overbooked = True
    session.flush()

    outcome = _record_revision(session, reservation, before, origin)
    if shortfalls:
        _report_overbooking(session, connection, reservation, shortfalls)
    return RevisionOutcome(outcome, reservation.id, is_overbooked=bool(shortfalls))


def _record_revision(
    session: Session, reservation: Reservation, before: dict[str, object] | None, origin: str
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
                None,
                kinds.RESERVATION_CANCELLED,
                origin,
            )
            return "cancelled"
        _record(session, reservation, "created", {}, None, kinds.RESERVATION_CREATED, origin)
        return "created"
    changes = diff(before, snapshot(session, reservation))
    if not changes:
        return "unchanged"
    reservation.revision += 1
    if reservation.status == CANCELLED and before["status"] == CONFIRMED:
        _record(
            session, reservation, "cancelled", changes, None, kinds.RESERVATION_CANCELLED, origin
        )
        return "cancelled"
    _record(session, reservation, "modified", changes, None, kinds.RESERVATION_MODIFIED, origin)
    return "modified"


def _lock_property_room_types(
    session: Session, property_id: uuid.UUID
) -> dict[uuid.UUID, RoomType]:
    ids = session.scalars(select(RoomType.id).where(RoomType.property_id == property_id))
    return {room_type.id: room_type for room_type in lock_room_types(session, ids)}


def _mapped_rooms(
    session: Session,
    connection: Connection,
    revision: BookingRevision,
    room_types: dict[uuid.UUID, RoomType],
) -> list[_Room]:
    """The revision's rooms with innsync ids.

    A new or modified booking with an unmapped code raises ``UnmappedCodeError``: storing it
    without its rooms would hide units it takes. A cancellation takes no units, so it is applied
    with the rooms that are mapped.
    """
    room_codes = {room.room_type_code for room in revision.rooms}
    rate_codes = {room.rate_plan_code for room in revision.rooms if room.rate_plan_code}
    room_map = dict(
        session.execute(
            select(RoomTypeMapping.channel_code, RoomTypeMapping.room_type_id).where(
                RoomTypeMapping.connection_id == connection.id,
                RoomTypeMapping.channel_code.in_(sorted(room_codes)),
            )
        ).all()
    )
    rate_map = {
        code: (plan_id, room_type_id)
        for code, plan_id, room_type_id in session.execute(
            select(RatePlanMapping.channel_code, RatePlan.id, RatePlan.room_type_id)
            .join(RatePlan, RatePlan.id == RatePlanMapping.rate_plan_id)
            .where(
                RatePlanMapping.connection_id == connection.id,
                RatePlanMapping.channel_code.in_(sorted(rate_codes)),
            )
        )
    }
    problems: list[str] = []
    rooms: list[_Room] = []
    for index, booked in enumerate(revision.rooms):
        room_type_id = room_map.get(booked.room_type_code)
        if room_type_id is None or room_type_id not in room_types:
            problems.append(f"room {index}: room code {booked.room_type_code!r} is not mapped")
            continue
        rate_plan_id = None
        if booked.rate_plan_code:
            plan = rate_map.get(booked.rate_plan_code)
            if plan is None:
                problems.append(f"room {index}: rate code {booked.rate_plan_code!r} is not mapped")
                continue
            rate_plan_id, plan_room_type_id = plan
            if plan_room_type_id != room_type_id:
                problems.append(
                    f"room {index}: rate code {booked.rate_plan_code!r} is mapped to a plan of "
                    f"another room type than {booked.room_type_code!r}"
                )
                continue
        rooms.append(_Room(room_type_id, rate_plan_id, booked))
    if problems and revision.status != "cancelled":
        raise UnmappedCodeError("; ".join(problems))
    return rooms


def _nights(room_type_ids: list[uuid.UUID], stay: DateRange) -> LedgerDeltas:
    """Units held: one per room and night of the stay."""
    nights: LedgerDeltas = Counter()
    for room_type_id in room_type_ids:
        for night in stay:
            nights[(room_type_id, night)] += 1
    return nights


def _shortfalls(
    session: Session, room_types: dict[uuid.UUID, RoomType], deltas: LedgerDeltas
) -> dict[tuple[uuid.UUID, date], int]:
    """How many units beyond the free ones each night takes (before the ledger moves)."""
    wanted = {key: count for key, count in deltas.items() if count > 0}
    if not wanted:
        return {}
    days = [night for _, night in wanted]
    counts = day_counts(
        session,
        [room_types[room_type_id] for room_type_id in {key[0] for key in wanted}],
        DateRange.inclusive(min(days), max(days)),
    )
    short = {}
    for (room_type_id, night), count in sorted(wanted.items(), key=lambda item: item[0][1]):
        free = max(counts[room_type_id][night].free, 0)
        if count > free:
            short[(room_type_id, night)] = count - free
    return short


def _reservation_room(position: int, room: _Room) -> ReservationRoom:
    nightly = {
        night.isoformat(): str(round_money(amount)) for night, amount in room.booked.nightly_prices
    }
    amount = sum((Decimal(value) for value in nightly.values()), Decimal("0.00"))
    return ReservationRoom(
        position=position,
        room_type_id=room.room_type_id,
        rate_plan_id=room.rate_plan_id,
        adults=room.booked.occupancy - room.booked.children,
        children=room.booked.children,
        nightly_prices=nightly,
        amount=round_money(amount),
    )


def _guest_in(details: GuestDetails) -> GuestIn:
    """The channel's guest as matching input; unreadable or oversize parts are left out."""
    name = _clean(details.name or "")[: GUEST_FIELD_LIMITS["name"]]
    first_name, _, last_name = name.strip().rpartition(" ")
    email = _clean(details.email or "").strip()
    phone = _clean(details.phone or "").strip()
    return GuestIn(
        first_name=first_name.strip()[: GUEST_FIELD_LIMITS["name"]],
        last_name=last_name.strip(),
        email=email if 0 < len(email) <= GUEST_FIELD_LIMITS["email"] else None,
        phone=phone if 0 < len(phone) <= GUEST_FIELD_LIMITS["phone"] else None,
    )


def _report_overbooking(
    session: Session,
    connection: Connection,
    reservation: Reservation,
    shortfalls: dict[tuple[uuid.UUID, date], int],
) -> None:
    emit(
        session,
        reservation.tenant_id,
        kinds.OVERBOOKING,
        {
            "reservation_id": str(reservation.id),
            "connection_id": str(connection.id),
            "channel_booking_id": reservation.channel_booking_id,
            "nights": [
                {
                    "room_type_id": str(room_type_id),
                    "stay_date": night.isoformat(),
                    "short_by": short,
                }
                for (room_type_id, night), short in shortfalls.items()
            ],
        },
        property_id=reservation.property_id,
        subject_id=str(reservation.id),
    )


def _is_clean(text: str) -> bool:
    """Text every database stores: no NUL or other control characters, no lone surrogates."""
    return text.isprintable()


def _clean(text: str) -> str:
    """``text`` with what databases refuse (control characters, lone surrogates, which JSON
    allows but UTF-8 cannot encode) turned into spaces."""
    return "".join(char if char.isprintable() else " " for char in text)
