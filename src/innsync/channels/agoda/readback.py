"""GetAri (type 2): what Agoda holds, read back in calls of at most 31 days (§3.3).

The request names the property, the dates and the rooms; the answer lists per room the
allotment of each date and per rate plan its price, occupancy prices and restrictions. Shapes
beyond the 31-day limit are [INFERRED] (CHECKLIST read_back).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal

from innsync.channels.agoda.mapping import YCS
from innsync.channels.types import RatePlanKey, RateValues
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import Element, attribute, children, path, to_bytes

ARI_TYPE = 2
# §3.3: GetAri range 31 days.
ARI_DAYS_PER_CALL = 31
_FLAGS = {"true": True, "false": False}


def pieces(dates: DateRange) -> Iterator[tuple[date, date]]:
    """Inclusive (first, last) pieces of at most 31 days covering ``dates``."""
    start = dates.start
    while start < dates.end:
        end = min(start + timedelta(days=ARI_DAYS_PER_CALL), dates.end)
        yield start, end - timedelta(days=1)
        start = end


def ari_request(
    property_id: str, rooms: Sequence[str], first: date, last: date, timestamp: int
) -> bytes:
    root = YCS.root("request", {"timestamp": timestamp, "type": ARI_TYPE})
    criteria = YCS.sub(
        root,
        "criteria",
        {"property_id": property_id, "from": first.isoformat(), "to": last.isoformat()},
    )
    for room in dict.fromkeys(rooms):
        YCS.sub(criteria, "room", {"id": room})
    return to_bytes(root)


def read_allotments(root: Element) -> dict[str, dict[date, int]]:
    held: dict[str, dict[date, int]] = {}
    for room in path(root, "inventory", "room"):
        days = held.setdefault(str(attribute(room, "id")), {})
        for day in children(room, "date"):
            days[date.fromisoformat(str(attribute(day, "date")))] = int(
                str(attribute(day, "allotment"))
            )
    return held


def _flag(element: Element, name: str) -> bool | None:
    return _FLAGS.get(attribute(element, name) or "")


def _number(element: Element, name: str) -> int | None:
    text = attribute(element, name)
    return int(text) if text is not None and text.isdigit() else None


def read_rate_values(root: Element) -> dict[RatePlanKey, dict[date, RateValues]]:
    held: dict[RatePlanKey, dict[date, RateValues]] = {}
    for plan in path(root, "rates", "rateplan"):
        key = (str(attribute(plan, "room_id")), str(attribute(plan, "rateplan_id")))
        days = held.setdefault(key, {})
        for day in children(plan, "date"):
            price = attribute(day, "price")
            occupancies = tuple(
                (int(str(attribute(o, "person"))), Decimal(str(attribute(o, "price"))))
                for o in children(day, "occupancy")
            )
            days[date.fromisoformat(str(attribute(day, "date")))] = RateValues(
                price=Decimal(price) if price is not None else None,
                occupancy_prices=occupancies or None,
                min_stay_arrival=_number(day, "min_los") or None,
                max_stay=_number(day, "max_los"),
                closed_to_arrival=_flag(day, "cta"),
                closed_to_departure=_flag(day, "ctd"),
                stop_sell=_flag(day, "closed"),
            )
    return held
