"""The three EQC endpoints: AR (rates and availability), BR (booking retrieval), BC (confirm).

EQC answers HTTP 200 with an ``<Error code>`` in the body for every refusal it words itself;
codes are §3.2's where it lists them and marked ``[UNCONFIRMED]`` where it does not.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, Response

from innsync.simulators.expedia.config import (
    PASSWORD_DELAY,
    PASSWORD_TIMEOUT,
    HotelSetup,
    RoomSetup,
)
from innsync.simulators.expedia.documents import (
    AR_RQ_NAMESPACES,
    AR_RS_NAMESPACE,
    BC_RQ_NAMESPACE,
    BC_RS_NAMESPACE,
    BR_NAMESPACES,
    EqcError,
    booking_element,
    error_answer,
    success_answer,
)
from innsync.simulators.expedia.state import SimulatorState, Transaction
from innsync.simulators.expedia.verification import Warnings, cap_inventory, verify_rates
from innsync.xmlkit.parsing import (
    Builder,
    Element,
    XmlRefusedError,
    attribute,
    child,
    children,
    local_name,
    namespace_of,
    parse_xml,
    text_of,
    to_bytes,
)

router = APIRouter()

AUTH_ERROR = 1001  # [UNCONFIRMED] the code of a refused username/password
SCHEMA_ERROR = 3010  # §3.2
BR_NAMESPACE_ERROR = 2010  # §3.2
START_BEFORE_YESTERDAY = 3020  # §3.2
START_AFTER_END = 3021  # §3.2
BEYOND_TWO_YEARS = 3022  # [UNCONFIRMED]
UNKNOWN_HOTEL = 3202  # §3.2
UNKNOWN_ROOM = 3203  # §3.2
UNKNOWN_RATE = 3204  # §3.2
ROOM_RATE_MISMATCH = 3205  # §3.2
TOO_MANY_UPDATES = 3107  # FAQ "maximum number of updates per message"
UNKNOWN_BOOKING = 3301  # [UNCONFIRMED] a BC naming no retrieved booking transaction
TIMED_OUT = 4000  # §3.2 codes >= 4000 are EQC's own trouble, to retry
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RESTRICTIONS = ("closedToArrival", "closedToDeparture", "minLOS", "maxLOS")


# The child elements each request element may have (AR/BR/BC RQ definitions): anything else is
# a schema error (3010), as EQC validates every message against its XSD.
ALLOWED_CHILDREN: dict[str, frozenset[str]] = {
    "AvailRateUpdateRQ": frozenset({"Authentication", "Hotel", "AvailRateUpdate"}),
    "AvailRateUpdate": frozenset({"DateRange", "RoomType"}),
    "RoomType": frozenset({"Inventory", "RatePlan"}),
    "RatePlan": frozenset({"Rate", "Restrictions"}),
    "Rate": frozenset({"PerDay", "PerOccupancy", "PerPerson"}),
    "BookingRetrievalRQ": frozenset({"Authentication", "Hotel", "ParamSet"}),
    # BR's and PARR's ParamSet share the name: either message's children are taken.
    "ParamSet": frozenset(
        {"Booking", "Status", "NbDaysInPast", "ProductRetrieval", "AvailRateRetrieval"}
    ),
    "ProductAvailRateRetrievalRQ": frozenset({"Authentication", "Hotel", "ParamSet"}),
    "AvailRateRetrieval": frozenset({"RoomType"}),
    "BookingConfirmRQ": frozenset({"Authentication", "Hotel", "BookingConfirmNumbers"}),
    "BookingConfirmNumbers": frozenset({"BookingConfirmNumber"}),
}


def _check_structure(element: Element) -> None:
    allowed = ALLOWED_CHILDREN.get(local_name(element), frozenset())
    for sub in element:
        if not isinstance(sub.tag, str):
            continue
        if local_name(sub) not in allowed or namespace_of(sub) != namespace_of(element):
            raise EqcError(
                SCHEMA_ERROR, f"Element {local_name(sub)} is not allowed in {local_name(element)}"
            )
        _check_structure(sub)


def state_of(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _xml(body: bytes) -> Response:
    return Response(body, media_type="text/xml")


async def _authenticate(state: SimulatorState, root: Element) -> None:
    """§3.2: ``Authentication`` inside the body; the public simulator's special passwords."""
    auth = child(root, "Authentication")
    username = attribute(auth, "username") or ""
    password = attribute(auth, "password") or ""
    if not 4 <= len(username) <= 30 or not 6 <= len(password) <= 30:
        raise EqcError(AUTH_ERROR, "Authentication error: invalid username or password")
    if password not in state.config.passwords:
        raise EqcError(AUTH_ERROR, "Authentication error: invalid username or password")
    if password == PASSWORD_DELAY:
        await state.config.sleep(state.config.delay_seconds)
    elif password == PASSWORD_TIMEOUT:
        await state.config.sleep(state.config.timeout_seconds)
        raise EqcError(TIMED_OUT, "Request timed out")


