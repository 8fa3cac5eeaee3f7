"""Pure translations between Octorate's payloads and innsync's neutral values.

Octorate's calendar knows "products": a room type (its ``availability`` is the room's) and each
of its rate plans (price and restrictions). The catalog (``/rest/v3/roomrates``, §2.3) says which
product is which; the calendar read (one entry per day) and the calendar webhook (dates sharing
one set of values grouped, §2.5) are both turned into the same neutral ARI here, so a webhook
and the next pull that carry equal values produce equal updates and change nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from innsync.channels.errors import ChannelRejectedError
from innsync.channels.octorate.config import OctorateConfig
from innsync.channels.types import (
    AriSnapshot,
    AvailabilityUpdate,
    BookingConfirmation,
    BookingRevision,
    RateUpdate,
    RateValues,
    RemoteCatalog,
    RemoteRatePlan,
    RemoteRoomType,
)
from innsync.stay_dates import DateRange, ranges_from_dates

# §2.5: the calendar's values as the webhook (and the simulator's read) spell them, with the
# neutral field each becomes. ``cutOffDays`` (days before arrival the sale closes) is read as the
# minimum advance booking [UNCONFIRMED].
RATE_FIELDS = (
    ("price", "price"),
    ("minStay", "min_stay_arrival"),
    ("maxStay", "max_stay"),
    ("stopSells", "stop_sell"),
    ("closeToArrival", "closed_to_arrival"),
    ("closeToDeparture", "closed_to_departure"),
    ("cutOffDays", "min_advance"),
)
DayValues = tuple[tuple[str, Any], ...]


def catalog_of(accommodation_id: int, rooms: Iterable[Mapping[str, Any]]) -> RemoteCatalog:
    """``[{id, name, quantity, maxGuests, rates: [{id, name}]}]`` (§2.3 [3P]) as a catalog."""
    room_types, rate_plans = [], []
    for room in rooms:
        room_id = _int(room.get("id"), "room id")
        guests = max(_int(room.get("maxGuests", 2), "maxGuests"), 1)
        room_types.append(
            RemoteRoomType(
                remote_id=str(room_id),
                title=str(room.get("name") or room_id),
                units=max(_int(room.get("quantity", 0), "quantity"), 0),
                max_adults=guests,
                max_children=0,
                default_occupancy=guests,
            )
        )
        rates = room.get("rates") or []
        if not isinstance(rates, list):
            raise ChannelRejectedError("Octorate listed a room's rates in an unknown shape")
        for rate in rates:
            if not isinstance(rate, dict):
                raise ChannelRejectedError("Octorate listed a rate in an unknown shape")
            rate_id = _int(rate.get("id"), "rate id")
            rate_plans.append(
                RemoteRatePlan(
                    remote_id=str(rate_id),
                    room_type_remote_id=str(room_id),
                    title=str(rate.get("name") or rate_id),
                    pricing="per_room",
                    occupancies=(),
                )
            )
    return RemoteCatalog(str(accommodation_id), tuple(room_types), tuple(rate_plans))


def read_days(products: Iterable[Mapping[str, Any]]) -> dict[int, dict[date, Mapping[str, Any]]]:
    """The calendar read's ``data`` (one entry per day) as product -> stay date -> values."""
    found: dict[int, dict[date, Mapping[str, Any]]] = defaultdict(dict)
    for product in products:
        product_id = _int(product.get("id"), "product id")
        for day in _list(product.get("days"), "days"):
            found[product_id][_day(day.get("date"))] = day
    return found


def webhook_days(content: Mapping[str, Any]) -> dict[int, dict[date, Mapping[str, Any]]]:
    """The calendar webhook's ``content`` (dates sharing values grouped, §2.5) likewise."""
    found: dict[int, dict[date, Mapping[str, Any]]] = defaultdict(dict)
    for product in _list(content.get("data"), "data"):
        product_id = _int(product.get("id"), "product id")
        for group in _list(product.get("days"), "days"):
            dates = group.get("days")
            if not isinstance(dates, list) or not dates:
                raise ChannelRejectedError("a calendar webhook group holds no days")
            for text in dates:
                found[product_id][_day(text)] = group
    return found


def snapshot_of(
    catalog: RemoteCatalog, days: Mapping[int, Mapping[date, Mapping[str, Any]]]
) -> AriSnapshot:
    """The neutral ARI of the products' days (a pull, with its catalog): a room's
    availability, each rate's values. Products the catalog does not know are left out."""
    rooms = {int(room.remote_id) for room in catalog.room_types}
    rates = {int(plan.remote_id): plan.room_type_remote_id for plan in catalog.rate_plans}
    availability: list[AvailabilityUpdate] = []
    rate_updates: list[RateUpdate] = []
    for product_id, by_day in sorted(days.items()):
        if product_id in rooms:
            availability += _availability(str(product_id), by_day)
        elif product_id in rates:
            rate_updates += _rates(rates[product_id], str(product_id), by_day)
    return AriSnapshot(tuple(availability), tuple(rate_updates), catalog)


def webhook_snapshot(days: Mapping[int, Mapping[date, Mapping[str, Any]]]) -> AriSnapshot:
    """The neutral ARI of a calendar webhook, which does not say which product is a room and
    which a rate: each product's availability under its id as a room type code, and its values
    under its id as a rate plan code with no room (``AriSnapshot``: matched by the rate's code
    alone). innsync stores what its mappings know and leaves the rest out, as a pull does."""
    availability: list[AvailabilityUpdate] = []
    rate_updates: list[RateUpdate] = []
    for product_id, by_day in sorted(days.items()):
        availability += _availability(str(product_id), by_day)
        rate_updates += _rates("", str(product_id), by_day)
    return AriSnapshot(tuple(availability), tuple(rate_updates))


