"""Pure functions between innsync's ARI updates and Booking.com's OTA ARI messages.

``OTA_HotelAvailNotifRQ`` carries rooms to sell (per room type) and restrictions (per room type
and rate plan); ``OTA_HotelRateAmountNotifRQ`` carries prices (§3.1 ARI table). Every message
element remembers the update it came from (``origins``), so the RS's warnings, which name a
message by its position (``RPH``), turn into a refusal of that update alone. Ranges are
inclusive on the wire (``Start``..``End``); innsync's are half-open. Past dates are never sent
(§3.1 Rules: older than a day back is ``NOT_A_VALID_DATE``; innsync sends none before today).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from innsync.channels.types import AvailabilityUpdate, EntryResult, RateUpdate, RateValues
from innsync.xmlkit.parsing import Builder, Element, attribute, child, children, text_of, to_bytes

OTA_NAMESPACE = "http://www.opentravel.org/OTA/2003/05"
# The OTA payload Version attribute is required by the schema; Booking.com documents
# ``Accept-Version: 1.1`` as a header and no particular payload version [UNCONFIRMED].
PAYLOAD_VERSION = "1.0"
OTA = Builder(OTA_NAMESPACE)
# Fields a Booking.com OTA message can carry; the others (min_stay_through, advance booking
# windows) have no element Booking.com documents, so an entry setting one is refused with the
# reason (its other values are still sent; the write was warned, see BOOKING_COM_LIMITS).
SENT_RATE_FIELDS = frozenset(
    {
        "price",
        "occupancy_prices",
        "min_stay_arrival",
        "max_stay",
        "closed_to_arrival",
        "closed_to_departure",
        "stop_sell",
    }
)
RESTRICTION_FIELDS = ("closed_to_arrival", "closed_to_departure", "stop_sell")
_RESTRICTION_NAMES = {
    "closed_to_arrival": "Arrival",
    "closed_to_departure": "Departure",
    "stop_sell": "Master",
}


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One OTA request document and, per message element in it, the update it came from."""

    body: bytes
    origins: tuple[int, ...]


@dataclass(slots=True)
class Planned:
    """What can be sent of a request: the messages, the refusals and what stays unsent."""

    origins: list[int] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    months: list[date] = field(default_factory=list)
    """The first day of the month each element's dates fall in (with month batches)."""
    partly_unsent: set[int] = field(default_factory=set)
    refused: dict[int, str] = field(default_factory=dict)

    def add(self, element: Element, origin: int, start: date) -> None:
        self.elements.append(element)
        self.origins.append(origin)
        self.months.append(start.replace(day=1))

    def by_month(self) -> list[Planned]:
        """The elements grouped per calendar month (§3.1 "batch by month"), months in order."""
        groups: dict[date, Planned] = {}
        for element, origin, month in zip(self.elements, self.origins, self.months, strict=True):
            group = groups.setdefault(month, Planned())
            group.add(element, origin, month)
        return [groups[month] for month in sorted(groups)]


# The "off" value of each field Booking.com cannot be sent: innsync states every restriction
# explicitly (sync.desired), and an off value needs no message.
CANNOT_CARRY: tuple[tuple[str, int], ...] = (
    ("min_stay_through", 1),
    ("min_advance", 0),
    ("max_advance", 0),
)


def unsent_values(values: RateValues) -> list[str]:
    """The fields of ``values`` no Booking.com message carries, set to something but off."""
    return [
        f"{name} {getattr(values, name)}"
        for name, off in CANNOT_CARRY
        if getattr(values, name) not in (None, off)
    ]


def first_open_date(now: datetime, zone: tzinfo) -> date:
    """Booking.com's today (§3.1: dates are judged in CET): the first date innsync sends."""
    return now.astimezone(zone).date()


def open_runs(dates: Iterable[date], first_open: date) -> Iterator[tuple[date, date]]:
    """Inclusive (start, end) runs of consecutive dates, past dates left out."""
    run: list[date] = []
    for day in sorted(d for d in dates if d >= first_open):
        if run and day != run[-1] + timedelta(days=1):
            yield run[0], run[-1]
            run = []
        run.append(day)
    if run:
        yield run[0], run[-1]


def month_runs(runs: Iterable[tuple[date, date]]) -> Iterator[tuple[date, date]]:
    """The runs cut at month ends, so each piece lies in one calendar month."""
    for start, end in runs:
        piece = start
        while piece <= end:
            following = (piece.replace(day=28) + timedelta(days=4)).replace(day=1)
            last = min(end, following - timedelta(days=1))
            yield piece, last
            piece = last + timedelta(days=1)


