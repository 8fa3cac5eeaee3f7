"""The neutral JSON form of ARI updates: the fake channel's wire format and a default size estimate.

Real adapters measure their own payloads; this form is what the planner assumes when nobody
passes a better estimate, and what the fake channel counts against its byte limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from innsync.channels.types import (
    RATE_FIELDS,
    AvailabilityUpdate,
    PushKind,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import WEEKDAY_NAMES

JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def rate_values_to_json(values: RateValues) -> dict[str, JsonValue]:
    """Only the set fields; money as decimal strings so no precision is lost."""
    encoded: dict[str, JsonValue] = {}
    for name in RATE_FIELDS:
        value = getattr(values, name)
        if value is None:
            continue
        if name == "price":
            encoded[name] = str(value)
        elif name == "occupancy_prices":
            encoded[name] = [[occupancy, str(amount)] for occupancy, amount in value]
        else:
            encoded[name] = value
    return encoded


def update_to_json(update: AvailabilityUpdate | RateUpdate) -> dict[str, JsonValue]:
    """One update as a JSON object with a half-open ``start``/``end`` range."""
    encoded: dict[str, JsonValue] = {
        "room_type": update.room_type_code,
        "start": update.dates.start.isoformat(),
        "end": update.dates.end.isoformat(),
    }
    if update.weekdays is not None:
        encoded["days"] = [WEEKDAY_NAMES[day] for day in sorted(update.weekdays)]
    if isinstance(update, AvailabilityUpdate):
        encoded["availability"] = update.availability
    else:
        encoded["rate_plan"] = update.rate_plan_code
        encoded.update(rate_values_to_json(update.values))
    return encoded


def _dumps(value: JsonValue) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def update_json_size(update: AvailabilityUpdate | RateUpdate) -> int:
    """Bytes of one update in the neutral JSON form."""
    return len(_dumps(update_to_json(update)))


def request_to_json(
    kind: PushKind, updates: Sequence[AvailabilityUpdate | RateUpdate]
) -> dict[str, JsonValue]:
    return {"kind": kind, "values": [update_to_json(update) for update in updates]}


def request_json_size(kind: PushKind, updates: Sequence[AvailabilityUpdate | RateUpdate]) -> int:
    """Bytes of a whole request in the neutral JSON form."""
    return len(_dumps(request_to_json(kind, updates)))


def rate_values_from_json(encoded: Mapping[str, Any]) -> RateValues:
    """The inverse of :func:`rate_values_to_json`."""
    fields: dict[str, Any] = {}
    for name, value in encoded.items():
        if name == "price":
            fields[name] = Decimal(value)
        elif name == "occupancy_prices":
            fields[name] = tuple((int(occupancy), Decimal(amount)) for occupancy, amount in value)
        elif name in RATE_FIELDS:
            fields[name] = value
    return RateValues(**fields)
