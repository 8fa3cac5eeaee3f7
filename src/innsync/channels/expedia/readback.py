"""PARR (``ProductAvailRateRetrievalRQ``, ``…/PAR/2013/07``): what EQC holds, read back.

PARR sample messages: an ``AvailRateRetrieval`` names its dates and the room types (and rate
plans) to read, and its filters leave out what the read does not need; a request for more
than one product answers at most 31 days from its start, later dates silently left out, so
the adapter asks in pieces of 31 days. The answer lists per date the room types with their
``Inventory`` and rate plans with ``Rate`` and ``Restrictions``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal

from innsync.channels.expedia.mapping import MAX_LOS, request_root
from innsync.channels.types import RatePlanKey, RateValues
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import Element, attribute, child, children, path, to_bytes

PAR_NAMESPACE = "http://www.expediaconnect.com/EQC/PAR/2013/07"
# PARR samples: "a request for multiple products is constrained ... to a maximum of 31 days".
DAYS_PER_CALL = 31
_FLAGS = {"true": True, "false": False, "1": True, "0": False}


def parr_request(
    username: str,
    password: str,
    hotel_id: str,
    products: Mapping[str, Sequence[str]],
    dates: DateRange,
    *,
    rates: bool,
) -> bytes:
    """An ``AvailRateRetrieval`` of the room types (their rate plans when ``rates``); ``dates``
    of at most ``DAYS_PER_CALL`` nights, or EQC leaves the later ones out."""
    builder, root = request_root(
        PAR_NAMESPACE, "ProductAvailRateRetrievalRQ", username, password, hotel_id
    )
    params = builder.sub(root, "ParamSet")
    flag = "true" if rates else "false"
    retrieval = builder.sub(
        params,
        "AvailRateRetrieval",
        {
            "from": dates.start.isoformat(),
            "to": dates.last.isoformat(),
            "inventory": "false" if rates else "true",
            "roomAvailStatus": "false",
            "rateAvailStatus": flag,
            "rates": flag,
            "restrictions": flag,
        },
    )
    for room_id, rate_ids in products.items():
        room = builder.sub(retrieval, "RoomType", {"id": room_id})
        for rate_id in rate_ids:
            builder.sub(room, "RatePlan", {"id": rate_id})
    return to_bytes(root)


def _days(root: Element) -> Iterator[tuple[date, Element]]:
    for day in path(root, "AvailRateList", "AvailRate"):
        stay_date = date.fromisoformat(str(attribute(day, "date")))
        for room in children(day, "RoomType"):
            yield stay_date, room


def read_inventory(root: Element) -> dict[str, dict[date, int]]:
    """Rooms to sell (``totalInventoryAvailable``) per room type and date."""
    held: dict[str, dict[date, int]] = {}
    for stay_date, room in _days(root):
        total = attribute(child(room, "Inventory"), "totalInventoryAvailable")
        if total is not None:
            held.setdefault(str(attribute(room, "id")), {})[stay_date] = int(total)
    return held


def _flag(element: Element | None, name: str) -> bool | None:
    return _FLAGS.get(attribute(element, name) or "")


def _number(element: Element | None, name: str) -> int | None:
    text = attribute(element, name)
    return int(text) if text is not None and text.isdigit() else None


def _values(plan: Element) -> RateValues:
    rate = child(plan, "Rate")
    per_day = attribute(child(rate, "PerDay"), "rate") if rate is not None else None
    occupancies = tuple(
        (int(str(attribute(o, "occupancy"))), Decimal(str(attribute(o, "rate"))))
        for o in (children(rate, "PerOccupancy") if rate is not None else ())
    )
    restrictions = child(plan, "Restrictions")
    max_los = _number(restrictions, "maxLOS")
    return RateValues(
        price=Decimal(per_day) if per_day is not None else None,
        occupancy_prices=occupancies or None,
        min_stay_arrival=_number(restrictions, "minLOS"),
        # The mapping sends innsync's "no maximum" (0) as EQC's highest, 28: read back as 0.
        max_stay=0 if max_los == MAX_LOS else max_los,
        closed_to_arrival=_flag(restrictions, "closedToArrival"),
        closed_to_departure=_flag(restrictions, "closedToDeparture"),
        stop_sell=_flag(plan, "closed"),
    )


def read_rate_values(root: Element) -> dict[RatePlanKey, dict[date, RateValues]]:
    """Prices, restrictions and the closed flag per (room type, rate plan) and date."""
    held: dict[RatePlanKey, dict[date, RateValues]] = {}
    for stay_date, room in _days(root):
        room_id = str(attribute(room, "id"))
        for plan in children(room, "RatePlan"):
            key = (room_id, str(attribute(plan, "id")))
            held.setdefault(key, {})[stay_date] = _values(plan)
    return held
