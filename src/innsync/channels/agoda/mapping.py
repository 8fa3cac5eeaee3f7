"""Pure functions between innsync's ARI updates and Agoda's SetARI documents (§3.3).

One SetARI carries availability (``<inventory><update room_id>``) and rates with restrictions
(``<rate><update room_id rateplan_id>``) for one property; each update element comes from one
innsync update and keeps its index (``origins``), so a warning naming a room or rate plan turns
into a refusal of the updates that sent it. Ranges are inclusive on the wire with weekday flags
(``mon``..``sun``); innsync's are half-open. Dates before Agoda's today or past the 730-day
horizon are never sent. A request is cut before it passes the 1 MB limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from innsync.channels.types import AvailabilityUpdate, EntryResult, RateUpdate, RateValues
from innsync.stay_dates import ALL_WEEKDAYS
from innsync.xmlkit.parsing import Builder, Element, attribute, children, to_bytes

YCS = Builder(None)
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Fields no SetARI element carries (§3.3 names allotment, closed/CTA/CTD and occupancy prices;
# min/max LOS on the rate update is [INFERRED]); with their "off" values, which need no element.
CANNOT_CARRY: tuple[tuple[str, int], ...] = (
    ("min_stay_through", 1),
    ("min_advance", 0),
    ("max_advance", 0),
)
# Bytes of the <request><criteria> envelope around the updates, with room to spare.
ENVELOPE_BYTES = 400


@dataclass(frozen=True, slots=True)
class SendWindow:
    """The stay dates Agoda takes now: from its today, ``horizon_days`` of them (§3.3)."""

    first: date
    horizon_days: int

    @property
    def end(self) -> date:
        return self.first + timedelta(days=self.horizon_days)


def agoda_today(now: datetime, zone: tzinfo) -> date:
    """Agoda's today: §3.3's times are ICT (GMT+7)."""
    return now.astimezone(zone).date()


@dataclass(slots=True)
class Planned:
    """The update elements of one push, each with the index of the update it came from."""

    inventory: list[tuple[int, Element]] = field(default_factory=list)
    rates: list[tuple[int, Element]] = field(default_factory=list)
    partly_unsent: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)


def _date_range(
    parent: Element, start: date, last: date, weekdays: frozenset[int] | None
) -> Element:
    flags: dict[str, object | None] = {"from": start.isoformat(), "to": last.isoformat()}
    if weekdays is not None and weekdays != ALL_WEEKDAYS:
        flags |= {name: day in weekdays for day, name in enumerate(WEEKDAY_NAMES)}
    return YCS.sub(parent, "date_range", flags)


def _clip(update: AvailabilityUpdate | RateUpdate, window: SendWindow) -> tuple[date, date] | None:
    """The inclusive (first, last) dates of the update Agoda takes, if any."""
    start = max(update.dates.start, window.first)
    end = min(update.dates.end, window.end)
    if start >= end:
        return None
    covered = [day for day in update.covered_dates() if start <= day < end]
    if not covered:
        return None
    return covered[0], covered[-1]


def unsent_values(values: RateValues) -> list[str]:
    """The fields of ``values`` no SetARI element carries, set to something but off."""
    return [
        f"{name} {getattr(values, name)}"
        for name, off in CANNOT_CARRY
        if getattr(values, name) not in (None, off)
    ]


def _restrictions(values: RateValues) -> dict[str, object | None]:
    return {
        "closed": values.stop_sell,
        "cta": values.closed_to_arrival,
        "ctd": values.closed_to_departure,
        "min_los": values.min_stay_arrival,
        "max_los": values.max_stay,
    }


def _money(amount: Decimal) -> str | None:
    """Two decimals, or ``None`` when the amount is finer than a cent."""
    cents = amount.quantize(Decimal("0.01"))
    return None if cents != amount else str(cents)


def plan_set_ari(
    updates: Sequence[AvailabilityUpdate | RateUpdate], window: SendWindow, currency: str
) -> Planned:
    """Every update as one SetARI update element, in update order."""
    planned = Planned()
    for index, update in enumerate(updates):
        clipped = _clip(update, window)
        if update.dates.start < window.first or update.dates.end > window.end:
            planned.partly_unsent.add(index)  # its past or too distant dates are kept back
        if clipped is None:
            continue
        first, last = clipped
        if isinstance(update, AvailabilityUpdate):
            element = YCS.root("update", {"room_id": update.room_type_code})
            _date_range(element, first, last, update.weekdays)
            YCS.sub(element, "allotment", text=str(update.availability))
            planned.inventory.append((index, element))
            continue
        values = update.values
        unsent = unsent_values(values)
        if unsent:
            planned.partly_unsent.add(index)
            planned.refused[index] = (
                f"{', '.join(unsent)} not sent: Agoda has no such restriction "
                "(the entry's other values were sent)"
            )
        amounts: list[tuple[int | None, Decimal]] = []
        if values.price is not None:
            amounts.append((None, values.price))
        amounts += list(values.occupancy_prices or ())
        texts = [(persons, _money(amount)) for persons, amount in amounts]
        if any(text is None for _, text in texts):
            planned.refused[index] = "a price has more than 2 decimal places"
            continue
        restrictions = _restrictions(values)
        if not texts and all(value is None for value in restrictions.values()):
            continue
        element = YCS.root(
            "update", {"room_id": update.room_type_code, "rateplan_id": update.rate_plan_code}
        )
        _date_range(YCS.sub(element, "date_values"), first, last, update.weekdays)
        if texts:
            prices = YCS.sub(element, "prices", {"currency": currency})
            for persons, text in texts:
                if persons is None:
                    # A per-room price: <price> straight under <prices> [INFERRED].
                    YCS.sub(prices, "price", text=text)
                    continue
                occupancy = YCS.sub(prices, "occupancy")
                YCS.sub(occupancy, "person", text=str(persons))
                YCS.sub(occupancy, "price", text=text)
        if any(value is not None for value in restrictions.values()):
            YCS.sub(element, "restrictions", restrictions)
        planned.rates.append((index, element))
    return planned


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One SetARI document and the updates it carries (inventory first, then rates)."""

    body: bytes
    origins: tuple[int, ...]
    keys: tuple[tuple[str, str | None], ...]
    """(room_id, rateplan_id) of each update element, in ``origins`` order."""


