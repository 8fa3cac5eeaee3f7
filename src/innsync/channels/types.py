"""Neutral values exchanged with channel adapters: ARI updates, push results, limits and bookings.

No vendor field names appear here; each adapter's ``mapping.py`` translates these to its payloads.
Ranges are half-open stay-date ranges (see :mod:`innsync.stay_dates`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from innsync.stay_dates import ALL_WEEKDAYS, DateRange

PushKind = Literal["availability", "rates"]
WindowScope = Literal["property", "account"]
BookingStatus = Literal["new", "modified", "cancelled"]
RatePlanKey = tuple[str, str]
"""A rate plan as (room type code, rate plan code) on the channel."""


def _check_non_negative(name: str, value: int | None, minimum: int = 0) -> None:
    if value is not None and (isinstance(value, bool) or value < minimum):
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")


def _check_money(name: str, value: Decimal) -> None:
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite, non-negative amount, got {value}")


def _check_weekdays(weekdays: frozenset[int] | None) -> None:
    if weekdays is not None and (not weekdays or not weekdays <= ALL_WEEKDAYS):
        raise ValueError(f"weekdays must be a non-empty subset of 0..6, got {sorted(weekdays)}")


@dataclass(frozen=True, slots=True)
class RateValues:
    """Every field a channel can take for one rate plan and stay date; ``None`` means not set."""

    price: Decimal | None = None
    occupancy_prices: tuple[tuple[int, Decimal], ...] | None = None
    min_stay_arrival: int | None = None
    min_stay_through: int | None = None
    max_stay: int | None = None
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    stop_sell: bool | None = None
    min_advance: int | None = None
    max_advance: int | None = None

    def __post_init__(self) -> None:
        if self.price is not None:
            _check_money("price", self.price)
        if self.occupancy_prices is not None:
            # Sorted by occupancy so that equal price lists compare (and hash) equal.
            ordered = tuple(sorted(self.occupancy_prices, key=lambda pair: pair[0]))
            occupancies = [occupancy for occupancy, _ in ordered]
            if not ordered or len(set(occupancies)) != len(occupancies):
                raise ValueError("occupancy_prices must list each occupancy once")
            for occupancy, amount in ordered:
                _check_non_negative("occupancy", occupancy, minimum=1)
                _check_money(f"price for occupancy {occupancy}", amount)
            object.__setattr__(self, "occupancy_prices", ordered)
        _check_non_negative("min_stay_arrival", self.min_stay_arrival, minimum=1)
        _check_non_negative("min_stay_through", self.min_stay_through, minimum=1)
        _check_non_negative("max_stay", self.max_stay)
        _check_non_negative("min_advance", self.min_advance)
        _check_non_negative("max_advance", self.max_advance)

    def fields(self) -> frozenset[str]:
        """The names of the fields that are set."""
        return frozenset(name for name in RATE_FIELDS if getattr(self, name) is not None)

    def changed_fields(self, other: RateValues) -> frozenset[str]:
        """The names of the fields whose values differ between ``self`` and ``other``."""
        return frozenset(
            name for name in RATE_FIELDS if getattr(self, name) != getattr(other, name)
        )

    def only(self, fields: Collection[str]) -> RateValues:
        """A copy keeping the named fields and unsetting every other one."""
        unknown = set(fields) - set(RATE_FIELDS)
        if unknown:
            raise ValueError(f"unknown rate fields: {sorted(unknown)}")
        cleared: dict[str, Any] = {name: None for name in RATE_FIELDS if name not in fields}
        return dataclasses.replace(self, **cleared)

    def updated_with(
        self, update: RateValues, *, merge_occupancy_prices: bool = False
    ) -> RateValues:
        """These values after a partial update: the update's set fields win.

        With ``merge_occupancy_prices`` (a channel that takes partial price lists) the update's
        occupancy prices replace only the occupancies it names; the others keep their price.
        """
        changes: dict[str, Any] = {name: getattr(update, name) for name in update.fields()}
        if merge_occupancy_prices and self.occupancy_prices and update.occupancy_prices:
            merged = dict(self.occupancy_prices) | dict(update.occupancy_prices)
            changes["occupancy_prices"] = tuple(merged.items())
        return dataclasses.replace(self, **changes)

    def occupancy_prices_changed_from(self, held: RateValues) -> RateValues:
        """These values with only the occupancy prices that differ from ``held``'s.

        For channels that take partial price lists: an occupancy whose price the channel
        already holds is not sent again. ``occupancy_prices`` is unset when none differs (an
        occupancy innsync stopped pricing keeps what the channel last had, like any field
        innsync stops managing).
        """
        if self.occupancy_prices is None or not held.occupancy_prices:
            return self
        before = dict(held.occupancy_prices)
        changed = tuple(
            (occupancy, amount)
            for occupancy, amount in self.occupancy_prices
            if before.get(occupancy) != amount
        )
        return dataclasses.replace(self, occupancy_prices=changed or None)

    @property
    def is_empty(self) -> bool:
        return not self.fields()


RATE_FIELDS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(RateValues))


@dataclass(frozen=True, slots=True)
class AvailabilityUpdate:
    """Units left to sell of one room type on the dates (and weekdays) given."""

    room_type_code: str
    dates: DateRange
    availability: int
    weekdays: frozenset[int] | None = None

    def __post_init__(self) -> None:
        _check_non_negative("availability", self.availability)
        _check_weekdays(self.weekdays)

    def covered_dates(self) -> Iterator[date]:
        """The stay dates this update sets."""
        return self.dates.dates_on(self.weekdays or ALL_WEEKDAYS)


@dataclass(frozen=True, slots=True)
class RateUpdate:
    """Rates and restrictions of one rate plan; ``values`` carries only the fields to send."""

    room_type_code: str
    rate_plan_code: str
    dates: DateRange
    values: RateValues
    weekdays: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.values.is_empty:
            raise ValueError("a rate update must set at least one field")
        _check_weekdays(self.weekdays)

    @property
    def rate_plan(self) -> RatePlanKey:
        return (self.room_type_code, self.rate_plan_code)

    def covered_dates(self) -> Iterator[date]:
        """The stay dates this update sets."""
        return self.dates.dates_on(self.weekdays or ALL_WEEKDAYS)


UpdateT = TypeVar("UpdateT", AvailabilityUpdate, RateUpdate)
_KIND_OF_UPDATE: dict[type, PushKind] = {AvailabilityUpdate: "availability", RateUpdate: "rates"}


@dataclass(frozen=True, slots=True)
class PushRequest(Generic[UpdateT]):
    """One request to a channel: updates of a single kind, in the order the channel applies them."""

    kind: PushKind
    updates: tuple[UpdateT, ...]
    today: date | None = None
    """The property's today (in its time zone): the engine plans no date before it, and an
    adapter uses it rather than its own clock to tell which dates the channel still takes."""
    held_availability: Mapping[str, Mapping[date, int]] | None = None
    """Rates requests to a channel whose ``lifting_stop_sell_sets_availability``: the units
    innsync holds per room type code on the dates whose stop sell the request may lift (the
    channel's acknowledged units, else innsync's), for the adapter to send with the lift."""

    def __post_init__(self) -> None:
        if not self.updates:
            raise ValueError("a push request needs at least one update")
        if any(_KIND_OF_UPDATE[type(update)] != self.kind for update in self.updates):
            raise ValueError(f"every update of a {self.kind} request must be of that kind")


@dataclass(frozen=True, slots=True)
class EntryResult:
    """What the channel did with one entry (by its index in the request)."""

    index: int
    accepted: bool
    reason: str | None = None
    sent: bool = True
    """False: the adapter sent nothing of it, or only part of it (dates the channel cannot
    hold); the channel did not refuse it, but it does not hold the values either, so nothing of
    it is recorded as acknowledged."""


@dataclass(frozen=True, slots=True)
class PushResult:
    """The channel's answer to one push request."""

    entries: tuple[EntryResult, ...]
    task_id: str | None = None
    warnings: tuple[str, ...] = ()

    @classmethod
    def all_accepted(cls, count: int, task_id: str | None = None) -> PushResult:
        return cls(tuple(EntryResult(index, accepted=True) for index in range(count)), task_id)

    @property
    def accepted_indexes(self) -> tuple[int, ...]:
        return tuple(entry.index for entry in self.entries if entry.accepted)

    @property
    def rejected(self) -> dict[int, str]:
        """Reasons by entry index for every entry the channel refused."""
        return {
            entry.index: entry.reason or "rejected" for entry in self.entries if not entry.accepted
        }

    @property
    def unsent_indexes(self) -> tuple[int, ...]:
        """Entries the adapter did not send (whole): nothing of them is recorded."""
        return tuple(entry.index for entry in self.entries if not entry.sent)

    @property
    def is_fully_accepted(self) -> bool:
        return all(entry.accepted for entry in self.entries)


