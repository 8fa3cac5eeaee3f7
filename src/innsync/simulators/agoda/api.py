"""The simulated YCS endpoint: ``POST /api?apiKey=KEY`` with ``<request type>`` (§3.3).

type 1/10 SetARI (allotment, restrictions, occupancy prices; ranges with weekday flags; dates
from Agoda's today up to the 730-day horizon), 3 GetBookingList (≤ 90 days, ≤ 740 back, ≤ 5
properties) and 4 GetBookingDetail (1 property, ≤ 50 bookings, kept 90 days). A whole-request
problem is an ``<errors>`` answer; an update Agoda cannot apply is a ``<warning>`` naming its
room and rate plan, the other updates applied [INFERRED].
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import Response

from innsync.simulators.agoda.config import PropertySetup
from innsync.simulators.agoda.documents import (
    XML,
    YCS,
    RequestError,
    booking_element,
    result,
    xml_response,
)
from innsync.simulators.agoda.state import RateDay, SimulatorState
from innsync.xmlkit.parsing import (
    Element,
    XmlRefusedError,
    attribute,
    child,
    children,
    local_name,
    parse_xml,
    path,
    text_of,
)

router = APIRouter()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


@router.post("/api")
async def api(request: Request) -> Response:
    state = _state(request)
    key = request.query_params.get("apiKey", "")
    if not hmac.compare_digest(key.encode(), state.config.api_key.encode()):
        # [INFERRED] a wrong key is refused with 401 and YCS error 1001.
        return xml_response(result(state, errors=[("1001", "Invalid API key")]), 401)
    if state.is_over_limit():
        return Response("Too Many Requests", status_code=429, media_type="text/plain")
    try:
        root = parse_xml(await request.body(), max_bytes=state.config.max_body_bytes)
    except XmlRefusedError as exc:
        return xml_response(result(state, errors=[("2001", f"Malformed XML: {exc}")]), 400)
    try:
        if local_name(root) != "request":
            raise RequestError("2001", "the root element must be <request>")
        kind = attribute(root, "type") or ""
        if not kind.isdigit():
            raise RequestError("2002", "the type attribute is mandatory on the single endpoint")
        if int(kind) in state.config.set_ari_types:
            return xml_response(set_ari(state, root))
        if kind == "2":
            return xml_response(get_ari(state, root))
        if kind == "3":
            return xml_response(booking_list(state, root))
        if kind == "4":
            return xml_response(booking_detail(state, root))
        raise RequestError("2002", f"type {kind} is not served by the simulator")
    except RequestError as exc:
        return xml_response(result(state, errors=[(exc.code, exc.description)]))


def _property(state: SimulatorState, property_id: str | None) -> PropertySetup:
    found = state.config.property(property_id)
    if found is None:
        # [INFERRED] a property the key cannot reach is error 1002.
        raise RequestError("1002", f"no access to property {property_id}")
    return found


def _dates(element: Element | None, state: SimulatorState) -> Iterator[date]:
    """The stay dates of a ``<date_range>`` with its weekday flags, checked against §3.3."""
    if element is None:
        raise ValueError("a date_range is required")
    start = date.fromisoformat(str(attribute(element, "from")))
    end = date.fromisoformat(str(attribute(element, "to")))
    if end < start:
        raise ValueError("to is before from")
    today = state.today()
    if start < today:
        raise ValueError(f"{start} is in the past (Agoda's today is {today})")
    if (end - today).days >= state.config.horizon_days:
        raise ValueError(f"{end} is past the {state.config.horizon_days}-day horizon")
    flags = {name: BOOLEANS.get(attribute(element, name) or "true") for name in WEEKDAYS}
    if any(value is None for value in flags.values()):
        raise ValueError("a weekday flag is not true or false")
    day = start
    while day <= end:
        if flags[WEEKDAYS[day.weekday()]]:
            yield day
        day += timedelta(days=1)


def _count(text: str | None, what: str, minimum: int = 0) -> int:
    if text is None or not text.strip().isdigit() or int(text) < minimum:
        raise ValueError(f"{what} must be an integer of at least {minimum}")
    return int(text)


def _price(text: str | None) -> str:
    try:
        amount = Decimal(text or "")
    except InvalidOperation:
        raise ValueError("a price is not a number") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("a price must be positive with at most 2 decimals")
    return str(amount.quantize(Decimal("0.01")))


def _restrictions(element: Element) -> dict[str, object]:
    found: dict[str, object] = {}
    for name in ("closed", "cta", "ctd"):
        text = attribute(element, name)
        if text is not None:
            if text not in BOOLEANS:
                raise ValueError(f"restrictions {name} must be true or false")
            found[name] = BOOLEANS[text]
    for name in ("min_los", "max_los"):
        text = attribute(element, name)
        if text is not None:
            found[name] = _count(text, name)
    return found


def set_ari(state: SimulatorState, root: Element) -> Element:
    """Apply each update whole or not at all; warnings name the ones refused."""
    state.counters.set_ari_calls += 1
    criteria = child(root, "criteria")
    if criteria is None:
        raise RequestError("2003", "criteria is required")
    setup = _property(state, attribute(criteria, "property_id"))
    pid = setup.property_id
    warnings: list[tuple[str, str, str, str | None]] = []
    updates = 0
    for update in path(criteria, "inventory", "update"):
        updates += 1
        room_id = attribute(update, "room_id") or ""
        try:
            if setup.room(room_id) is None:
                raise ValueError(f"room {room_id} is not a room of property {pid}")
            allotment = _count(text_of(child(update, "allotment")), "allotment")
            days = list(_dates(child(update, "date_range"), state))
            room_restrictions = (
                _restrictions(child(update, "restrictions"))
                if child(update, "restrictions") is not None
                else {}
            )
        except (ValueError, TypeError) as exc:
            warnings.append(("3001", str(exc), room_id, None))
            continue
        plans = room.rateplan_ids if (room := setup.room(room_id)) is not None else ()
        for day in days:
            state.availability[(pid, room_id, day)] = allotment
            if room_restrictions:
                for rateplan_id in plans:
                    held = state.restrictions.setdefault((pid, room_id, rateplan_id, day), {})
                    held.update(room_restrictions)
    for update in path(criteria, "rate", "update"):
        updates += 1
        room_id = attribute(update, "room_id") or ""
        rateplan_id = attribute(update, "rateplan_id") or ""
        try:
            room = setup.room(room_id)
            if room is None or rateplan_id not in room.rateplan_ids:
                raise ValueError(f"rate plan {rateplan_id} of room {room_id} is not sold")
            days = list(_dates(first_range(update), state))
            amounts: dict[str, str] = {}
            prices = child(update, "prices")
            if prices is not None:
                if attribute(prices, "currency") != setup.currency:
                    raise ValueError(f"prices must be in {setup.currency}")
                for price in children(prices, "price"):
                    amounts["room"] = _price(text_of(price))
                for occupancy in children(prices, "occupancy"):
                    persons = _count(text_of(child(occupancy, "person")), "person", 1)
                    amounts[str(persons)] = _price(text_of(child(occupancy, "price")))
            restriction = child(update, "restrictions")
            found = _restrictions(restriction) if restriction is not None else {}
            if not amounts and not found:
                raise ValueError("the update sets nothing")
        except (ValueError, TypeError) as exc:
            warnings.append(("3002", str(exc), room_id, rateplan_id))
            continue
        for day in days:
            key: RateDay = (pid, room_id, rateplan_id, day)
            if amounts:
                # A price list replaces the day's prices [INFERRED]: occupancies left out go.
                state.prices[key] = dict(amounts)
            if found:
                state.restrictions.setdefault(key, {}).update(found)
    if not updates:
        raise RequestError("2004", "the request holds no update")
    return result(state, warnings=warnings)


def get_ari(state: SimulatorState, root: Element) -> Element:
    """GetAri: what is held for the named rooms, ``from``..``to`` (≤ 31 days, §3.3).

    The request and answer shapes beyond the 31-day limit are [INFERRED].
    """
    criteria = child(root, "criteria")
    if criteria is None:
        raise RequestError("2003", "criteria is required")
    setup = _property(state, attribute(criteria, "property_id"))
    try:
        start = date.fromisoformat(str(attribute(criteria, "from")))
        end = date.fromisoformat(str(attribute(criteria, "to")))
    except ValueError:
        raise RequestError("2005", "from and to are dates") from None
    if end < start or (end - start).days >= state.config.ari_read_max_days:
        raise RequestError("2006", f"GetAri spans 1 to {state.config.ari_read_max_days} days")
    rooms = [attribute(room, "id") or "" for room in children(criteria, "room")]
    answer = result(state, success=False)
    inventory = YCS.sub(answer, "inventory")
    rates = YCS.sub(answer, "rates")
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    pid = setup.property_id
    for room_id in rooms:
        room = setup.room(room_id)
        if room is None:
            continue
        held = YCS.sub(inventory, "room", {"id": room_id})
        for day in days:
            units = state.availability.get((pid, room_id, day))
            if units is not None:
                YCS.sub(held, "date", {"date": day.isoformat(), "allotment": units})
        for rateplan_id in room.rateplan_ids:
            plan = YCS.sub(rates, "rateplan", {"room_id": room_id, "rateplan_id": rateplan_id})
            for day in days:
                key: RateDay = (pid, room_id, rateplan_id, day)
                amounts = state.prices.get(key, {})
                found = state.restrictions.get(key, {})
                if not amounts and not found:
                    continue
                attributes: dict[str, object | None] = {
                    "date": day.isoformat(),
                    "price": amounts.get("room"),
                }
                attributes.update(found)
                held_day = YCS.sub(plan, "date", attributes)
                for persons, price in amounts.items():
                    if persons != "room":
                        YCS.sub(held_day, "occupancy", {"person": persons, "price": price})
    return answer


def first_range(update: Element) -> Element | None:
    return next(iter(path(update, "date_values", "date_range")), None)


def _moment(text: str | None, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        raise RequestError("2005", f"{what} is not a date-time") from None
    if moment.utcoffset() is None:
        raise RequestError("2005", f"{what} needs its UTC offset (§3.3)")
    return moment


def booking_list(state: SimulatorState, root: Element) -> Element:
    """Bookings whose last action falls in [from, to], per property."""
    state.counters.list_calls += 1
    criteria = child(root, "criteria")
    if criteria is None:
        raise RequestError("2003", "criteria is required")
    start = _moment(attribute(criteria, "from"), "from")
    end = _moment(attribute(criteria, "to"), "to")
    config = state.config
    if end < start:
        raise RequestError("2006", "to is before from")
    if end - start > timedelta(days=config.list_max_days):
        raise RequestError("2006", f"the range is longer than {config.list_max_days} days")
    if start < state.now() - timedelta(days=config.list_lookback_days):
        raise RequestError("2006", f"from is more than {config.list_lookback_days} days back")
    status = attribute(criteria, "status")
    if status is None and config.list_requires_status:
        raise RequestError("2007", "status is required")
    if status not in (None, "ConfirmBooking", "AmendBooking", "CancelBooking"):
        raise RequestError("2007", f"unknown status {status}")
    ids = [attribute(holder, "id") for holder in children(criteria, "property")]
    if not 0 < len(ids) <= config.list_max_properties:
        raise RequestError("2008", f"name 1 to {config.list_max_properties} properties")
    answer = result(state, success=False)
    holder = YCS.sub(answer, "properties", {"count": len(ids)})
    for property_id in ids:
        setup = _property(state, property_id)
        listed = YCS.sub(holder, "property", {"id": setup.property_id})
        bookings = YCS.sub(listed, "bookings")
        for booking in state.bookings.values():
            if booking.property_id != setup.property_id or not start <= booking.last_action <= end:
                continue
            if status is not None and booking.status != status:
                continue
            acknowledged = all(
                action.retrieved_at is not None
                for action in state.actions
                if action.booking_id == booking.booking_id
            )
            YCS.sub(
                bookings,
                "booking",
                {
                    "booking_id": booking.booking_id,
                    "booking_date": booking.booked_at.astimezone(state.zone).isoformat(),
                    "last_action": booking.last_action.astimezone(state.zone).isoformat(),
                    "arrival": booking.arrival.isoformat(),
                    "departure": booking.departure.isoformat(),
                    "status": booking.status,
                    "acknowledge": int(acknowledged),
                },
            )
    return answer


def booking_detail(state: SimulatorState, root: Element) -> Element:
    """Full bookings of one property, at most ``detail_max_ids``; retrieving acknowledges."""
    state.counters.detail_calls += 1
    holders = list(path(root, "criteria", "property"))
    if len(holders) != 1:
        raise RequestError("2008", "GetBookingDetail names exactly one property")
    setup = _property(state, attribute(holders[0], "id"))
    ids = [attribute(booking, "id") or "" for booking in children(holders[0], "booking")]
    if not 0 < len(ids) <= state.config.detail_max_ids:
        raise RequestError("2009", f"name 1 to {state.config.detail_max_ids} bookings")
    kept_since = state.now() - timedelta(days=state.config.retention_days)
    found = [
        state.bookings[booking_id]
        for booking_id in dict.fromkeys(ids)
        if booking_id in state.bookings
        and state.bookings[booking_id].property_id == setup.property_id
        and state.bookings[booking_id].last_action >= kept_since
    ]
    answer = result(state, success=False)
    holder = YCS.sub(answer, "bookings", {"count": len(found), "iataid": "96637800"})
    for booking in found:
        holder.append(booking_element(state, booking))
        state.retrieved(booking.booking_id)
    return answer


__all__ = ["XML", "router"]
