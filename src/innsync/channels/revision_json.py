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
      "guest": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44...",
                "address": "12 St James's Sq", "city": "London", "postal_code": "SW1Y 4JH",
                "country": "GB", "language": "en"},
      "rooms": [{"room_type": "DBL", "rate_plan": "BAR", "occupancy": 2, "children": 1,
                 "child_ages": [7],
                 "prices": {"2026-06-01": "120.00", "2026-06-02": "120.00"},
                 "charges": [{"kind": "city_tax", "name": "City tax", "amount": "6.00",
                              "inclusive": false}]}],
      "ota_name": "Booking.com",            # the OTA behind a channel manager
      "ota_reservation_code": "9996013801", # the OTA's own code of the booking
      "channel_reference": "BDC-9996013801",
      "booked_at": "2026-04-30T18:00:00Z",
      "arrival_time": "15:00",
      "special_requests": "Late check-in",
      "total_before_tax": "220.00",
      "commission": "36.00",
      "payment_collect": "property",        # "property" | "ota"
      "payment_type": "credit_card",        # "credit_card" | "bank_transfer"
      "guarantee": {"card_type": "VI", "card_last_four": "1111", "cardholder_name": "Ada",
                    "expires": "10/2030", "is_virtual": false}
    }

``guest`` and its fields, ``rate_plan``, ``children``, ``child_ages``, ``prices``, ``charges`` and
everything after ``rooms`` above are optional; a cancellation may send ``"rooms": []``. Unknown
keys are ignored (channels add fields). Anything else that does not fit raises ``ValueError``
saying what is wrong. A card number never appears here: a guarantee holds its last four digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from innsync.channels.types import (
    CHARGE_KINDS,
    BookedRoom,
    BookingRevision,
    BookingStatus,
    Charge,
    Guarantee,
    GuestDetails,
)

_STATUSES: dict[str, BookingStatus] = {
    "new": "new",
    "modified": "modified",
    "cancelled": "cancelled",
}
GUEST_FIELDS = ("name", "email", "phone", "address", "city", "postal_code", "country", "language")
GUARANTEE_FIELDS = ("card_type", "card_last_four", "cardholder_name", "expires", "is_virtual")
TEXT_FIELDS = (
    "ota_name",
    "ota_reservation_code",
    "channel_reference",
    "arrival_time",
    "special_requests",
    "payment_collect",
    "payment_type",
)
MONEY_FIELDS = ("total_before_tax", "commission")
PAYMENT_COLLECT = ("property", "ota")
PAYMENT_TYPES = ("credit_card", "bank_transfer")


def revision_to_json(revision: BookingRevision) -> dict[str, Any]:
    """The JSON document of a revision; :func:`revision_from_json` reads it back unchanged."""
    guest = {
        key: value for key in GUEST_FIELDS if (value := getattr(revision.guest, key)) is not None
    }
    document: dict[str, Any] = {
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
                "child_ages": list(room.child_ages),
                "prices": {night.isoformat(): str(price) for night, price in room.nightly_prices},
                "charges": [
                    {
                        "kind": charge.kind,
                        "name": charge.name,
                        "amount": str(charge.amount),
                        "inclusive": charge.is_inclusive,
                    }
                    for charge in room.charges
                ],
            }
            for room in revision.rooms
        ],
    }
    for key in TEXT_FIELDS:
        if (text := getattr(revision, key)) is not None:
            document[key] = text
    for key in MONEY_FIELDS:
        if (amount := getattr(revision, key)) is not None:
            document[key] = str(amount)
    if revision.booked_at is not None:
        document["booked_at"] = revision.booked_at.astimezone(UTC).isoformat()
    if revision.guarantee is not None:
        document["guarantee"] = {
            key: value
            for key in GUARANTEE_FIELDS
            if (value := getattr(revision.guarantee, key)) is not None
        }
    return document


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
                **{key: _optional_text(guest, key, "guest ") for key in GUEST_FIELDS}
            ),
            total_amount=_money(fields.get("total"), "total"),
            currency=_text(fields, "currency"),
            received_at=_timestamp(fields, "revised_at"),
            ota_name=_optional_text(fields, "ota_name"),
            ota_reservation_code=_optional_text(fields, "ota_reservation_code"),
            channel_reference=_optional_text(fields, "channel_reference"),
            booked_at=_timestamp(fields, "booked_at") if "booked_at" in fields else None,
            arrival_time=_optional_text(fields, "arrival_time"),
            special_requests=_optional_text(fields, "special_requests"),
            total_before_tax=_optional_money(fields, "total_before_tax"),
            commission=_optional_money(fields, "commission"),
            payment_collect=_choice(fields, "payment_collect", PAYMENT_COLLECT),
            payment_type=_choice(fields, "payment_type", PAYMENT_TYPES),
            guarantee=_guarantee(fields.get("guarantee")),
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


def _optional_text(fields: Mapping[str, Any], key: str, what: str = "") -> str | None:
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what}{key} must be a string")
    return value


def _optional_money(fields: Mapping[str, Any], key: str) -> Decimal | None:
    value = fields.get(key)
    return None if value is None else _money(value, key)


def _choice(fields: Mapping[str, Any], key: str, choices: tuple[str, ...]) -> Any:
    value = fields.get(key)
    if value is not None and value not in choices:
        raise ValueError(f"{key} must be one of {', '.join(choices)}")
    return value


def _guarantee(value: object) -> Guarantee | None:
    if value is None:
        return None
    fields = _object(value, "guarantee")
    is_virtual = fields.get("is_virtual", False)
    if not isinstance(is_virtual, bool):
        raise ValueError("guarantee is_virtual must be true or false")
    return Guarantee(
        card_type=_optional_text(fields, "card_type", "guarantee "),
        card_last_four=_optional_text(fields, "card_last_four", "guarantee "),
        cardholder_name=_optional_text(fields, "cardholder_name", "guarantee "),
        expires=_optional_text(fields, "expires", "guarantee "),
        is_virtual=is_virtual,
    )


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
    ages = fields.get("child_ages", [])
    charges = fields.get("charges", [])
    if not isinstance(ages, list) or not all(
        isinstance(age, int) and not isinstance(age, bool) for age in ages
    ):
        raise ValueError(f"room {index}: child_ages must be a list of integers")
    if not isinstance(charges, list):
        raise ValueError(f"room {index}: charges must be a list")
    return BookedRoom(
        room_type_code=_text(fields, "room_type"),
        rate_plan_code=rate_plan,
        occupancy=_count(fields, "occupancy"),
        children=_count(fields, "children", 0),
        child_ages=tuple(ages),
        nightly_prices=tuple(
            sorted(
                (date.fromisoformat(night), _money(amount, f"room {index} price of {night}"))
                for night, amount in prices.items()
            )
        ),
        charges=tuple(_charge(charge, index) for charge in charges),
    )


def _charge(value: object, index: int) -> Charge:
    fields = _object(value, f"room {index} charge")
    kind = _choice(fields, "kind", CHARGE_KINDS)
    inclusive = fields.get("inclusive")
    if kind is None or not isinstance(inclusive, bool):
        raise ValueError(f"room {index}: a charge needs its kind and inclusive")
    return Charge(
        kind=kind,
        name=_optional_text(fields, "name") or "",
        amount=_money(fields.get("amount"), f"room {index} charge amount"),
        is_inclusive=inclusive,
    )