@dataclass(frozen=True, slots=True)
class ValueConstraints:
    """The values a channel refuses, declared by its adapter so a write can say so at once.

    innsync itself refuses what no channel can sell (a price of 0); these are the narrower
    rules of one channel. ``None`` means the channel declares no such rule.
    """

    min_price: Decimal | None = None
    """The lowest price the channel takes (inclusive)."""
    max_price: Decimal | None = None
    price_decimal_places: int | None = None
    """Prices with more decimal places are refused (innsync never rounds a price on the way)."""
    max_min_stay: int | None = None
    max_max_stay: int | None = None
    cannot_carry: tuple[tuple[str, int], ...] = ()
    """Restrictions the channel has no way to hold, each with its "off" value: any other value
    is never sent (Booking.com's ``min_stay_through``), which the write is told."""

    def problems(self, values: RateValues) -> list[str]:
        """Why the channel would refuse ``values``; empty when it would take them."""
        found: list[str] = []
        prices = [("price", values.price)] if values.price is not None else []
        prices += [
            (f"price for occupancy {occupancy}", amount)
            for occupancy, amount in values.occupancy_prices or ()
        ]
        for name, amount in prices:
            if self.min_price is not None and amount < self.min_price:
                found.append(f"{name} {amount} is below the channel's minimum {self.min_price}")
            if self.max_price is not None and amount > self.max_price:
                found.append(f"{name} {amount} is above the channel's maximum {self.max_price}")
            places = self.price_decimal_places
            exponent = amount.normalize().as_tuple().exponent
            if places is not None and isinstance(exponent, int) and -exponent > places:
                found.append(f"{name} {amount} has more than {places} decimal places")
        for name in ("min_stay_arrival", "min_stay_through"):
            stay = getattr(values, name)
            if self.max_min_stay is not None and stay is not None and stay > self.max_min_stay:
                found.append(f"{name} {stay} is above the channel's maximum {self.max_min_stay}")
        if (
            self.max_max_stay is not None
            and values.max_stay is not None
            and values.max_stay > self.max_max_stay
        ):
            found.append(
                f"max_stay {values.max_stay} is above the channel's maximum {self.max_max_stay}"
            )
        for name, off in self.cannot_carry:
            value = getattr(values, name)
            if value is not None and value != off:
                found.append(f"{name} {value} cannot be sent: the channel has no such restriction")
        return found


