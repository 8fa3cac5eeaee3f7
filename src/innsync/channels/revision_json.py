"""The neutral JSON form of a booking revision.

It is the fake channel's webhook body and the form in which pulled revisions wait in the inbox,
so a revision an adapter already decoded is stored once, in innsync's own terms::

    {
      "booking_id": "FK-1001",              # stable across the booking's revisions
      "revision_id": "FK-1001-2",           # unique per revision
      "status": "new",                      # "new" | "modified" | "cancelled"
      "revised_at": "2026-05-01T10:00:00Z", # when the channel made the revision; orders them
      "arrival": "2026-06-01",
      "departure": "2026-06-03",            # half-open: the guest leaves that morning
      "currency": "EUR",
      "total": "240.00",                    # money as decimal strings
      "guest": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44..."},
      "rooms": [{"room_type": "DBL", "rate_plan": "BAR", "occupancy": 2, "children": 0,
                 "prices": {"2026-06-01": "120.00", "2026-06-02": "120.00"}}]
    }

``guest`` and its fields, ``rate_plan``, ``children`` and ``prices`` are optional; a cancellation
may send ``"rooms": []``. Unknown keys are ignored (channels add fields). Anything else that does
not fit raises ``ValueError`` saying what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from innsync.channels.types import BookedRoom, BookingRevision, BookingStatus, GuestDetails

_STATUSES: dict[str, BookingStatus] = {
    "new": "new",
    "modified": "modified",
    "cancelled": "cancelled",
}


def revision_to_json(revision: BookingRevision) -> dict[str, Any]:
    """The JSON document of a revision; :func:`revision_from_json` reads it back unchanged."""
    guest = {
        key: value
        for key, value in (
            ("name", revision.guest.name),
            ("email", revision.guest.email),
            ("phone", revision.guest.phone),
        )
        if value is not None
    }
    return {
        "booking_id": revision.channel_booking_id,
        "revision_id": revision.revision_id,
        "status": revision.status,
        "revised_at": revision.received_at.astimezone(UTC).isoformat(),
        "arrival": revision.arrival.isoformat(),
        "departure": revision.departure.isoformat(),
        "currency": revision.currency,
        "total": str(revision.total_amount),
        "guest": guest,
        "rooms": [
            {
                "room_type": room.room_type_code,
                "rate_plan": room.rate_plan_code,
                "occupancy": room.occupancy,
                "children": room.children,
                "prices": {night.isoformat(): str(price) for night, price in room.nightly_prices},
            }
            for room in revision.rooms
        ],
    }


def revision_to_bytes(revision: BookingRevision) -> bytes:
    return json.dumps(revision_to_json(revision), separators=(",", ":")).encode()


def revision_from_bytes(body: bytes) -> BookingRevision:
    """A revision from its JSON bytes; ``ValueError`` names what is wrong."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
        raise ValueError("the body is not JSON") from exc
    return revision_from_json(document)


def revision_from_json(document: object) -> BookingRevision:
    """A revision from its JSON document; ``ValueError`` names what is wrong."""
    try:
        fields = _object(document, "the body")
        rooms = fields.get("rooms", [])
        if not isinstance(rooms, list):
            raise ValueError("rooms must be a list")
        guest = _object(fields.get("guest", {}), "guest")
        return BookingRevision(
            channel_booking_id=_text(fields, "booking_id"),
            revision_id=_text(fields, "revision_id"),
            status=_status(fields),
            arrival=_day(fields, "arrival"),
            departure=_day(fields, "departure"),
            rooms=tuple(_room(room, index) for index, room in enumerate(rooms)),
            guest=GuestDetails(
                name=_optional_text(guest, "name"),
                email=_optional_text(guest, "email"),
                phone=_optional_text(guest, "phone"),
            ),
            total_amount=_money(fields.get("total"), "total"),
            currency=_text(fields, "currency"),
            received_at=_timestamp(fields, "revised_at"),
        )
    except (TypeError, OverflowError) as exc:
        raise ValueError(str(exc)) from exc


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value


def _text(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _optional_text(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"guest {key} must be a string")
    return value


def _status(fields: Mapping[str, Any]) -> BookingStatus:
    value = fields.get("status")
    if not isinstance(value, str) or value not in _STATUSES:
        raise ValueError(f"status must be one of {', '.join(_STATUSES)}")
    return _STATUSES[value]


def _day(fields: Mapping[str, Any], key: str) -> date:
    return date.fromisoformat(_text(fields, key))


def _timestamp(fields: Mapping[str, Any], key: str) -> datetime:
    value = datetime.fromisoformat(_text(fields, key))
    if value.utcoffset() is None:
        raise ValueError(f"{key} must carry a UTC offset")
    return value.astimezone(UTC)


def _money(value: object, what: str) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} must be a decimal string") from None
    if not amount.is_finite():
        raise ValueError(f"{what} must be a finite amount")
    return amount


def _count(fields: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = fields.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} must be an integer")
    return value


def _room(value: object, index: int) -> BookedRoom:
    fields = _object(value, f"room {index}")
    prices = _object(fields.get("prices", {}), f"room {index} prices")
    rate_plan = fields.get("rate_plan")
    if rate_plan is not None and (not isinstance(rate_plan, str) or not rate_plan):
        raise ValueError(f"room {index}: rate_plan must be a non-empty string")
    return BookedRoom(
        room_type_code=_text(fields, "room_type"),
        rate_plan_code=rate_plan,
        occupancy=_count(fields, "occupancy"),
        children=_count(fields, "children", 0),
        nightly_prices=tuple(
            sorted(
                (date.fromisoformat(night), _money(amount, f"room {index} price of {night}"))
                for night, amount in prices.items()
            )
        ),
    )