def _runs(
    update: AvailabilityUpdate | RateUpdate, first_open: date, month_batches: bool
) -> list[tuple[date, date]]:
    runs = open_runs(update.covered_dates(), first_open)
    return list(month_runs(runs) if month_batches else runs)


def _has_past_dates(update: AvailabilityUpdate | RateUpdate, first_open: date) -> bool:
    return update.dates.start < first_open


def _control(start: date, end: date, room: str, plan: str | None = None) -> dict[str, str | None]:
    return {
        "Start": start.isoformat(),
        "End": end.isoformat(),
        "InvTypeCode": room,
        "RatePlanCode": plan,
    }


def plan_availability(
    updates: Sequence[AvailabilityUpdate | RateUpdate],
    first_open: date,
    month_batches: bool = False,
) -> Planned:
    """The AvailStatusMessage elements for rooms to sell and restrictions, in update order."""
    planned = Planned()
    for index, update in enumerate(updates):
        runs = _runs(update, first_open, month_batches)
        if _has_past_dates(update, first_open):
            planned.partly_unsent.add(index)  # its past dates are kept back
        if isinstance(update, AvailabilityUpdate):
            for start, end in runs:
                message = OTA.root(
                    "AvailStatusMessage",
                    {"BookingLimit": update.availability, "BookingLimitMessageType": "SetLimit"},
                )
                OTA.sub(
                    message, "StatusApplicationControl", _control(start, end, update.room_type_code)
                )
                planned.add(message, index, start)
            continue
        values = update.values
        unsent = unsent_values(values)
        if unsent:
            # Refused, not dropped: the engine keeps it as a dead letter with the reason.
            planned.partly_unsent.add(index)
            planned.refused[index] = (
                f"{', '.join(unsent)} not sent: Booking.com has no such restriction "
                "(the entry's other values were sent)"
            )
        statuses = [
            (_RESTRICTION_NAMES[name], getattr(values, name))
            for name in RESTRICTION_FIELDS
            if getattr(values, name) is not None
        ]
        stays = [
            ("SetMinLOS", values.min_stay_arrival),
            ("SetMaxLOS", values.max_stay),
        ]
        stays = [(kind, time) for kind, time in stays if time is not None]
        if not statuses and not stays:
            continue
        for start, end in runs:
            # One RestrictionStatus per message (the schema allows one), LOS in the first.
            for position in range(max(len(statuses), 1)):
                message = OTA.root("AvailStatusMessage")
                control = _control(start, end, update.room_type_code, update.rate_plan_code)
                OTA.sub(message, "StatusApplicationControl", control)
                if position == 0 and stays:
                    lengths = OTA.sub(message, "LengthsOfStay")
                    for kind, time in stays:
                        OTA.sub(lengths, "LengthOfStay", {"MinMaxMessageType": kind, "Time": time})
                if statuses:
                    restriction, closed = statuses[position]
                    OTA.sub(
                        message,
                        "RestrictionStatus",
                        {"Status": "Close" if closed else "Open", "Restriction": restriction},
                    )
                planned.add(message, index, start)
    return planned


def minor_units(amount: Decimal, decimal_places: int) -> int | None:
    """``amount`` as an integer of minor units (OTA DecimalPlaces), or ``None`` if finer."""
    scaled = amount.scaleb(decimal_places)
    if scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def plan_rate_amounts(
    updates: Sequence[AvailabilityUpdate | RateUpdate],
    first_open: date,
    currency: str,
    decimal_places: int,
    month_batches: bool = False,
) -> Planned:
    """The RateAmountMessage elements for every rate update with a price, in update order."""
    planned = Planned()
    for index, update in enumerate(updates):
        if not isinstance(update, RateUpdate):
            continue
        values = update.values
        prices: list[tuple[int | None, Decimal]] = []
        if values.price is not None:
            prices.append((None, values.price))
        prices.extend(values.occupancy_prices or ())
        if not prices:
            continue
        amounts = [(guests, minor_units(amount, decimal_places)) for guests, amount in prices]
        if any(minor is None for _, minor in amounts):
            planned.refused[index] = f"a price has more than {decimal_places} decimal places"
            continue
        runs = _runs(update, first_open, month_batches)
        if _has_past_dates(update, first_open):
            planned.partly_unsent.add(index)
        for start, end in runs:
            message = OTA.root("RateAmountMessage")
            control = _control(start, end, update.room_type_code, update.rate_plan_code)
            OTA.sub(message, "StatusApplicationControl", control)
            rate = OTA.sub(OTA.sub(message, "Rates"), "Rate")
            by_guest = OTA.sub(rate, "BaseByGuestAmts")
            for guests, minor in amounts:
                OTA.sub(
                    by_guest,
                    "BaseByGuestAmt",
                    {
                        "AmountAfterTax": minor,
                        "CurrencyCode": currency,
                        "DecimalPlaces": decimal_places,
                        "NumberOfGuests": guests,
                    },
                )
            planned.add(message, index, start)
    return planned