NO_VALUE_CONSTRAINTS = ValueConstraints()
"""A channel that declares no value rules beyond innsync's own."""


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """What a channel accepts: its request budget and the shape of the requests it understands."""

    requests_per_window: int
    window_seconds: float
    window_scope: WindowScope = "property"
    separate_budgets: bool = True
    """Availability and rates have a budget each (separate endpoints), as Channex's 10 + 10."""
    max_request_bytes: int | None = None
    max_entries_per_request: int | None = None
    understands_ranges: bool = True
    understands_weekdays: bool = False
    accepts_partial_rates: bool = True
    """Fields left out of a rate entry keep their value; otherwise the entry replaces them all."""
    accepts_partial_occupancy_prices: bool = False
    """With partial rates: occupancies left out of a per-person price list keep their price, so
    only the occupancies whose price changed are sent."""
    max_days_per_entry: int | None = None
    lifting_stop_sell_sets_availability: bool = False
    """A rates write that lifts a stop sell also sets the room's availability unless it sends
    it (Beds24's ``override`` blackout to none): the engine then gives each rates request the
    units innsync holds on those dates (``PushRequest.held_availability``)."""
    values: ValueConstraints = NO_VALUE_CONSTRAINTS
    """The values the channel refuses (see :class:`ValueConstraints`)."""
    today_margin_seconds: float = 0.0
    """A stay date counts as past this long before its midnight (property time): a request
    sent just before midnight can reach the channel after it, when the date is refused."""

    def __post_init__(self) -> None:
        _check_non_negative("requests_per_window", self.requests_per_window, minimum=1)
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        _check_non_negative("max_request_bytes", self.max_request_bytes, minimum=1)
        _check_non_negative("max_entries_per_request", self.max_entries_per_request, minimum=1)
        _check_non_negative("max_days_per_entry", self.max_days_per_entry, minimum=1)

    def budget_for(self, kind: PushKind) -> str:
        """The name of the request budget a push of ``kind`` spends."""
        return kind if self.separate_budgets else "ari"


