"""§2.3 reservations pushed by the OTA: create (idempotent by reference), read, list, modify,
cancel. A push waits for the hotel (``hotel.py``); every change is a RESERVATION_* webhook."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from innsync.simulators.octorate.calendar import dispatcher_of
from innsync.simulators.octorate.errors import OctorateError
from innsync.simulators.octorate.gateway import use_accommodation
from innsync.simulators.octorate.hotel import await_decision, release_units
from innsync.simulators.octorate.listing import page_of, query_date
from innsync.simulators.octorate.oauth import state_of
from innsync.simulators.octorate.state import Reservation, SimulatorState
from innsync.simulators.octorate.wire import parse_stay_day, zoned

router = APIRouter()
PATH = "/connect/rest/v1/reservation/{accommodation_id}"
# §2.3 [3P]: the stay's check-in and check-out are sent as timestamps at 02:00 UTC.
_STAY_TIME = time(2, 0, tzinfo=UTC)
_GUEST_FIELDS = ("type", "givenName", "familyName", "email", "phone", "language", "source")
_LIST_TYPES = ("STAY", "CHECKIN", "CREATION")


def _stay(state: SimulatorState, accommodation_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """The stay fields of a create or modify body, checked against the accommodation."""
    product_id = fields.get("product")
    if isinstance(product_id, bool) or not isinstance(product_id, int):
        raise OctorateError(400, "ApiParamsExemption", "product must be an integer")
    product = state.products.get(product_id)
    if product is None or product.accommodation.id != accommodation_id:
        raise OctorateError(
            400, "ApiValidationFailed", f"product {product_id} is not in {accommodation_id}"
        )
    checkin = parse_stay_day(fields.get("checkin"), "checkin")
    checkout = parse_stay_day(fields.get("checkout"), "checkout")
    if checkout <= checkin:
        raise OctorateError(400, "ApiParamsExemption", "checkout must be after checkin")
    guests_total = fields.get("totalGuest")
    if isinstance(guests_total, bool) or not isinstance(guests_total, int):
        raise OctorateError(400, "ApiParamsExemption", "totalGuest must be an integer")
    if not 1 <= guests_total <= product.room.max_guests:
        raise OctorateError(
            400, "ApiValidationFailed", f"totalGuest must be 1-{product.room.max_guests}"
        )
    young = {name: fields.get(name) or 0 for name in ("totalChildren", "totalInfants")}
    for name, value in young.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 20:
            raise OctorateError(400, "ApiParamsExemption", f"{name} must be an integer 0-20")
    guests = fields.get("guests", [])
    if not isinstance(guests, list) or not all(isinstance(g, dict) for g in guests):
        raise OctorateError(400, "ApiParamsExemption", "guests must be an array of objects")
    kept_guests = [{k: g[k] for k in _GUEST_FIELDS if k in g} for g in guests]
    booker = next((g for g in kept_guests if g.get("type") == "BOOKER"), {})
    nights = []
    day = checkin
    while day < checkout:
        nights.append((day, Decimal(str(state.day_values(product, day)["price"]))))
        day += timedelta(days=1)
    gross = sum((price for _, price in nights), Decimal(0))
    return {
        "product": product.id,
        "roomName": product.name,
        "checkin": zoned(datetime.combine(checkin, _STAY_TIME)),
        "checkout": zoned(datetime.combine(checkout, _STAY_TIME)),
        "totalGuest": guests_total,
        "totalChildren": young["totalChildren"],
        "totalInfants": young["totalInfants"],
        "guests": kept_guests,
        "firstName": booker.get("givenName"),
        "lastName": booker.get("familyName"),
        "currency": product.accommodation.currency,
        "roomGross": float(gross),
        "totalGross": float(gross),
        "priceBreakdown": [
            {"day": night.isoformat(), "price": float(price), "type": "DAILY_ROOM_PRICE"}
            for night, price in nights
        ],
    }


def _held(state: SimulatorState, accommodation_id: int, reservation_id: int) -> Reservation:
    reservation = state.reservations.get(reservation_id)
    if reservation is None or int(reservation["accommodation"]["id"]) != accommodation_id:
        raise OctorateError(404, "ApiResourceMissing", f"reservation {reservation_id} not found")
    return reservation


@router.post(PATH)
async def create(
    request: Request, accommodation_id: int, body: Annotated[Any, Body()]
) -> Reservation:
    """Push a reservation; the same reference twice answers the first one, never a second."""
    use_accommodation(request, accommodation_id)
    state = state_of(request)
    if not isinstance(body, dict):
        raise OctorateError(400, "ApiParamsExemption", "the body is a reservation object")
    field = state.config.reservation_reference_field
    reference = body.get(field)
    if not isinstance(reference, str) or not 1 <= len(reference) <= 64:
        raise OctorateError(400, "ApiParamsExemption", f"{field} is required (1-64 characters)")
    existing = state.by_reference.get((accommodation_id, reference))
    if existing is not None:
        state.counters["idempotent_replays"] += 1
        return dict(state.reservations[existing])
    stay = _stay(state, accommodation_id, body)
    channel_id = body.get("channelId")
    reservation: Reservation = {
        "id": state.next_reservation_id(),
        field: reference,
        "channelId": channel_id if isinstance(channel_id, int) else None,
        "accommodation": {"id": str(accommodation_id)},
        **stay,
        "createTime": zoned(state.now()),
        "updateTime": zoned(state.now()),
    }
    await_decision(state, reservation)
    state.reservations[int(reservation["id"])] = reservation
    state.by_reference[(accommodation_id, reference)] = int(reservation["id"])
    dispatcher_of(request).reservation_event("RESERVATION_CREATED", reservation)
    return dict(reservation)


@router.get(PATH)
async def list_reservations(
    request: Request,
    accommodation_id: int,
    kind: Annotated[str, Query(alias="type")] = "STAY",
    start_date: Annotated[str | None, Query(alias="startDate")] = None,
    end_date: Annotated[str | None, Query(alias="endDate")] = None,
    size: Annotated[str | None, Query()] = None,
    page: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """§2.3: by stay overlap (STAY), check-in day (CHECKIN) or creation day (CREATION)."""
    use_accommodation(request, accommodation_id)
    state = state_of(request)
    if kind not in _LIST_TYPES:
        raise OctorateError(400, "ApiParamsExemption", f"type must be one of {_LIST_TYPES}")
    first, last = query_date(start_date, "startDate"), query_date(end_date, "endDate")
    found = []
    for reservation in sorted(state.reservations.values(), key=lambda r: int(r["id"])):
        if int(reservation["accommodation"]["id"]) != accommodation_id:
            continue
        checkin = parse_stay_day(reservation["checkin"], "checkin")
        checkout = parse_stay_day(reservation["checkout"], "checkout")
        created = parse_stay_day(reservation["createTime"], "createTime")
        matched = {
            "STAY": checkin <= last and checkout > first,
            "CHECKIN": first <= checkin <= last,
            "CREATION": first <= created <= last,
        }[kind]
        if matched:
            found.append(dict(reservation))
    shown, block = page_of(state, found, size, page)
    return {"data": shown, "page": block}


@router.get(PATH + "/{reservation_id}")
async def read(request: Request, accommodation_id: int, reservation_id: int) -> Reservation:
    use_accommodation(request, accommodation_id)
    return dict(_held(state_of(request), accommodation_id, reservation_id))


def _cancel(request: Request, reservation: Reservation) -> Reservation:
    state = state_of(request)
    if reservation["status"] != state.config.cancelled_status:
        reservation["status"] = state.config.cancelled_status
        reservation["updateTime"] = zoned(state.now())
        state.decisions.pop(int(reservation["id"]), None)
        release_units(state, dispatcher_of(request), reservation)
        dispatcher_of(request).reservation_event("RESERVATION_CANCELLED", reservation)
    return dict(reservation)


@router.put(PATH + "/{reservation_id}")
async def modify(
    request: Request, accommodation_id: int, reservation_id: int, body: Annotated[Any, Body()]
) -> Reservation:
    """``{"status": "CANCELLED"}`` cancels [UNCONFIRMED]; other fields change the stay, which
    goes back before the hotel."""
    use_accommodation(request, accommodation_id)
    state = state_of(request)
    reservation = _held(state, accommodation_id, reservation_id)
    if not isinstance(body, dict) or not body:
        raise OctorateError(400, "ApiParamsExemption", "the body is a non-empty object")
    if body.get("status") == state.config.cancelled_status:
        return _cancel(request, reservation)
    if reservation["status"] in (state.config.cancelled_status, state.config.rejected_status):
        raise OctorateError(
            400, "ApiValidationFailed", f"a {reservation['status']} reservation cannot change"
        )
    current = {
        "product": reservation["product"],
        "checkin": reservation["checkin"],
        "checkout": reservation["checkout"],
        "totalGuest": reservation["totalGuest"],
        "totalChildren": reservation["totalChildren"],
        "totalInfants": reservation["totalInfants"],
        "guests": reservation["guests"],
    }
    unknown = sorted(set(body) - set(current) - {"status"})
    if unknown:
        raise OctorateError(400, "ApiParamsExemption", f"cannot change {', '.join(unknown)}")
    reservation.update(_stay(state, accommodation_id, {**current, **body}))
    reservation["updateTime"] = zoned(state.now())
    release_units(state, dispatcher_of(request), reservation)
    await_decision(state, reservation)
    dispatcher_of(request).reservation_event("RESERVATION_CHANGE", reservation)
    return dict(reservation)


@router.delete(PATH + "/{reservation_id}")
async def cancel(request: Request, accommodation_id: int, reservation_id: int) -> Reservation:
    """Cancel; cancelling again answers the cancelled reservation."""
    use_accommodation(request, accommodation_id)
    return _cancel(request, _held(state_of(request), accommodation_id, reservation_id))
