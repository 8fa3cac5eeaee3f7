"""Checks of an incoming channel revision, before anything is read or written for it: values
within the bounds of a real booking, room and rate codes mapped on the connection, and a guest
every database can store. What cannot pass raises a ``RevisionNotAppliedError``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import BookedRoom, BookingRevision, GuestDetails
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.money import MAX_AMOUNT
from innsync.properties.models import RatePlan, RoomType
from innsync.reservations.schemas import GuestIn

# Bounds of what a real channel booking can be. Anything beyond is a malformed message, refused
# before it can write thousands of ledger rows or overflow a column.
MAX_NIGHTS = 365
MAX_ROOMS = 100
MAX_OCCUPANCY = 100
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2199, 12, 31)
MAX_ID_LENGTH = 128  # reservations.channel_booking_id and channel_revision_id
# As GuestIn allows.
GUEST_FIELD_LIMITS = {
    "name": 200,
    "email": 320,
    "phone": 64,
    "address": 500,
    "city": 200,
    "postal_code": 32,
}
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
MAX_LANGUAGE_LENGTH = 35


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
class MappedRoom:
    """A booked room with its channel codes resolved to innsync ids."""

    room_type_id: uuid.UUID
    rate_plan_id: uuid.UUID | None
    booked: BookedRoom


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
    for what, amount in (
        ("the total", revision.total_amount),
        ("the total before tax", revision.total_before_tax),
        ("the commission", revision.commission),
    ):
        if amount is not None and amount > MAX_AMOUNT:
            raise InvalidRevisionError(f"{what} exceeds {MAX_AMOUNT}")
    for index, room in enumerate(revision.rooms):
        codes = [room.room_type_code] + ([room.rate_plan_code] if room.rate_plan_code else [])
        if any(len(code) > MAX_ID_LENGTH or not _is_clean(code) for code in codes):
            raise InvalidRevisionError(f"room {index}: codes must be printable text")
        if room.occupancy > MAX_OCCUPANCY:
            raise InvalidRevisionError(f"room {index}: occupancy exceeds {MAX_OCCUPANCY}")
        if sum((amount for _, amount in room.nightly_prices), Decimal(0)) > MAX_AMOUNT:
            raise InvalidRevisionError(f"room {index}: the price exceeds {MAX_AMOUNT}")
        if sum((charge.amount for charge in room.charges), Decimal(0)) > MAX_AMOUNT:
            raise InvalidRevisionError(f"room {index}: the taxes and fees exceed {MAX_AMOUNT}")


def mapped_rooms(
    session: Session,
    connection: Connection,
    revision: BookingRevision,
    room_types: dict[uuid.UUID, RoomType],
) -> list[MappedRoom]:
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
    rooms: list[MappedRoom] = []
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
        rooms.append(MappedRoom(room_type_id, rate_plan_id, booked))
    if problems and revision.status != "cancelled":
        raise UnmappedCodeError("; ".join(problems))
    return rooms


def guest_in(details: GuestDetails) -> GuestIn:
    """The channel's guest as matching input; unreadable or oversize parts are left out."""
    name = _clean(details.name or "")[: GUEST_FIELD_LIMITS["name"]]
    first_name, _, last_name = name.strip().rpartition(" ")
    email = _clean(details.email or "").strip()
    phone = _clean(details.phone or "").strip()
    language = (details.language or "").strip().replace("_", "-")
    return GuestIn(
        first_name=first_name.strip()[: GUEST_FIELD_LIMITS["name"]],
        last_name=last_name.strip(),
        email=email if 0 < len(email) <= GUEST_FIELD_LIMITS["email"] else None,
        phone=phone if 0 < len(phone) <= GUEST_FIELD_LIMITS["phone"] else None,
        country=details.country,
        address=_clipped(details.address, "address"),
        city=_clipped(details.city, "city"),
        postal_code=_clipped(details.postal_code, "postal_code"),
        language=language
        if len(language) <= MAX_LANGUAGE_LENGTH and _LANGUAGE.fullmatch(language)
        else None,
    )


def _clipped(text: str | None, field: str) -> str | None:
    """Printable text cut to what the column holds; None when nothing is left."""
    return clipped(text, GUEST_FIELD_LIMITS[field])


def clipped(text: str | None, limit: int) -> str | None:
    """``text`` made storable and cut to ``limit`` characters; None when nothing is left."""
    cleaned = " ".join(_clean(text or "").split())[:limit]
    return cleaned or None


def _is_clean(text: str) -> bool:
    """Text every database stores: no NUL or other control characters, no lone surrogates."""
    return text.isprintable()


def _clean(text: str) -> str:
    """``text`` with what databases refuse (control characters, lone surrogates, which JSON
    allows but UTF-8 cannot encode) turned into spaces."""
    return "".join(char if char.isprintable() else " " for char in text)