@dataclass(frozen=True, slots=True)
class GuestDetails:
    """The guest as the channel sent them; any part may be missing or masked."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    """ISO 3166-1 alpha-2, upper case."""
    language: str | None = None
    """A language tag as the channel sent it (``en``, ``de-CH``)."""

    def __post_init__(self) -> None:
        if self.country is not None and not _is_country(self.country):
            raise ValueError(f"country must be an ISO 3166-1 alpha-2 code, got {self.country!r}")


def _is_country(code: str) -> bool:
    return len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


ChargeKind = Literal["tax", "city_tax", "fee"]
CHARGE_KINDS: tuple[ChargeKind, ...] = ("tax", "city_tax", "fee")


@dataclass(frozen=True, slots=True)
class Charge:
    """A tax or fee of a booked room, for the whole stay.

    ``is_inclusive``: already counted in the room's nightly prices; otherwise added on top.
    """

    kind: ChargeKind
    name: str
    amount: Decimal
    is_inclusive: bool

    def __post_init__(self) -> None:
        if self.kind not in CHARGE_KINDS:
            raise ValueError(f"a charge is one of {', '.join(CHARGE_KINDS)}, got {self.kind!r}")
        _check_money(f"{self.kind} {self.name!r}", self.amount)


@dataclass(frozen=True, slots=True)
class BookedRoom:
    """One room of a booking, with its price for each night and its taxes and fees."""

    room_type_code: str
    rate_plan_code: str | None
    occupancy: int
    nightly_prices: tuple[tuple[date, Decimal], ...]
    children: int = 0
    child_ages: tuple[int, ...] = ()
    """The ages of the children the channel named (at most ``children`` of them)."""
    charges: tuple[Charge, ...] = ()

    def __post_init__(self) -> None:
        _check_non_negative("occupancy", self.occupancy, minimum=1)
        _check_non_negative("children", self.children)
        if self.children > self.occupancy:
            raise ValueError("children are counted in the occupancy and cannot exceed it")
        for night, amount in self.nightly_prices:
            _check_money(f"price of {night}", amount)
        if len(self.child_ages) > self.children:
            raise ValueError("more child ages than children")
        for age in self.child_ages:
            _check_non_negative("a child's age", age)
            if age >= MAX_CHILD_AGE:
                raise ValueError(f"a child's age is below {MAX_CHILD_AGE}, got {age}")


# Ages past this are not a child's: a channel sending one sends something else (a birth year).
MAX_CHILD_AGE = 18
PaymentCollect = Literal["property", "ota"]
PaymentType = Literal["credit_card", "bank_transfer"]


@dataclass(frozen=True, slots=True)
class Guarantee:
    """How a booking is guaranteed, without the card: never a card number, only its last four
    digits, never a security code."""

    card_type: str | None = None
    """The channel's card brand code (``VI``, ``MC``, ``AX``...)."""
    card_last_four: str | None = None
    cardholder_name: str | None = None
    expires: str | None = None
    """``MM/YYYY``."""
    is_virtual: bool = False
    """A virtual card issued by the OTA (e.g. Expedia Collect, Booking.com Payments)."""

    def __post_init__(self) -> None:
        last_four = self.card_last_four
        if last_four is not None and not (
            len(last_four) == 4 and last_four.isascii() and last_four.isdigit()
        ):
            raise ValueError("card_last_four must be four digits")