def _hotel(state: SimulatorState, root: Element, required: bool = True) -> HotelSetup | None:
    hotel_id = attribute(child(root, "Hotel"), "id")
    if hotel_id is None:
        if required:
            raise EqcError(SCHEMA_ERROR, "Hotel element missing")
        return None
    hotel = state.config.hotel(hotel_id)
    if hotel is None:
        raise EqcError(UNKNOWN_HOTEL, f"Hotel ID {hotel_id} is not valid")
    return hotel


async def _read(
    state: SimulatorState, request: Request, name: str, spaces: tuple[str, ...]
) -> Element:
    try:
        root = parse_xml(await request.body())
    except XmlRefusedError as exc:
        raise EqcError(SCHEMA_ERROR, f"Invalid XML: {exc}") from exc
    if local_name(root) != name:
        raise EqcError(SCHEMA_ERROR, f"Root element must be {name}")
    if namespace_of(root) not in spaces:
        code = BR_NAMESPACE_ERROR if name == "BookingRetrievalRQ" else SCHEMA_ERROR
        raise EqcError(code, f"Namespace {namespace_of(root)} is not supported")
    _check_structure(root)
    await _authenticate(state, root)
    return root


def _date(value: str | None, what: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise EqcError(SCHEMA_ERROR, f"{what} must be a date, got {value!r}") from None


def _int(value: str | None, what: str, low: int, high: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise EqcError(SCHEMA_ERROR, f"{what} must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise EqcError(SCHEMA_ERROR, f"{what} must be between {low} and {high}")
    return number


def _bool(value: str | None, what: str) -> bool:
    if value not in ("true", "false", "1", "0"):
        raise EqcError(SCHEMA_ERROR, f"{what} must be a boolean, got {value!r}")
    return value in ("true", "1")


def _rate(value: str | None) -> str:
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        raise EqcError(SCHEMA_ERROR, f"rate must be a decimal, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise EqcError(SCHEMA_ERROR, "Rate has to be >= 0.000")
    return str(amount)


def _days(range_element: Element, today: date, max_days_ahead: int) -> list[date]:
    start = _date(attribute(range_element, "from"), "DateRange@from")
    end = _date(attribute(range_element, "to"), "DateRange@to")
    if start > end:
        raise EqcError(START_AFTER_END, "DateRange from date is after to date")
    if start < today - timedelta(days=1):
        raise EqcError(START_BEFORE_YESTERDAY, "DateRange from date is before yesterday")
    if end > today + timedelta(days=max_days_ahead):
        raise EqcError(BEYOND_TWO_YEARS, "DateRange to date is more than 2 years ahead")
    flags = {name: attribute(range_element, name) for name in WEEKDAYS}
    given = {name: _bool(value, f"@{name}") for name, value in flags.items() if value is not None}
    days = []
    day = start
    while day <= end:
        if not given or given.get(WEEKDAYS[day.weekday()], False):
            days.append(day)
        day += timedelta(days=1)
    return days


def _room_changes(hotel: HotelSetup, room: Element) -> tuple[RoomSetup, dict[str, Any], list[Any]]:
    """The room's own fields and its rate plans' fields, validated; (room, fields, plans)."""
    room_id = attribute(room, "id") or ""
    setup = hotel.room(room_id)
    if setup is None:
        raise EqcError(UNKNOWN_ROOM, f"RoomType ID {room_id} is not valid")
    fields: dict[str, Any] = {}
    if attribute(room, "closed") is not None:
        fields["closed"] = _bool(attribute(room, "closed"), "RoomType@closed")
    inventory = child(room, "Inventory")
    if inventory is not None:
        total = attribute(inventory, "totalInventoryAvailable")
        flexible = attribute(inventory, "flexibleAllocation")
        if (total is None) == (flexible is None):
            raise EqcError(SCHEMA_ERROR, "Inventory needs exactly one of its two attributes")
        fields["inventory"] = _int(total or flexible, "Inventory", 0, 4999)
    plans = []
    for plan in children(room, "RatePlan"):
        rate_id = attribute(plan, "id") or ""
        if rate_id not in setup.rate_ids:
            owner = any(rate_id in other.rate_ids for other in hotel.rooms)
            code = ROOM_RATE_MISMATCH if owner else UNKNOWN_RATE
            raise EqcError(code, f"RatePlan ID {rate_id} does not belong to room {room_id}")
        plan_fields: dict[str, Any] = {}
        if attribute(plan, "closed") is not None:
            plan_fields["closed"] = _bool(attribute(plan, "closed"), "RatePlan@closed")
        rate = child(plan, "Rate")
        if rate is not None:
            if attribute(rate, "currency") not in (None, hotel.currency):
                raise EqcError(SCHEMA_ERROR, f"Currency must be {hotel.currency}")
            per_day = list(children(rate, "PerDay"))
            per_occupancy = list(children(rate, "PerOccupancy"))
            if hotel.pricing == "PerDay" and (per_occupancy or len(per_day) != 1):
                raise EqcError(SCHEMA_ERROR, "Hotel uses per day pricing: one PerDay rate")
            if hotel.pricing == "PerOccupancy" and (per_day or not per_occupancy):
                raise EqcError(SCHEMA_ERROR, "Hotel uses occupancy based pricing")
            for element in per_day:
                plan_fields["rate"] = _rate(attribute(element, "rate"))
            for element in per_occupancy:
                occupancy = _int(attribute(element, "occupancy"), "@occupancy", 1, 20)
                plan_fields[f"rate{occupancy}"] = _rate(attribute(element, "rate"))
        restrictions = child(plan, "Restrictions")
        if restrictions is not None:
            for name in RESTRICTIONS:
                value = attribute(restrictions, name)
                if value is None:
                    continue
                if name.endswith("LOS"):
                    plan_fields[name] = _int(value, f"@{name}", 1, 28)
                else:
                    plan_fields[name] = _bool(value, f"@{name}")
        plans.append((rate_id, plan_fields))
    return setup, fields, plans


@router.post("/connect/ar")
@router.post("/eqc/ar")
async def availability_and_rates(request: Request) -> Response:
    """AR: every update validated first; more than 3000 updates refuses the message whole."""
    state = state_of(request)
    state.counters["ar_requests"] += 1
    try:
        root = await _read(state, request, "AvailRateUpdateRQ", AR_RQ_NAMESPACES)
        hotel = _hotel(state, root)
        assert hotel is not None  # required=True
        if state.over_ar_budget(hotel.hotel_id):
            return Response("Too Many Requests", status_code=429)
        today = state.now().date()
        planned = []
        updates = 0
        for update in children(root, "AvailRateUpdate"):
            days = [
                day
                for element in children(update, "DateRange")
                for day in _days(element, today, state.config.max_days_ahead)
            ]
            if not days:
                raise EqcError(SCHEMA_ERROR, "AvailRateUpdate needs a DateRange")
            for room in children(update, "RoomType"):
                setup, fields, plans = _room_changes(hotel, room)
                per_day = len(fields) + sum(len(plan_fields) for _, plan_fields in plans)
                updates += per_day * len(days)
                total = attribute(child(room, "Inventory"), "totalInventoryAvailable")
                planned.append((days, setup, fields, plans, total is not None))
        if updates > state.config.max_updates_per_message:
            raise EqcError(
                TOO_MANY_UPDATES,
                "Update exceeds allowable size - Maximum allowable size is "
                f"{state.config.max_updates_per_message} updates",
            )
    except EqcError as error:
        state.counters["errors"] += 1
        return _xml(error_answer("AvailRateUpdateRS", AR_RS_NAMESPACE, error))
    # Validated whole: from here on nothing refuses the message, but values EQC will not take
    # are changed or left out, each with a warning (verification.py).
    warnings = Warnings()
    threshold = state.config.rate_threshold
    for days, setup, fields, plans, is_total in planned:
        for day in days:
            if fields:
                taken = fields
                if is_total:
                    taken = cap_inventory(
                        setup.base_allocation, setup.room_id, day, fields, warnings
                    )
                state.room_days.setdefault((hotel.hotel_id, setup.room_id, day), {}).update(taken)
            for rate_id, plan_fields in plans:
                key = (hotel.hotel_id, setup.room_id, rate_id, day)
                kept = verify_rates(
                    threshold,
                    setup.room_id,
                    rate_id,
                    day,
                    plan_fields,
                    state.rate_days.get(key, {}),
                    warnings,
                )
                if kept:
                    state.rate_days.setdefault(key, {}).update(kept)
    state.counters["ar_updates"] += updates
    state.counters["warnings"] += warnings.count
    return _xml(success_answer("AvailRateUpdateRS", AR_RS_NAMESPACE, warnings.answer()))


def _selected(state: SimulatorState, root: Element) -> list[tuple[Transaction, str]]:
    """The transactions a BR asks for, with the status each is reported in."""
    hotel = _hotel(state, root, required=False)
    bookings = [
        booking
        for booking in state.bookings.values()
        if hotel is None or booking.hotel_id == hotel.hotel_id
    ]
    params = child(root, "ParamSet")
    booking_id = attribute(child(params, "Booking"), "id") if params is not None else None
    days_element = child(params, "NbDaysInPast") if params is not None else None
    if booking_id is not None:
        found = next((b for b in bookings if b.booking_id == booking_id), None)
        if found is None or found.latest.status == "fallback":
            raise EqcError(UNKNOWN_BOOKING, f"Booking ID {booking_id} cannot be retrieved")
        return [(found.latest, found.latest.status)]
    statuses = {
        attribute(element, "value") or ""
        for element in (children(params, "Status") if params is not None else [])
    } or {"pending"}
    if not statuses <= {"pending", "retrieved", "confirmed", "expired"}:
        raise EqcError(SCHEMA_ERROR, "Status value must be pending, retrieved or confirmed")
    found_rows: list[tuple[Transaction, str]] = []
    since = None
    if days_element is not None:
        since = state.now() - timedelta(days=_int(text_of(days_element), "NbDaysInPast", 1, 30))
    for booking in bookings:
        if "pending" in statuses:
            deliverable = booking.deliverable()
            if deliverable is not None:
                found_rows.append((deliverable, "pending"))
        for transaction in booking.transactions:
            if transaction.status in statuses - {"pending"}:
                found_rows.append((transaction, transaction.status))
    if since is not None:
        found_rows = [row for row in found_rows if row[0].created_at >= since]
    # BR definition: sorted from the most recent, at most 125.
    found_rows.sort(key=lambda row: (row[0].created_at, row[0].sequence), reverse=True)
    return found_rows[: state.config.max_bookings_per_response]


@router.post("/connect/br")
@router.post("/eqc/br")
async def booking_retrieval(request: Request) -> Response:
    """BR: pending transactions become retrieved once handed out."""
    state = state_of(request)
    state.counters["br_requests"] += 1
    namespace = BR_NAMESPACES[0]
    try:
        root = await _read(state, request, "BookingRetrievalRQ", BR_NAMESPACES)
        namespace = namespace_of(root) or namespace
        rows = _selected(state, root)
    except EqcError as error:
        state.counters["errors"] += 1
        return _xml(error_answer("BookingRetrievalRS", namespace, error))
    builder = Builder(namespace)
    answer = builder.root("BookingRetrievalRS")
    bookings = builder.sub(answer, "Bookings")
    for transaction, status in rows:
        booking_element(
            builder, bookings, state.bookings[transaction.booking_id], transaction, status
        )
        transaction.retrievals += 1
        if transaction.status == "pending":
            transaction.status = "retrieved"
            transaction.retrieved_at = state.now()
    return _xml(to_bytes(answer))


@router.post("/connect/bc")
@router.post("/eqc/bc")
async def booking_confirmation(request: Request) -> Response:
    """BC: confirms retrieved transactions; a repeated confirmation is taken again."""
    state = state_of(request)
    state.counters["bc_requests"] += 1
    try:
        root = await _read(state, request, "BookingConfirmRQ", (BC_RQ_NAMESPACE,))
        hotel = _hotel(state, root)
        assert hotel is not None
        numbers = child(root, "BookingConfirmNumbers")
        confirmations = (
            list(children(numbers, "BookingConfirmNumber")) if numbers is not None else []
        )
        if not confirmations:
            raise EqcError(SCHEMA_ERROR, "BookingConfirmNumbers needs a BookingConfirmNumber")
        planned = []
        for element in confirmations:
            booking_id = attribute(element, "bookingID") or ""
            kind = attribute(element, "bookingType")
            number = attribute(element, "confirmNumber") or ""
            if kind not in ("Book", "Modify", "Cancel") or not 1 <= len(number) <= 32:
                raise EqcError(SCHEMA_ERROR, "bookingType or confirmNumber is invalid")
            _date((attribute(element, "confirmTime") or "")[:10], "confirmTime")
            booking = state.bookings.get(booking_id)
            candidates = (
                []
                if booking is None or booking.hotel_id != hotel.hotel_id
                else [
                    t
                    for t in booking.transactions
                    if t.kind == kind and t.status in ("retrieved", "confirmed")
                ]
            )
            if not candidates:
                raise EqcError(
                    UNKNOWN_BOOKING, f"Booking {booking_id} ({kind}) was not retrieved or expired"
                )
            planned.append((candidates[-1], number))
    except EqcError as error:
        state.counters["errors"] += 1
        return _xml(error_answer("BookingConfirmRS", BC_RS_NAMESPACE, error))
    for transaction, number in planned:
        transaction.status = "confirmed"
        transaction.confirm_number = number
        transaction.confirmations += 1
        transaction.confirmed_at = state.now()
    return _xml(success_answer("BookingConfirmRS", BC_RS_NAMESPACE, []))
