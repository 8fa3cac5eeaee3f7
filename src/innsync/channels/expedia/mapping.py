"""Pure translations between innsync's neutral ARI updates and EQC's AR messages.

Section numbers (§) point to ``shared/channels/ota-direct-and-standards.md`` §3.2 and the EQC
documents it lists. Element and attribute names are those of Expedia's published examples
(``tests/channels/reference/expedia/``).

Packing: EQC counts an AR message's *updates*, one per value per stay date (FAQ "Counting how
many updates are included in a message"), and refuses a message of more than 3000 whole (error
3107). The planner turns each neutral update into pieces (one room type or rate plan, a run of
stay dates, the values) and fills messages to exactly 3000 updates, cutting a piece between two
stay dates, or between two values of one date, where a message is full. So a sync needs
``ceil(updates / 3000)`` messages, the least the limit allows.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from innsync.channels.types import AvailabilityUpdate, RateUpdate, RateValues
from innsync.xmlkit.parsing import Builder, Element, to_bytes

AR_NAMESPACE = "http://www.expediaconnect.com/EQC/AR/2011/06"
MAX_UPDATES_PER_MESSAGE = 3000
# AR RQ definition: "To date" <= today + 2 years + 1 day; "From date" >= today - 1.
MAX_DAYS_AHEAD = 2 * 365 + 1
WEEKDAY_ATTRIBUTES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Neutral restrictions EQC has no attribute for, with their "off" value (AR RQ definition:
# minLOS follows the hotel's arrival or stay-through setting, so only one of the two travels).
CANNOT_CARRY: tuple[tuple[str, int], ...] = (
    ("min_stay_through", 1),
    ("min_advance", 0),
    ("max_advance", 0),
)
# AR RQ definition: min and max LOS between 1 and 28.
MAX_LOS = 28

Value = bool | int | Decimal


@dataclass(frozen=True, slots=True)
class Piece:
    """Values for one room type (``rate_id`` None) or rate plan over a run of stay dates.

    ``first``..``last`` are inclusive; with ``weekdays`` only those days of the week count.
    ``values`` are (name, value) atoms: each counts one update per stay date.
    """

    origin: int
    room_id: str
    rate_id: str | None
    first: date
    last: date
    weekdays: frozenset[int] | None
    values: tuple[tuple[str, Value], ...]

    def days(self) -> list[date]:
        span = (self.last - self.first).days + 1
        found = [self.first + timedelta(days=n) for n in range(span)]
        return [d for d in found if self.weekdays is None or d.weekday() in self.weekdays]

    @property
    def updates(self) -> int:
        return len(self.days()) * len(self.values)

    def split_days(self, count: int) -> tuple[Piece, Piece | None]:
        """The first ``count`` counted days, and the rest (None when nothing is left)."""
        days = self.days()
        head = dataclasses.replace(self, last=days[count - 1])
        if count >= len(days):
            return head, None
        return head, dataclasses.replace(self, first=days[count])

    def split_values(self, count: int) -> tuple[Piece, Piece]:
        return (
            dataclasses.replace(self, values=self.values[:count]),
            dataclasses.replace(self, values=self.values[count:]),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The AR messages to send (pieces each) and what was kept back or refused before sending."""

    messages: tuple[tuple[Piece, ...], ...]
    refused: dict[int, str]
    partly_unsent: frozenset[int]
    pieces: int

    @property
    def updates(self) -> int:
        return sum(piece.updates for message in self.messages for piece in message)


def rate_atoms(
    values: RateValues, pricing: str
) -> tuple[tuple[tuple[str, Value], ...], str | None]:
    """The EQC values of neutral rate values, or why they cannot be sent."""
    atoms: list[tuple[str, Value]] = []
    if values.stop_sell is not None:
        atoms.append(("closed", values.stop_sell))
    if pricing == "per_day":
        if values.price is not None:
            atoms.append(("rate", values.price))
        elif values.occupancy_prices:
            return (), "the property is priced per day on Expedia: send a price, not occupancies"
    else:
        if values.occupancy_prices:
            atoms += [(f"occupancy:{n}", amount) for n, amount in values.occupancy_prices]
        elif values.price is not None:
            return (), "the property is priced per occupancy on Expedia: send occupancy prices"
    if values.closed_to_arrival is not None:
        atoms.append(("closedToArrival", values.closed_to_arrival))
    if values.closed_to_departure is not None:
        atoms.append(("closedToDeparture", values.closed_to_departure))
    min_stay = values.min_stay_arrival
    if min_stay is not None:
        if not 1 <= min_stay <= MAX_LOS:
            return (), f"minLOS {min_stay} is outside 1..{MAX_LOS}"
        atoms.append(("minLOS", min_stay))
    if values.max_stay is not None:
        # Neutral 0 is "no maximum": EQC's longest, 28 (its default when maxLOS is left out).
        max_stay = values.max_stay or MAX_LOS
        if max_stay > MAX_LOS:
            return (), f"maxLOS {max_stay} is above {MAX_LOS}"
        atoms.append(("maxLOS", max_stay))
    for name, off in CANNOT_CARRY:
        value = getattr(values, name)
        if value is not None and value != off:
            return (), f"{name} {value} cannot be sent: Expedia has no such restriction"
    return tuple(atoms), None