@dataclass(frozen=True, slots=True)
class BookingRevision:
    """One revision of a channel booking: new, modified or cancelled, as the channel reported it."""

    channel_booking_id: str
    revision_id: str
    status: BookingStatus
    arrival: date
    departure: date
    rooms: tuple[BookedRoom, ...]
    guest: GuestDetails
    total_amount: Decimal
    """What the guest pays for the booking, taxes and fees included."""
    currency: str
    received_at: datetime
    ota_name: str | None = None
    """The OTA a channel manager received the booking from (``Booking.com``, ``Expedia``)."""
    ota_reservation_code: str | None = None
    """The OTA's own code of the booking: what the guest and the OTA's extranet show."""
    channel_reference: str | None = None
    """The channel's display code of the booking when it is not its id (Channex
    ``unique_id``, ``BDC-9996013801``)."""
    booked_at: datetime | None = None
    """When the guest booked; ``None`` when the channel does not say."""
    arrival_time: str | None = None
    """The guest's expected arrival time, ``HH:MM`` in the property's time."""
    special_requests: str | None = None
    """The guest's requests and the channel's remarks, as sent."""
    total_before_tax: Decimal | None = None
    commission: Decimal | None = None
    """What the OTA keeps of ``total_amount``."""
    payment_collect: PaymentCollect | None = None
    """Who takes the guest's money: the property, or the OTA (OTA collect, virtual cards)."""
    payment_type: PaymentType | None = None
    guarantee: Guarantee | None = None

    def __post_init__(self) -> None:
        if not self.channel_booking_id or not self.revision_id:
            raise ValueError("a revision needs the channel's booking id and revision id")
        for name in ("total_before_tax", "commission"):
            value = getattr(self, name)
            if value is not None:
                _check_money(name, value)
        if self.booked_at is not None and self.booked_at.utcoffset() is None:
            raise ValueError("booked_at must be timezone-aware")
        if self.arrival_time is not None and not _is_clock_time(self.arrival_time):
            raise ValueError(f"arrival_time must be HH:MM, got {self.arrival_time!r}")
        stay = DateRange(self.arrival, self.departure)
        if not self.rooms and self.status != "cancelled":
            raise ValueError("a new or modified booking needs at least one room")
        for room in self.rooms:
            if any(night not in stay for night, _ in room.nightly_prices):
                raise ValueError("nightly prices must fall between arrival and departure")
        _check_money("total_amount", self.total_amount)
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")
        if self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")

    @property
    def stay(self) -> DateRange:
        return DateRange(self.arrival, self.departure)


@dataclass(frozen=True, slots=True)
class BookingCancellation:
    """A cancellation that names the booking only: no stay, rooms or amounts.

    Some channels cancel with the booking id alone (Aiosell's short cancel). The inbox cancels
    the known booking with it, keeping what the booking held; a cancellation of a booking
    innsync does not know yet is kept as a tombstone, so the booking arriving later stays
    cancelled. ``currency`` is the connection's, for the tombstone's zero total.
    """

    channel_booking_id: str
    revision_id: str
    received_at: datetime
    currency: str
    ota_name: str | None = None

    def __post_init__(self) -> None:
        if not self.channel_booking_id or not self.revision_id:
            raise ValueError("a cancellation needs the channel's booking id and revision id")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code, got {self.currency!r}")
        if self.received_at.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")

    @property
    def status(self) -> BookingStatus:
        return "cancelled"


def _is_clock_time(text: str) -> bool:
    hours, colon, minutes = text.partition(":")
    return (
        colon == ":"
        and len(hours) == len(minutes) == 2
        and text.isascii()
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    )


NoticeKind = Literal[
    "needs_attention", "revision_unacknowledged", "sync_error", "sync_warning", "channel_lifecycle"
]


@dataclass(frozen=True, slots=True)
class ChannelNotice:
    """Something a channel reported by webhook that is not a booking revision.

    ``needs_attention``: a person must look (e.g. a booking for an unmapped room);
    ``revision_unacknowledged``: the channel misses an acknowledgement, so innsync reads the
    channel's revisions again at once; ``sync_error`` / ``sync_warning``: the channel failed
    to pass values on to an OTA; ``channel_lifecycle``: an OTA was connected, changed or
    disconnected on the channel's side.
    """

    kind: NoticeKind
    message: str
    details: Mapping[str, str]
    ota: OtaChannel | None = None
    """The OTA behind the channel the notice is about, when the channel names one."""


OtaState = Literal["active", "disconnected", "listing_disconnected", "sync_error", "sync_warning"]
# The states in which an OTA no longer sells or no longer receives values: a person must look.
OTA_TROUBLE_STATES: frozenset[str] = frozenset(
    {"disconnected", "listing_disconnected", "sync_error"}
)


