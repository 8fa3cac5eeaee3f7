"""The YCS documents the simulator writes: ``<result>`` answers, booking details and hints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from fastapi.responses import Response

from innsync.simulators.agoda.state import Booking, SimulatorState
from innsync.xmlkit.parsing import Builder, Element, to_bytes

XML = "application/xml; charset=utf-8"
YCS = Builder(None)


class RequestError(Exception):
    """A request Agoda refuses whole: an ``<errors>`` answer with a YCS code."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _millis(state: SimulatorState) -> int:
    # §3.3: result timestamps are epoch milliseconds.
    return int(state.now().timestamp() * 1000)


def result(
    state: SimulatorState,
    *,
    errors: Sequence[tuple[str, str]] = (),
    warnings: Sequence[tuple[str, str, str, str | None]] = (),
    success: bool = True,
) -> Element:
    """A ``<result>``: ``<success/>`` unless refused, errors and per-update warnings."""
    root = YCS.root("result", {"timestamp": _millis(state)})
    if errors:
        holder = YCS.sub(root, "errors")
        for code, description in errors:
            YCS.sub(holder, "error", {"code": code, "description": description})
        return root
    if success:
        YCS.sub(root, "success")
    if warnings:
        holder = YCS.sub(root, "warnings")
        for code, description, room_id, rateplan_id in warnings:
            YCS.sub(
                holder,
                "warning",
                {
                    "code": code,
                    "description": description,
                    "room_id": room_id,
                    "rateplan_id": rateplan_id,
                },
            )
    return root


def xml_response(root: Element, status: int = 200) -> Response:
    return Response(to_bytes(root), status_code=status, media_type=XML)


def booking_element(state: SimulatorState, booking: Booking) -> Element:
    """One GetBookingDetail ``<booking>`` (§3.3 fields)."""
    zone = state.zone
    element = YCS.root(
        "booking",
        {
            "property_id": booking.property_id,
            "booking_id": booking.booking_id,
            "booking_date": booking.booked_at.astimezone(zone).isoformat(timespec="seconds"),
            "last_action": booking.last_action.astimezone(zone).isoformat(timespec="seconds"),
            "arrival": booking.arrival.isoformat(),
            "departure": booking.departure.isoformat(),
            "status": booking.status,
            "acknowledge": 0,
            "room_id": booking.room_id,
            "channel_id": 1,
            "channel_name": "Retail",
            "rateplan_id": booking.rateplan_id,
            "room_count": booking.room_count,
            "adults": booking.adults,
            "children": booking.children,
            "extrabeds": 0,
        },
    )
    YCS.sub(
        element,
        "customer",
        {
            "first_name": booking.first_name,
            "last_name": booking.last_name,
            "nationality": "Thailand",
        },
    )
    nights = (booking.departure - booking.arrival).days
    nightly = Decimal(booking.nightly_price) * booking.room_count
    # The flaw starts the nights at departure: prices for nights the stay does not have.
    first = booking.departure if booking.flaw == "price_outside_stay" else booking.arrival
    prices = YCS.sub(
        element,
        "prices",
        {"currency": booking.currency, "sell_inclusive_amt": str(nightly * nights)},
    )
    for night in range(nights):
        YCS.sub(
            prices,
            "price",
            {
                "date": (first + timedelta(days=night)).isoformat(),
                "sell_inclusive_amt": str(nightly),
                "type": "Room",
            },
        )
    YCS.sub(element, "paymentmodel", text=str(booking.payment_model))
    return element


def hint_body(state: SimulatorState, property_id: str, bookings: Sequence[Booking]) -> bytes:
    """One BookingHint ``<request>`` naming the bookings whose status changed (§3.3)."""
    zone = state.zone
    root = YCS.root("request", {"timestamp": _millis(state)})
    holder = YCS.sub(YCS.sub(root, "property", {"id": property_id}), "bookings")
    for booking in bookings:
        YCS.sub(
            holder,
            "booking",
            {
                "booking_id": booking.booking_id,
                "booking_date": booking.booked_at.astimezone(zone).isoformat(timespec="seconds"),
                "last_action": booking.last_action.astimezone(zone).isoformat(timespec="seconds"),
                "arrival": booking.arrival.isoformat(),
                "departure": booking.departure.isoformat(),
                "status": booking.status,
            },
        )
    return to_bytes(root)