def _size(element: Element) -> int:
    return len(to_bytes(element)) - len(b"<?xml version='1.0' encoding='UTF-8'?>\n")


def _key(element: Element) -> tuple[str, str | None]:
    return str(attribute(element, "room_id")), attribute(element, "rateplan_id")


def set_ari_documents(
    planned: Planned, property_id: str, request_type: int, timestamp: int, max_bytes: int
) -> list[Outgoing]:
    """The fewest SetARI documents of at most ``max_bytes`` each that carry every element."""
    batches: list[list[tuple[str, int, Element]]] = [[]]
    size = ENVELOPE_BYTES
    for part, elements in (("inventory", planned.inventory), ("rate", planned.rates)):
        for index, element in elements:
            grown = _size(element)
            if batches[-1] and size + grown > max_bytes:
                batches.append([])
                size = ENVELOPE_BYTES
            batches[-1].append((part, index, element))
            size += grown
    documents = []
    for batch in batches:
        if not batch:
            continue
        root = YCS.root("request", {"timestamp": timestamp, "type": request_type})
        criteria = YCS.sub(root, "criteria", {"property_id": property_id})
        holders: dict[str, Element] = {}
        for part, _, element in batch:
            if part not in holders:
                holders[part] = YCS.sub(criteria, part)
            holders[part].append(element)
        documents.append(
            Outgoing(
                to_bytes(root),
                tuple(index for _, index, _ in batch),
                tuple(_key(element) for _, _, element in batch),
            )
        )
    return documents


@dataclass(frozen=True, slots=True)
class Answer:
    """A YCS ``<result>``: refusals of the whole request and warnings naming an update."""

    errors: tuple[str, ...]
    refused_keys: dict[tuple[str, str | None], str]
    warnings: tuple[str, ...]

    @property
    def is_success(self) -> bool:
        return not self.errors


def _remark(element: Element) -> str:
    code = attribute(element, "code") or "?"
    return f"{code}: {attribute(element, 'description') or 'no description'}"


def read_answer(root: Element) -> Answer:
    """Read ``<errors>`` (the request refused) and ``<warnings>`` (one update refused)."""
    errors = tuple(
        _remark(error) for holder in children(root, "errors") for error in children(holder, "error")
    )
    refused: dict[tuple[str, str | None], str] = {}
    others: list[str] = []
    for holder in children(root, "warnings"):
        for warning in children(holder, "warning"):
            room = attribute(warning, "room_id")
            if room is None:
                others.append(_remark(warning))
            else:
                refused[(room, attribute(warning, "rateplan_id"))] = _remark(warning)
    return Answer(errors, refused, tuple(others))


def entry_results(
    count: int, sent: Sequence[tuple[Outgoing, Answer]], planned: Planned
) -> tuple[EntryResult, ...]:
    """One result per update: refused if its element was, unsent if partly kept back."""
    reasons: dict[int, str] = {}
    sent_any: set[int] = set()
    for outgoing, answer in sent:
        for origin, key in zip(outgoing.origins, outgoing.keys, strict=True):
            sent_any.add(origin)
            if not answer.is_success:
                reasons.setdefault(origin, "; ".join(answer.errors))
            elif key in answer.refused_keys:
                reasons.setdefault(origin, answer.refused_keys[key])
    for index, reason in planned.refused.items():
        reasons.setdefault(index, reason)
    return tuple(
        EntryResult(
            index,
            accepted=index not in reasons,
            reason=reasons.get(index),
            sent=index in sent_any and index not in planned.partly_unsent,
        )
        for index in range(count)
    )