def _document(
    root_name: str, container: str, hotel_id: str, planned: Planned, stamp: MessageStamp
) -> OutgoingMessage | None:
    if not planned.elements:
        return None
    root = OTA.root(root_name, stamp.attributes())
    holder = OTA.sub(root, container, {"HotelCode": hotel_id})
    for element in planned.elements:
        holder.append(element)
    return OutgoingMessage(to_bytes(root), tuple(planned.origins))


@dataclass(frozen=True, slots=True)
class MessageStamp:
    """The OTA payload attributes of one request (echo token, time stamp, target)."""

    echo_token: str
    timestamp: datetime
    target: str = "Production"

    def attributes(self) -> dict[str, str]:
        return {
            "EchoToken": self.echo_token,
            "TimeStamp": self.timestamp.isoformat(timespec="seconds"),
            "Target": self.target,
            "Version": PAYLOAD_VERSION,
        }


def avail_notif(hotel_id: str, planned: Planned, stamp: MessageStamp) -> OutgoingMessage | None:
    """One ``OTA_HotelAvailNotifRQ`` for one hotel (§3.1 Rules), or ``None`` if empty."""
    return _document("OTA_HotelAvailNotifRQ", "AvailStatusMessages", hotel_id, planned, stamp)


def rate_amount_notif(
    hotel_id: str, planned: Planned, stamp: MessageStamp
) -> OutgoingMessage | None:
    """One ``OTA_HotelRateAmountNotifRQ`` for one hotel, or ``None`` if empty."""
    return _document("OTA_HotelRateAmountNotifRQ", "RateAmountMessages", hotel_id, planned, stamp)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """An OTA ``…RS``: whether it succeeded, refusals by message position, other remarks."""

    is_success: bool
    errors: tuple[str, ...]
    refused_positions: dict[int, str]
    """0-based message positions a warning with an ``RPH`` named (1-based on the wire)."""
    warnings: tuple[str, ...]


def _remark(element: Element) -> str:
    # Booking.com's label (NOT_A_VALID_DATE) in ShortText, else the OTA ERR code.
    label = attribute(element, "ShortText") or attribute(element, "Code")
    text = text_of(element) or "no text"
    return f"{label}: {text}" if label else text


def read_acknowledgement(root: Element) -> Acknowledgement:
    """Read ``<Success/>``, ``<Warnings>`` and ``<Errors>`` of an OTA RS (§3.1 Response)."""
    errors = tuple(_remark(error) for holder in children(root, "Errors") for error in holder)
    refused: dict[int, str] = {}
    warnings: list[str] = []
    for holder in children(root, "Warnings"):
        for warning in children(holder, "Warning"):
            rph = attribute(warning, "RPH")
            if rph is not None and rph.isdigit() and int(rph) >= 1:
                refused[int(rph) - 1] = _remark(warning)
            else:
                warnings.append(_remark(warning))
    is_success = child(root, "Success") is not None and not errors
    return Acknowledgement(is_success, errors, refused, tuple(warnings))


def entry_results(
    count: int,
    sent: Sequence[tuple[OutgoingMessage, Acknowledgement]],
    planned: Sequence[Planned],
) -> tuple[EntryResult, ...]:
    """One result per update: refused if any of its messages was, unsent if partly kept back."""
    reasons: dict[int, str] = {}
    sent_any: set[int] = set()
    for outgoing, answer in sent:
        sent_any.update(outgoing.origins)
        for position, origin in enumerate(outgoing.origins):
            if not answer.is_success:
                reasons.setdefault(origin, "; ".join(answer.errors) or "refused")
            elif position in answer.refused_positions:
                reasons.setdefault(origin, answer.refused_positions[position])
    partly = set().union(*(p.partly_unsent for p in planned)) if planned else set()
    for part in planned:
        for index, reason in part.refused.items():
            reasons.setdefault(index, reason)
    return tuple(
        EntryResult(
            index,
            accepted=index not in reasons,
            reason=reasons.get(index),
            sent=index in sent_any and index not in partly,
        )
        for index in range(count)
    )
