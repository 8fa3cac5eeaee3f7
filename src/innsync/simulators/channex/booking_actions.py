"""Booking actions a PMS reports back to the OTA (§1.6): no-show, invalid card, and cancelling
a booking because its card is invalid.

Each is refused with 422 `method_not_supported` when the booking's OTA lacks it (the config
says which OTAs have which). Cancelling for an invalid card cancels the booking at the OTA, so
a `cancelled` revision follows, announced like any other.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request

from innsync.simulators.channex import revisions
from innsync.simulators.channex.errors import ChannexError, validation_error
from innsync.simulators.channex.state import BookingRevision, SimulatorState
from innsync.simulators.channex.webhooks import WebhookDispatcher
from innsync.simulators.channex.wire import SUCCESS, read_json, simulator_state, tag_properties

router = APIRouter(prefix="/api/v1")
control = APIRouter(prefix="/_sim")
State = Depends(simulator_state)


def _supported(state: SimulatorState, request: Request, booking_id: str, action: str) -> Any:
    """The booking's latest revision, once its OTA is known to take ``action``."""
    current: BookingRevision = revisions.latest(state, booking_id)
    tag_properties(request, [current.property_id])
    otas = state.config.no_show_otas if action == "no_show" else state.config.invalid_card_otas
    if current.attributes["ota_name"] not in otas:
        raise ChannexError(
            422, "method_not_supported", f"{current.attributes['ota_name']} does not support it"
        )
    return current


def _note(state: SimulatorState, booking_id: str, action: str, body: Any) -> None:
    state.booking_actions.append(
        {"booking_id": booking_id, "action": action, "body": body, "at": state.now().isoformat()}
    )


def _no_show_report(body: Any) -> dict[str, Any]:
    """§1.6: `{"no_show_report": {"waived_fees": bool, "penalty_amount": "10.00"}}`."""
    report = body.get("no_show_report") if isinstance(body, dict) else None
    if not isinstance(report, dict) or not isinstance(report.get("waived_fees"), bool):
        raise validation_error({"no_show_report": ["waived_fees must be true or false"]})
    penalty = report.get("penalty_amount")
    if penalty is not None:
        try:
            valid = isinstance(penalty, str) and Decimal(penalty) >= 0
        except InvalidOperation:
            valid = False
        if not valid:
            raise validation_error({"penalty_amount": ["must be a decimal string"]})
    return report


@router.post("/bookings/{booking_id}/no_show")
async def no_show(booking_id: str, request: Request, state: SimulatorState = State) -> Any:
    body = await read_json(request)
    current = _supported(state, request, booking_id, "no_show")
    if current.status == "cancelled":
        raise validation_error({"booking": ["is cancelled"]})
    _note(state, booking_id, "no_show", _no_show_report(body))
    return SUCCESS


@router.post("/bookings/{booking_id}/invalid_card")
async def invalid_card(booking_id: str, request: Request, state: SimulatorState = State) -> Any:
    _supported(state, request, booking_id, "invalid_card")
    _note(state, booking_id, "invalid_card", None)
    return SUCCESS


@router.post("/bookings/{booking_id}/cancel_due_invalid_card")
async def cancel_due_invalid_card(
    booking_id: str, request: Request, state: SimulatorState = State
) -> Any:
    _supported(state, request, booking_id, "cancel_due_invalid_card")
    cancelled = revisions.cancel_booking(state, booking_id)
    _note(state, booking_id, "cancel_due_invalid_card", None)
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    dispatcher.publish_revision(cancelled)
    if state.config.deliver_webhooks_inline:
        await dispatcher.deliver_due()
    return SUCCESS


@control.get("/booking-actions")
async def inspect_booking_actions(state: SimulatorState = State) -> dict[str, Any]:
    """Every booking action received, oldest first."""
    return {"data": list(state.booking_actions)}