def plan_ar(
    updates: Sequence[AvailabilityUpdate | RateUpdate],
    today: date,
    pricing: str,
    capacity: int = MAX_UPDATES_PER_MESSAGE,
) -> Plan:
    """Pieces of every update within EQC's window, packed into messages of ``capacity`` updates."""
    earliest, latest = today, today + timedelta(days=MAX_DAYS_AHEAD - 1)
    pieces: list[Piece] = []
    refused: dict[int, str] = {}
    partly: set[int] = set()
    for index, update in enumerate(updates):
        # Neutral ranges are half-open; EQC's DateRange is inclusive.
        first = max(update.dates.start, earliest)
        last = min(update.dates.end - timedelta(days=1), latest)
        if first != update.dates.start or last != update.dates.end - timedelta(days=1):
            partly.add(index)
        if first > last:
            continue
        if isinstance(update, AvailabilityUpdate):
            atoms: tuple[tuple[str, Value], ...] = (("inventory", update.availability),)
            rate_id = None
        else:
            atoms, reason = rate_atoms(update.values, pricing)
            if reason is not None:
                refused[index] = reason
                continue
            rate_id = update.rate_plan_code
        piece = Piece(index, update.room_type_code, rate_id, first, last, update.weekdays, atoms)
        if atoms and piece.days():
            pieces.append(piece)
    return Plan(pack(pieces, capacity), refused, frozenset(partly), len(pieces))


def pack(pieces: Sequence[Piece], capacity: int) -> tuple[tuple[Piece, ...], ...]:
    """Fill messages to ``capacity`` updates in order, cutting pieces where a message is full."""
    messages: list[tuple[Piece, ...]] = []
    current: list[Piece] = []
    room = capacity
    queue = deque(piece for piece in pieces if piece.updates)
    while queue:
        piece = queue.popleft()
        if piece.updates <= room:
            current.append(piece)
            room -= piece.updates
        elif room >= len(piece.values):
            head, tail = piece.split_days(room // len(piece.values))
            current.append(head)
            room -= head.updates
            if tail is not None:
                queue.appendleft(tail)
        elif room > 0:
            day, rest = piece.split_days(1)
            head, tail = day.split_values(room)
            current.append(head)
            room = 0
            if rest is not None:
                queue.appendleft(rest)
            queue.appendleft(tail)
        if room == 0 or not queue:
            messages.append(tuple(current))
            current, room = [], capacity
    return tuple(message for message in messages if message)


def minimum_messages(updates: int, capacity: int = MAX_UPDATES_PER_MESSAGE) -> int:
    """The fewest AR messages that can carry ``updates`` updates."""
    return -(-updates // capacity)


def _text(value: Value) -> str:
    # Rates are Decimals; written out in full, never in exponent form.
    return f"{Decimal(value):f}"


def _date_range(builder: Builder, parent: Element, piece: Piece) -> None:
    flags: dict[str, object | None] = {
        "from": piece.first.isoformat(),
        "to": piece.last.isoformat(),
    }
    if piece.weekdays is not None:
        # AR RQ definition: Expedia recommends all seven flags once any is given.
        for number, name in enumerate(WEEKDAY_ATTRIBUTES):
            flags[name] = number in piece.weekdays
    builder.sub(parent, "DateRange", flags)


def _rate_plan(builder: Builder, room: Element, piece: Piece, currency: str) -> None:
    values = dict(piece.values)
    plan = builder.sub(room, "RatePlan", {"id": piece.rate_id, "closed": values.get("closed")})
    prices = [(name, value) for name, value in piece.values if name == "rate" or ":" in name]
    if prices:
        rate = builder.sub(plan, "Rate", {"currency": currency})
        for name, value in prices:
            if name == "rate":
                builder.sub(rate, "PerDay", {"rate": _text(value)})
            else:
                occupancy = name.split(":", 1)[1]
                builder.sub(rate, "PerOccupancy", {"rate": _text(value), "occupancy": occupancy})
    names = ("closedToArrival", "closedToDeparture", "minLOS", "maxLOS")
    restrictions = {name: values.get(name) for name in names}
    if any(value is not None for value in restrictions.values()):
        builder.sub(plan, "Restrictions", restrictions)


def request_root(
    namespace: str, name: str, username: str, password: str, hotel_id: str
) -> tuple[Builder, Element]:
    """Any EQC RQ's root with what every one starts with: ``Authentication`` (§3.2, the
    credentials travel in the body) and ``Hotel``."""
    builder = Builder(namespace)
    root = builder.root(name)
    builder.sub(root, "Authentication", {"username": username, "password": password})
    builder.sub(root, "Hotel", {"id": hotel_id})
    return builder, root


def ar_request(
    hotel_id: str,
    username: str,
    password: str,
    message: Sequence[Piece],
    currency: str,
) -> bytes:
    """One AvailRateUpdateRQ: an AvailRateUpdate per piece (the 2011/06 repeatable element)."""
    builder, root = request_root(AR_NAMESPACE, "AvailRateUpdateRQ", username, password, hotel_id)
    for piece in message:
        update = builder.sub(root, "AvailRateUpdate")
        _date_range(builder, update, piece)
        values = dict(piece.values)
        room = builder.sub(update, "RoomType", {"id": piece.room_id})
        if piece.rate_id is None:
            builder.sub(room, "Inventory", {"totalInventoryAvailable": values["inventory"]})
        else:
            _rate_plan(builder, room, piece, currency)
    return to_bytes(root)