@dataclass(frozen=True, slots=True)
class OtaChannel:
    """One OTA connected behind a channel manager (e.g. Booking.com behind Channex).

    ``channel_code`` is the channel manager's id of that OTA link; ``error`` the last problem
    it reported, if any.
    """

    channel_code: str
    ota: str
    state: OtaState
    error: str | None = None


BookingActionKind = Literal["no_show", "invalid_card", "cancel_due_invalid_card"]


@dataclass(frozen=True, slots=True)
class BookingAction:
    """What the hotel reports back to the OTA about one of its bookings.

    ``no_show``: the guest did not come; ``waived_fees`` when the hotel charges nothing, else
    ``penalty_amount`` (in the booking's currency) where the OTA takes one.
    ``invalid_card``: the card does not work, so the OTA asks the guest for another;
    ``cancel_due_invalid_card``: the booking is cancelled because of it.
    """

    kind: BookingActionKind
    waived_fees: bool = False
    penalty_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class UnreadableMessage:
    """A pulled message that cannot be a booking revision (impossible values, missing parts).

    Kept for audit and shown to a person instead of failing the whole pull: the other
    messages of the page are stored and acknowledged as usual.
    """

    key: str
    """The same for every pull of the same message, so it is kept and reported once."""
    body: bytes
    """The message as the channel sent it."""
    reason: str


@dataclass(frozen=True, slots=True)
class ClosedDates:
    """Nights ``[start, end)`` a channel shows as not sellable on its listing, without a booking
    (an iCal feed's "Not available"): closed in innsync too, as one unit of the room type."""

    room_type_code: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class RevisionPage:
    """A page of pulled revisions and the cursor to pull the next one from."""

    revisions: tuple[BookingRevision, ...]
    next_cursor: str | None
    has_more: bool = False
    """More revisions wait behind this page: pull again now rather than at the next pass."""
    unreadable: tuple[UnreadableMessage, ...] = ()
    """Messages of the page innsync cannot read (see :class:`UnreadableMessage`)."""
    closed: tuple[ClosedDates, ...] | None = None
    """Every range the channel shows closed now, replacing what it showed before (applied with
    the page); ``None``: the channel says nothing about closed dates."""


@dataclass(frozen=True, slots=True)
class AccountRevisionPage:
    """A page of a feed that covers a whole channel account: each revision with the channel's
    id of the property it belongs to, so it can be kept under that property's connection."""

    revisions: tuple[tuple[str, BookingRevision], ...]
    next_cursor: str | None
    has_more: bool = False
    """More revisions wait behind this page: pull again now rather than at the next turn."""


# Provisioning: innsync's description of a hotel, and what a channel holds of it.

Pricing = Literal["per_room", "per_person"]
ProvisionAction = Literal["created", "matched", "updated"]
CatalogKind = Literal["account", "property", "room_type", "rate_plan", "cancellation_policy"]


@dataclass(frozen=True, slots=True)
class CatalogRoomType:
    """A room type as innsync describes it to a channel; ``key`` is innsync's id for it."""

    key: str
    title: str
    units: int
    max_adults: int
    max_children: int
    default_occupancy: int
    remote_id: str | None = None
    """The channel's id from the current mapping, matched before the title."""

    def __post_init__(self) -> None:
        _check_non_negative("units", self.units)
        _check_non_negative("max_adults", self.max_adults, minimum=1)
        _check_non_negative("max_children", self.max_children)
        _check_non_negative("default_occupancy", self.default_occupancy, minimum=1)


@dataclass(frozen=True, slots=True)
class CatalogRatePlan:
    """A rate plan as innsync describes it: its room type, pricing and priced occupancies."""

    key: str
    room_type_key: str
    title: str
    pricing: Pricing
    occupancies: tuple[int, ...] = ()
    """Per-person plans: the occupancies priced; empty for per-room plans."""
    remote_id: str | None = None
    meal_plan: str = "room_only"
    """innsync's meal plan: room_only, breakfast, half_board, full_board or all_inclusive."""
    cancellation_policy: str = ""
    """The policy's text as the hotel wrote it; a channel without such a field ignores it."""
    children_fee: Decimal | None = None
    """Per child, in the property's currency; ``None`` when the plan charges none."""
    infant_fee: Decimal | None = None

    def __post_init__(self) -> None:
        if self.pricing == "per_person" and not self.occupancies:
            raise ValueError("a per_person plan needs its occupancies")
        for occupancy in self.occupancies:
            _check_non_negative("occupancy", occupancy, minimum=1)


