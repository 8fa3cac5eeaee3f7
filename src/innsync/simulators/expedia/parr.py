"""PARR: ``ProductAvailRateRetrievalRQ``, products and the ARI AR left, read back.

Follows EQC's PARR sample messages and FAQ ("Controlling the size of PARR responses"): a
``ProductRetrieval`` lists the hotel's room types and rate plans; an ``AvailRateRetrieval``
answers one ``AvailRate`` per date with the room types and rate plans asked for (all when
none is named), filtered by its ``inventory``, ``roomAvailStatus``, ``rateAvailStatus``,
``rates`` and ``restrictions`` flags. Documented limits: a request naming exactly one rate plan
answers at most 365 days, any other at most 31, from its start date; later dates are left out
without an error. The simulator answers only what AR set (a real hotel has every date).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from innsync.simulators.expedia.api import (
    SCHEMA_ERROR,
    START_AFTER_END,
    UNKNOWN_RATE,
    UNKNOWN_ROOM,
    _bool,
    _date,
    _hotel,
    _read,
    _xml,
    state_of,
)
from innsync.simulators.expedia.config import HotelSetup
from innsync.simulators.expedia.documents import PAR_NAMESPACES, EqcError, error_answer
from innsync.simulators.expedia.state import SimulatorState
from innsync.xmlkit.parsing import Builder, Element, attribute, child, children, to_bytes

router = APIRouter()

DAYS_FOR_ONE_RATE_PLAN = 365  # PARR samples: "never returns more than 365 days per response"
DAYS_FOR_MANY_PRODUCTS = 31  # PARR samples: "a request for multiple products ... 31 days"
FILTERS = ("inventory", "roomAvailStatus", "rateAvailStatus", "rates", "restrictions")
RESTRICTIONS = ("minLOS", "maxLOS", "closedToArrival", "closedToDeparture")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _products(hotel: HotelSetup, retrieval: Element) -> dict[str, tuple[str, ...]]:
    """Room type id -> rate plan ids the request asks for; unknown ids are refused."""
    named = list(children(retrieval, "RoomType"))
    if not named:
        return {room.room_id: room.rate_ids for room in hotel.rooms}
    asked: dict[str, tuple[str, ...]] = {}
    for element in named:
        room_id = attribute(element, "id") or ""
        setup = hotel.room(room_id)
        if setup is None:
            raise EqcError(UNKNOWN_ROOM, f"RoomType ID {room_id} is not valid")
        rate_ids = tuple(attribute(plan, "id") or "" for plan in children(element, "RatePlan"))
        for rate_id in rate_ids:
            if rate_id not in setup.rate_ids:
                raise EqcError(
                    UNKNOWN_RATE, f"RatePlan ID {rate_id} does not belong to room {room_id}"
                )
        asked[room_id] = rate_ids or setup.rate_ids
    return asked


def _product_list(builder: Builder, answer: Element, hotel: HotelSetup) -> None:
    products = builder.sub(answer, "ProductList")
    builder.sub(products, "Hotel", {"id": hotel.hotel_id, "name": f"Test Hotel {hotel.hotel_id}"})
    for room in hotel.rooms:
        element = builder.sub(
            products, "RoomType", {"id": room.room_id, "code": room.room_id, "status": "Active"}
        )
        for rate_id in room.rate_ids:
            builder.sub(
                element,
                "RatePlan",
                {"id": rate_id, "code": rate_id, "status": "Active", "type": "Standalone"},
            )


def _avail_rate_list(
    state: SimulatorState, builder: Builder, answer: Element, hotel: HotelSetup, asked: Element
) -> None:
    first = _date(attribute(asked, "from"), "AvailRateRetrieval@from")
    last = _date(attribute(asked, "to"), "AvailRateRetrieval@to")
    if first > last:
        # [UNCONFIRMED] PARR's code for it: AR's.
        raise EqcError(START_AFTER_END, "AvailRateRetrieval from date is after to date")
    flags = {
        name: _bool(attribute(asked, name), f"@{name}") if attribute(asked, name) else True
        for name in FILTERS
    }
    products = _products(hotel, asked)
    one_plan = sum(len(rates) for rates in products.values()) == 1
    span = DAYS_FOR_ONE_RATE_PLAN if one_plan else DAYS_FOR_MANY_PRODUCTS
    last = min(last, first + timedelta(days=span - 1))
    listing = builder.sub(answer, "AvailRateList")
    builder.sub(listing, "Hotel", {"id": hotel.hotel_id})
    day = first
    while day <= last:
        _avail_rate(state, builder, listing, hotel, products, day, flags)
        day += timedelta(days=1)
    state.counters["parr_days"] += (last - first).days + 1


def _avail_rate(
    state: SimulatorState,
    builder: Builder,
    listing: Element,
    hotel: HotelSetup,
    products: dict[str, tuple[str, ...]],
    day: date,
    flags: dict[str, bool],
) -> None:
    rooms = []
    for room_id, rate_ids in products.items():
        held_room = state.room_days.get((hotel.hotel_id, room_id, day), {})
        plans = [
            (rate_id, held)
            for rate_id in rate_ids
            if (held := state.rate_days.get((hotel.hotel_id, room_id, rate_id, day)))
        ]
        if held_room or plans:
            rooms.append((room_id, held_room, plans))
    if not rooms:
        return
    element = builder.sub(listing, "AvailRate", {"date": day.isoformat()})
    for room_id, held_room, plans in rooms:
        closed = held_room.get("closed") if flags["roomAvailStatus"] else None
        room = builder.sub(
            element,
            "RoomType",
            {"id": room_id, "closed": None if closed is None else _text(closed)},
        )
        if flags["inventory"] and "inventory" in held_room:
            total = held_room["inventory"]
            builder.sub(
                room,
                "Inventory",
                {"flexibleAllocation": total, "totalInventoryAvailable": total},
            )
        for rate_id, held in plans:
            _rate_plan(builder, room, rate_id, held, hotel.currency, flags)


def _rate_plan(
    builder: Builder,
    room: Element,
    rate_id: str,
    held: dict[str, Any],
    currency: str,
    flags: dict[str, bool],
) -> None:
    closed = held.get("closed") if flags["rateAvailStatus"] else None
    plan = builder.sub(
        room, "RatePlan", {"id": rate_id, "closed": None if closed is None else _text(closed)}
    )
    prices = sorted(name for name in held if name.startswith("rate"))
    if flags["rates"] and prices:
        rate = builder.sub(plan, "Rate", {"currency": currency})
        for name in prices:
            if name == "rate":
                builder.sub(rate, "PerDay", {"rate": held[name]})
            else:
                builder.sub(rate, "PerOccupancy", {"rate": held[name], "occupancy": name[4:]})
    shown = {name: _text(held[name]) for name in RESTRICTIONS if name in held}
    if flags["restrictions"] and shown:
        builder.sub(plan, "Restrictions", shown)


@router.post("/connect/parr")
@router.post("/eqc/parr")
async def product_avail_rate_retrieval(request: Request) -> Response:
    """PARR: the hotel's products, or the ARI held per date (within the documented spans)."""
    state = state_of(request)
    state.counters["parr_requests"] += 1
    try:
        root = await _read(state, request, "ProductAvailRateRetrievalRQ", PAR_NAMESPACES)
        hotel = _hotel(state, root)
        assert hotel is not None  # required=True
        params = child(root, "ParamSet")
        products = child(params, "ProductRetrieval") if params is not None else None
        avail_rates = child(params, "AvailRateRetrieval") if params is not None else None
        if (products is None) == (avail_rates is None):
            raise EqcError(SCHEMA_ERROR, "ParamSet needs ProductRetrieval or AvailRateRetrieval")
        builder = Builder(PAR_NAMESPACES[0])
        answer = builder.root("ProductAvailRateRetrievalRS")
        if products is not None:
            _product_list(builder, answer, hotel)
        else:
            assert avail_rates is not None
            _avail_rate_list(state, builder, answer, hotel, avail_rates)
    except EqcError as error:
        state.counters["errors"] += 1
        return _xml(error_answer("ProductAvailRateRetrievalRS", PAR_NAMESPACES[0], error))
    return _xml(to_bytes(answer))
