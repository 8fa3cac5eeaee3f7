"""The simulated Booking.com endpoints: token exchange, OTA ARI notifications, reservations.

§3.1 of the notes is the behaviour: a JWT per machine account (one hour, 30 an hour), ARI
documents validated against the OpenTravel schema and Booking.com's rules (one hotel per
request, no date more than a day in the past), and two pull-only queues of reservations that
stay until acknowledged and fall back to e-mail after 30 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from innsync.simulators.booking_com.documents import (
    AUTHENTICATION,
    PROTOCOL,
    Remark,
    answer,
    queue_document,
)
from innsync.simulators.booking_com.state import Queue, QueueEntry, Restrictions, SimulatorState
from innsync.xmlkit.parsing import (
    Element,
    XmlRefusedError,
    attribute,
    child,
    children,
    local_name,
    parse_xml,
    path,
)
from innsync.xmlkit.validation import opentravel_2015a

router = APIRouter()
XML = "text/xml; charset=utf-8"
_QUEUES: dict[str, tuple[Queue, str, str, str, str]] = {
    # path name: queue, the RQ it answers a pull with, the RS an ack carries, its holder, item.
    "OTA_HotelResNotif": (
        "new",
        "OTA_HotelResNotifRQ",
        "OTA_HotelResNotifRS",
        "HotelReservations",
        "HotelReservation",
    ),
    "OTA_HotelResModifyNotif": (
        "modify",
        "OTA_HotelResModifyNotifRQ",
        "OTA_HotelResModifyNotifRS",
        "HotelResModifies",
        "HotelResModify",
    ),
}


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=XML)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@router.post("/token-based-authentication/exchange")
async def exchange_token(request: Request) -> JSONResponse:
    """§3.1 Auth: client id and secret in, a JWT valid one hour out; 30 an hour at most."""
    state = _state(request)
    config = state.config
    try:
        fields = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    if not isinstance(fields, dict):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    given = (fields.get("client_id"), fields.get("client_secret"))
    if given != (config.client_id, config.client_secret):
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    now = state.now()
    while state.token_times and state.token_times[0] <= now - timedelta(hours=1):
        state.token_times.popleft()
    if len(state.token_times) >= config.tokens_per_hour:
        state.counters.tokens_refused += 1
        return JSONResponse({"error": "too_many_tokens"}, status_code=429)
    state.token_times.append(now)
    expires = now + timedelta(seconds=config.token_lifetime_seconds)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "sub": "connectivity-auth-proxy",
        "iss": "urn://connectivity-modern-auth/v1",
        "aud": config.client_id,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": state.random_token(),
    }
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(
        config.client_secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256
    ).digest()
    token = f"{header}.{payload}.{_b64(signature)}"
    state.tokens[token] = expires
    state.counters.tokens_issued += 1
    return JSONResponse({"jwt": token, "expires_in": int(config.token_lifetime_seconds)})


def _refused_token(request: Request, rs_name: str) -> Response | None:
    """§3.1: a missing, unknown or expired bearer token is refused with 401."""
    state = _state(request)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    expires = state.tokens.get(token)
    if expires is None or expires <= state.now():
        error = Remark("UNAUTHORIZED", "Authorization failed", AUTHENTICATION)
        return _xml(answer(rs_name, state.now(), errors=[error]), 401)
    return None


def _read(state: SimulatorState, body: bytes, rq_name: str, rs_name: str) -> Element | Response:
    """The validated request document, or the 400 that refuses it."""
    now = state.now()
    try:
        root = parse_xml(body, max_bytes=state.config.max_body_bytes)
    except XmlRefusedError as exc:
        return _xml(answer(rs_name, now, errors=[Remark("INVALID_XML", str(exc), PROTOCOL)]), 400)
    if local_name(root) != rq_name:
        text = f"expected {rq_name}, got {local_name(root)}"
        return _xml(answer(rs_name, now, errors=[Remark("INVALID_XML", text, PROTOCOL)]), 400)
    if state.config.validates_schema:
        problems = opentravel_2015a().errors(root)
        if problems:
            state.counters.schema_failures += 1
            remarks = [Remark("SCHEMA_ERROR", problem[:250], PROTOCOL) for problem in problems]
            return _xml(answer(rs_name, now, errors=remarks), 400)
    return root


def _dates(control: Element | None) -> Iterator[date]:
    start = date.fromisoformat(str(attribute(control, "Start")))
    end = date.fromisoformat(str(attribute(control, "End")))
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


async def _ari(
    request: Request,
    rq_name: str,
    rs_name: str,
    container: str,
    item: str,
    apply: Callable[[SimulatorState, str, Element], str | None],
) -> Response:
    state = _state(request)
    refused = _refused_token(request, rs_name)
    if refused is not None:
        return refused
    read = _read(state, await request.body(), rq_name, rs_name)
    if isinstance(read, Response):
        return read
    now = state.now()
    holder = child(read, container)
    hotel_id = attribute(holder, "HotelCode")
    hotel = None if hotel_id is None else state.config.hotel(hotel_id)
    if hotel is None or hotel_id is None:
        # §3.1 403 "Access denied for hotel": the machine account does not reach this hotel.
        error = Remark("ACCESS_DENIED", f"Access denied for hotel {hotel_id}", AUTHENTICATION)
        return _xml(answer(rs_name, now, errors=[error]), 403)
    if state.is_over_ari_limit(hotel_id, rq_name):
        return _xml(answer(rs_name, now, errors=[Remark("RATE_LIMITED", "Too many requests")]), 429)
    state.counters.ari_calls += 1
    messages = list(children(holder, item))
    oldest = state.today() - timedelta(days=state.config.past_days_accepted)
    for message in messages:
        control = child(message, "StatusApplicationControl")
        start, end = attribute(control, "Start"), attribute(control, "End")
        try:
            is_bad = (
                start is None
                or end is None
                or date.fromisoformat(start) < oldest
                or date.fromisoformat(end) < date.fromisoformat(start)
            )
        except ValueError:
            is_bad = True
        if is_bad:
            # §3.1 Rules: "anything older gets error NOT_A_VALID_DATE"; nothing is applied.
            text = f"Start {start} / End {end} is not a valid date range (oldest {oldest})"
            return _xml(answer(rs_name, now, errors=[Remark("NOT_A_VALID_DATE", text)]), 200)
    most = state.config.max_months_per_request
    if most is not None:
        months = {
            (day.year, day.month)
            for message in messages
            for day in _dates(child(message, "StatusApplicationControl"))
        }
        if len(months) > most:
            text = f"the request spans {len(months)} months; batch by month (at most {most})"
            return _xml(answer(rs_name, now, errors=[Remark("BATCH_BY_MONTH", text)]), 200)
    warnings = []
    for position, message in enumerate(messages, start=1):
        problem = apply(state, hotel_id, message)
        if problem is not None:
            warnings.append(Remark("INVALID_ROOM_OR_RATE", problem, rph=position))
    return _xml(answer(rs_name, now, warnings=warnings))


def _codes(state: SimulatorState, hotel_id: str, control: Element | None) -> tuple[str, str | None]:
    """(room, rate) named by a StatusApplicationControl; ValueError if the hotel lacks one."""
    hotel = state.config.hotel(hotel_id)
    room_id = attribute(control, "InvTypeCode") or ""
    rate_id = attribute(control, "RatePlanCode")
    room = None if hotel is None else hotel.room(room_id)
    if room is None:
        raise ValueError(f"room {room_id} is not a room of hotel {hotel_id}")
    if rate_id is not None and rate_id not in room.rate_ids:
        raise ValueError(f"rate {rate_id} is not sold on room {room_id}")
    return room_id, rate_id


def _apply_availability(state: SimulatorState, hotel_id: str, message: Element) -> str | None:
    control = child(message, "StatusApplicationControl")
    try:
        room_id, rate_id = _codes(state, hotel_id, control)
    except ValueError as exc:
        return str(exc)
    limit = attribute(message, "BookingLimit")
    lengths = list(path(message, "LengthsOfStay", "LengthOfStay"))
    status = child(message, "RestrictionStatus")
    if (lengths or status is not None) and rate_id is None:
        return "restrictions need a RatePlanCode"
    for day in _dates(control):
        if limit is not None:
            state.availability[(hotel_id, room_id, day)] = int(limit)
        if rate_id is None:
            continue
        held = state.restrictions.setdefault((hotel_id, room_id, rate_id, day), Restrictions())
        for length in lengths:
            kind, time = attribute(length, "MinMaxMessageType"), attribute(length, "Time")
            if kind == "SetMinLOS" and time is not None:
                held.min_los = int(time)
            elif kind == "SetMaxLOS" and time is not None:
                held.max_los = int(time)
        if status is not None:
            closed = attribute(status, "Status") == "Close"
            restriction = attribute(status, "Restriction")
            if restriction == "Arrival":
                held.closed_to_arrival = closed
            elif restriction == "Departure":
                held.closed_to_departure = closed
            else:
                held.closed = closed
    return None


def _apply_rates(state: SimulatorState, hotel_id: str, message: Element) -> str | None:
    control = child(message, "StatusApplicationControl")
    try:
        room_id, rate_id = _codes(state, hotel_id, control)
    except ValueError as exc:
        return str(exc)
    if rate_id is None:
        return "a rate amount needs a RatePlanCode"
    hotel = state.config.hotel(hotel_id)
    amounts: dict[str, str] = {}
    for amount in path(message, "Rates", "Rate", "BaseByGuestAmts", "BaseByGuestAmt"):
        currency = attribute(amount, "CurrencyCode")
        if hotel is not None and currency not in (None, hotel.currency):
            return f"currency {currency} is not the hotel's {hotel.currency}"
        try:
            value = Decimal(str(attribute(amount, "AmountAfterTax")))
            places = int(attribute(amount, "DecimalPlaces") or "0")
        except (InvalidOperation, ValueError):
            return "an amount is not a number"
        # OTA DecimalPlaces: the amount is given in minor units (§3.1 RateAmountNotif).
        amounts[attribute(amount, "NumberOfGuests") or "default"] = str(value.scaleb(-places))
    for day in _dates(control):
        state.prices.setdefault((hotel_id, room_id, rate_id, day), {}).update(amounts)
    return None


@router.post("/hotels/ota/OTA_HotelAvailNotif")
async def avail_notif(request: Request) -> Response:
    return await _ari(
        request,
        "OTA_HotelAvailNotifRQ",
        "OTA_HotelAvailNotifRS",
        "AvailStatusMessages",
        "AvailStatusMessage",
        _apply_availability,
    )


@router.post("/hotels/ota/OTA_HotelRateAmountNotif")
async def rate_amount_notif(request: Request) -> Response:
    return await _ari(
        request,
        "OTA_HotelRateAmountNotifRQ",
        "OTA_HotelRateAmountNotifRS",
        "RateAmountMessages",
        "RateAmountMessage",
        _apply_rates,
    )


def _hotel_filter(state: SimulatorState, request: Request) -> set[str] | Response | None:
    raw = request.query_params.get("hotel_ids")
    if raw is None:
        return None
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(hotel for hotel in wanted if state.config.hotel(hotel) is None)
    if unknown:
        return Response(f"Access denied for hotel {unknown[0]}", status_code=403)
    return wanted


@router.get("/hotels/ota/{name}")
async def pull_reservations(name: str, request: Request) -> Response:
    """§3.1: every pending message of the queue, as an OTA ``…NotifRQ``."""
    if name not in _QUEUES:
        return Response("Not Found", status_code=404)
    queue, _, rs_name, _, _ = _QUEUES[name]
    state = _state(request)
    refused = _refused_token(request, rs_name)
    if refused is not None:
        return refused
    hotels = _hotel_filter(state, request)
    if isinstance(hotels, Response):
        return hotels
    state.sweep_fallbacks()
    entries = state.pending(queue, hotels)
    for entry in entries:
        entry.pulls += 1
        if state.config.response_tokens:
            entry.response_token = state.random_token()[:24]
    state.counters.pulls += 1
    currencies = {hotel.hotel_id: hotel.currency for hotel in state.config.hotels}
    return _xml(queue_document(queue, entries, state.now(), currencies))


def _acknowledged_ids(root: Element, holder: str, item: str) -> list[tuple[str, str | None]]:
    found = []
    for reservation in path(root, holder, item):
        reservation_id, token = None, None
        ids = path(reservation, "ResGlobalInfo", "HotelReservationIDs", "HotelReservationID")
        for held in ids:
            if attribute(held, "ResID_SourceContext") == "ResponseToken":
                token = attribute(held, "ResID_Value")
            elif reservation_id is None:
                reservation_id = attribute(held, "ResID_Value")
        if reservation_id is not None:
            found.append((reservation_id, token))
    return found


@router.post("/hotels/ota/{name}")
async def acknowledge_reservations(name: str, request: Request) -> Response:
    """§3.1: an ``…NotifRS`` naming reservations marks their pulled messages as processed.

    400 for a message of the other queue or none at all ("wrong type"), 409 for a stale
    response token; a repeated acknowledgement succeeds (configurable).
    """
    if name not in _QUEUES:
        return Response("Not Found", status_code=404)
    queue, _, rs_name, holder, item = _QUEUES[name]
    state = _state(request)
    refused = _refused_token(request, rs_name)
    if refused is not None:
        return refused
    read = _read(state, await request.body(), rs_name, rs_name)
    if isinstance(read, Response):
        return read
    if child(read, "Success") is None:
        # "Unsuccessfully processed": the reservations stay in the queue.
        return _xml(answer(rs_name, state.now()))
    acknowledged = _acknowledged_ids(read, holder, item)
    plan: list[QueueEntry] = []
    for reservation_id, token in acknowledged:
        mine = [e for e in state.entries if e.booking.reservation_id == reservation_id]
        pending = [e for e in mine if e.queue == queue and e.status == "pending" and e.pulls]
        done = [e for e in mine if e.queue == queue and e.status == "acknowledged"]
        if not pending:
            if done and state.config.repeated_ack_succeeds:
                continue
            text = "Hotel reservation has transaction message of the wrong type"
            return Response(text, status_code=400)
        current = pending[-1].response_token
        if state.config.response_tokens and token != current:
            text = (
                f"Response token '{token}' for hotel reservation '{reservation_id}' does not "
                "match. please pull again."
            )
            return Response(text, status_code=409)
        plan.extend(pending)
    now = state.now()
    for entry in plan:
        entry.status, entry.acknowledged_at = "acknowledged", now
    state.counters.acknowledgements += len(acknowledged)
    return _xml(answer(rs_name, now))