@dataclass(frozen=True, slots=True)
class PropertyContact:
    """A property's address, contact and content as innsync holds them (all optional)."""

    email: str | None = None
    phone: str | None = None
    zip_code: str | None = None
    country: str | None = None
    """ISO 3166 alpha-2."""
    state: str | None = None
    city: str | None = None
    address: str | None = None
    latitude: str | None = None
    """Decimal degrees as a string, never a float."""
    longitude: str | None = None
    website: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PropertyCatalog:
    """A hotel as a channel must hold it: the account it belongs to, room types and rate plans."""

    account_title: str
    """The channel-side grouping of one tenant's properties (a Channex group)."""
    account_marker: str
    """A stable part of ``account_title`` that survives renames, to find the group again."""
    title: str
    currency: str
    timezone: str
    room_types: tuple[CatalogRoomType, ...]
    rate_plans: tuple[CatalogRatePlan, ...]
    contact: PropertyContact = dataclasses.field(default_factory=lambda: PropertyContact())
    """Address, contact and content; a field the hotel left empty is ``None``."""

    def __post_init__(self) -> None:
        if self.account_marker not in self.account_title:
            raise ValueError("account_title must contain account_marker")
        keys = {room.key for room in self.room_types}
        if len(keys) != len(self.room_types):
            raise ValueError("room type keys must be unique")
        for plan in self.rate_plans:
            if plan.room_type_key not in keys:
                raise ValueError(f"rate plan {plan.key} names an unknown room type")


@dataclass(frozen=True, slots=True)
class ProvisionedItem:
    """What provisioning did with one thing: created it, found it as it was, or updated it."""

    kind: CatalogKind
    remote_id: str
    title: str
    action: ProvisionAction
    key: str | None = None
    """innsync's id of the room type or rate plan; ``None`` for the account and the property."""
    changed: tuple[str, ...] = ()
    """The channel's field names that were updated."""


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """The channel's ids for the property and for each room type and rate plan of the catalog."""

    remote_property_id: str
    items: tuple[ProvisionedItem, ...]
    config_updates: tuple[tuple[str, str], ...] = ()
    """Settings the connection must store from now on, e.g. the channel's property id."""

    def remote_ids(self, kind: CatalogKind) -> dict[str, str]:
        """innsync key to channel id, for room types or rate plans."""
        return {item.key: item.remote_id for item in self.items if item.kind == kind and item.key}


@dataclass(frozen=True, slots=True)
class RemoteRoomType:
    """A room type as the channel holds it."""

    remote_id: str
    title: str
    units: int
    max_adults: int
    max_children: int
    default_occupancy: int


@dataclass(frozen=True, slots=True)
class RemoteRatePlan:
    """A rate plan as the channel holds it, with the occupancies it is priced for."""

    remote_id: str
    room_type_remote_id: str
    title: str
    pricing: str
    occupancies: tuple[int, ...]
    primary_occupancy: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteCatalog:
    """Every room type and rate plan of one property on the channel."""

    remote_property_id: str
    room_types: tuple[RemoteRoomType, ...]
    rate_plans: tuple[RemoteRatePlan, ...]


@dataclass(frozen=True, slots=True)
class AriSnapshot:
    """The ARI a source channel holds for a window (marketplace side): what innsync stores as
    the property's own. ``catalog`` is set when the channel sends its room types and plans too.

    A rate update whose ``room_type_code`` is empty names its plan by the channel's rate plan
    code alone: for channels whose webhooks do not say which room a rate belongs to, and whose
    rate codes are unique in the property (Octorate's calendar webhook).
    """

    availability: tuple[AvailabilityUpdate, ...] = ()
    rates: tuple[RateUpdate, ...] = ()
    catalog: RemoteCatalog | None = None


BookingConfirmationState = Literal["pending", "confirmed", "rejected"]


@dataclass(frozen=True, slots=True)
class BookingConfirmation:
    """Whether the hotel accepted a booking innsync pushed to its system (marketplace side)."""

    state: BookingConfirmationState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BookingAnswer:
    """The hotel's answer to a booking innsync pushed, as its channel's webhook tells it
    (marketplace side): ``channel_booking_id`` is what ``push_reservation`` returned."""

    channel_booking_id: str
    confirmation: BookingConfirmation
