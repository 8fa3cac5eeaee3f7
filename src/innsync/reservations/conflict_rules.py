"""When a channel revision contradicts a PMS change, and what happens then. Pure functions.

``reservations/channel.py`` asks these rules before it applies a revision to a channel booking
the PMS has changed since the last revision; ``reservations/conflicts.py`` resolves what they
hold. The table in ``docs/inbound.md`` says the same in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from innsync.channels.revision_json import revision_from_json as neutral_revision_from_json
from innsync.channels.revision_json import revision_to_json
from innsync.channels.types import BookingRevision

Decision = Literal["apply", "keep_pms", "hold"]
Field = Literal["status", "dates", "rooms", "amount"]
COMPARED_FIELDS: tuple[Field, ...] = ("status", "dates", "rooms", "amount")
# A merge may take these from the channel's version; the rest stays as the PMS has it.
MERGE_FIELDS: tuple[str, ...] = (*COMPARED_FIELDS, "guest")
# Totals within 5 % of each other are the same amount: channels and PMSs round, add or leave out
# taxes and fees differently, and such differences are no reason to stop a booking.
AMOUNT_TOLERANCE = Decimal("0.05")


@dataclass(frozen=True, slots=True)
class Version:
    """The parts of a reservation a conflict is about."""

    status: str  # "confirmed" | "cancelled"
    arrival: date
    departure: date
    total_amount: Decimal
    room_type_ids: tuple[str, ...]  # sorted: the same rooms in another order are the same rooms

    @classmethod
    def of_snapshot(cls, snap: dict[str, Any]) -> Version:
        """The version of a ``service.snapshot`` of a reservation."""
        return cls(
            status=snap["status"],
            arrival=date.fromisoformat(snap["arrival"]),
            departure=date.fromisoformat(snap["departure"]),
            total_amount=Decimal(snap["total_amount"]),
            room_type_ids=tuple(sorted(room["room_type_id"] for room in snap["rooms"])),
        )


def differs(field: Field, one: Version, other: Version) -> bool:
    """Whether two versions disagree on ``field`` (amounts only beyond the tolerance)."""
    if field == "status":
        return one.status != other.status
    if field == "dates":
        return (one.arrival, one.departure) != (other.arrival, other.departure)
    if field == "rooms":
        return one.room_type_ids != other.room_type_ids
    larger = max(one.total_amount, other.total_amount)
    return abs(one.total_amount - other.total_amount) > larger * AMOUNT_TOLERANCE


def contradicted_fields(base: Version, pms: Version, channel: Version) -> tuple[Field, ...]:
    """The fields the PMS changed (``base`` to ``pms``) on which the channel says otherwise.

    ``base`` is the version the PMS started from (the last channel revision applied). A field
    the PMS left alone is the channel's to change, so it is never a contradiction.
    """
    return tuple(
        field
        for field in COMPARED_FIELDS
        if differs(field, base, pms) and differs(field, channel, pms)
    )


def decide(
    *,
    contradictions: tuple[Field, ...],
    is_cancellation: bool,
    is_ota_booking: bool,
    revision_received_at: datetime,
    pms_changed_at: datetime,
) -> Decision:
    """What to do with a channel revision of a booking the PMS changed since the last revision.

    Both times are innsync's own clock: when innsync received the revision, and when the PMS
    changed the booking. The channel's timestamp of the revision is never compared with
    innsync's clock (the two clocks can differ by minutes; the channel's orders only its own
    revisions).

    - nothing contradicted, or the channel cancels: ``apply`` the revision;
    - an OTA booking (the channel owns it) whose revision arrived after the PMS change: ``apply``;
    - a direct booking (innsync pushed it to the channel) changed by the PMS after the revision
      arrived: ``keep_pms`` (and push it, where the channel takes reservation updates);
    - anything else, equal times included: ``hold`` a conflict for a person to resolve.
    """
    if not contradictions or is_cancellation:
        return "apply"
    if is_ota_booking and revision_received_at > pms_changed_at:
        return "apply"
    if not is_ota_booking and pms_changed_at > revision_received_at:
        return "keep_pms"
    return "hold"


def revision_json(revision: BookingRevision) -> dict[str, Any]:
    """A revision as neutral JSON (money and dates as text), kept with a conflict."""
    return revision_to_json(revision)


def revision_from_json(data: dict[str, Any]) -> BookingRevision:
    """The revision ``revision_json`` wrote."""
    return neutral_revision_from_json(data)