def _availability(
    room_code: str, by_day: Mapping[date, Mapping[str, Any]]
) -> list[AvailabilityUpdate]:
    """A room's units, equal consecutive days merged into one range."""
    units: dict[int, list[date]] = defaultdict(list)
    for day, values in by_day.items():
        if "availability" in values:
            units[max(_int(values["availability"], "availability"), 0)].append(day)
    found = [
        AvailabilityUpdate(room_code, span, count)
        for count, dates in units.items()
        for span in ranges_from_dates(dates)
    ]
    return sorted(found, key=lambda update: update.dates.start)


def _rates(
    room_code: str, rate_code: str, by_day: Mapping[date, Mapping[str, Any]]
) -> list[RateUpdate]:
    """A rate's values, equal consecutive days merged into one range."""
    grouped: dict[DayValues, list[date]] = defaultdict(list)
    for day, values in by_day.items():
        grouped[_rate_values(values)].append(day)
    found = [
        RateUpdate(room_code, rate_code, span, RateValues(**dict(given)))
        for given, dates in grouped.items()
        if given
        for span in ranges_from_dates(dates)
    ]
    return sorted(found, key=lambda update: update.dates.start)


def _rate_values(values: Mapping[str, Any]) -> DayValues:
    given: list[tuple[str, Any]] = []
    for vendor, neutral in RATE_FIELDS:
        value = values.get(vendor)
        if value is None:
            continue
        if vendor == "price":
            given.append((neutral, _money(value)))
        elif isinstance(value, bool):
            given.append((neutral, value))
        else:
            number = _int(value, vendor)
            # Octorate's 0 minimum stay means none; innsync's minimum is 1.
            given.append((neutral, max(number, 1) if neutral == "min_stay_arrival" else number))
    return tuple(given)


def reservation_body(
    revision: BookingRevision, config: OctorateConfig, product_id: int
) -> dict[str, Any]:
    """§2.3's create body (OTA side), with innsync's reservation id as the reference."""
    hours, minutes = (int(part) for part in config.stay_time.split(":"))
    at = time(hours, minutes, tzinfo=UTC)
    room = revision.rooms[0]
    first, _, last = (revision.guest.name or "").partition(" ")
    guest: dict[str, Any] = {"type": "BOOKER", "source": "USER"}
    if first:
        guest["givenName"] = first
    if last:
        guest["familyName"] = last
    for vendor, value in (
        ("email", revision.guest.email),
        ("phone", revision.guest.phone),
        ("language", revision.guest.language),
    ):
        if value:
            guest[vendor] = value
    body: dict[str, Any] = {
        config.reference_field: revision.channel_booking_id,
        "status": config.status_confirmed,
        "product": product_id,
        "checkin": zoned(datetime.combine(revision.arrival, at)),
        "checkout": zoned(datetime.combine(revision.departure, at)),
        "totalGuest": room.occupancy,
        "totalChildren": room.children,
        "guests": [guest],
    }
    if config.channel_id is not None:
        body["channelId"] = config.channel_id
    return body


def modification_body(
    revision: BookingRevision, config: OctorateConfig, product_id: int
) -> dict[str, Any]:
    """The fields a modification may change (§2.3 PUT): stay, product and guests."""
    created = reservation_body(revision, config, product_id)
    return {
        key: created[key]
        for key in ("product", "checkin", "checkout", "totalGuest", "totalChildren", "guests")
    }


def confirmation_of(reservation: Mapping[str, Any], config: OctorateConfig) -> BookingConfirmation:
    """The hotel's answer a reservation's status carries."""
    status = reservation.get("status")
    if status == config.status_confirmed:
        return BookingConfirmation("confirmed")
    if status == config.status_rejected:
        return BookingConfirmation("rejected", "the hotel refused it on Octorate")
    if status == config.status_cancelled:
        return BookingConfirmation("rejected", "the reservation is cancelled on Octorate")
    return BookingConfirmation("pending")


def zoned(moment: datetime) -> str:
    """§2.3: the Java-style zoned timestamp Octorate emits and accepts, ``…Z[UTC]``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ[UTC]")


def decoded_content(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """§2.5: the envelope's ``content`` is a JSON *string* (double-encoded)."""
    content = envelope.get("content")
    if isinstance(content, dict):
        return content
    if not isinstance(content, str):
        raise ChannelRejectedError("the Octorate webhook carries no content")
    try:
        decoded = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ChannelRejectedError("the Octorate webhook's content is not JSON") from exc
    if not isinstance(decoded, dict):
        raise ChannelRejectedError("the Octorate webhook's content is not an object")
    return decoded


def _list(value: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ChannelRejectedError(f"Octorate sent {what} in an unknown shape")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ChannelRejectedError(f"Octorate sent a {what} that is not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ChannelRejectedError(f"Octorate sent a {what} that is not a number") from None


def _money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ChannelRejectedError("Octorate sent a price that is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ChannelRejectedError("Octorate sent a negative or infinite price")
    return amount


def _day(value: Any) -> date:
    if not isinstance(value, str) or len(value) < 10:
        raise ChannelRejectedError("Octorate sent a day that is not a date")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ChannelRejectedError("Octorate sent a day that is not a date") from None


def window_params(window: DateRange) -> dict[str, str]:
    """§2.3: ``dateFrom``/``dateTo``, both inclusive."""
    return {"dateFrom": window.start.isoformat(), "dateTo": window.last.isoformat()}
