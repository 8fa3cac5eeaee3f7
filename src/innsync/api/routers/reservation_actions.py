"""Booking actions reported back to a reservation's OTA through its channel (issue #21).

These routes call the channel while the request waits: the front desk needs to know at once
whether the OTA took the report, and an OTA that lacks the action is a 409, not a failure.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy.orm import Session

from innsync.api.channel_calls import ChannelHttp, calling_channel
from innsync.api.deps import Box, Db, Writer
from innsync.channels.contract import ChannelAdapter, ReportsBookingActions
from innsync.channels.types import BookingAction
from innsync.connections.service import build_adapter
from innsync.db.base import utcnow
from innsync.errors import ConflictError
from innsync.reservations import ota_actions
from innsync.reservations.schemas import NoShowReport, OtaActionRead

router = APIRouter(tags=["reservations"])

RESPONSES: dict[int | str, dict[str, str]] = {
    409: {
        "description": "The action cannot apply (a direct or cancelled booking, a guest not yet "
        "due), the channel cannot report it, or the OTA does not support it"
    },
    502: {"description": "The channel refused the report"},
    503: {"description": "The channel is unavailable; try again later"},
}


@router.post("/reservations/{reservation_id}/ota/no-show", responses=RESPONSES)
async def report_no_show(
    reservation_id: uuid.UUID,
    data: NoShowReport,
    db: Db,
    who: Writer,
    box: Box,
    http: ChannelHttp,
) -> OtaActionRead:
    """Tell the OTA the guest did not come (fees waived, or a penalty); marks it a no-show."""
    action = BookingAction("no_show", data.waived_fees, data.penalty_amount)
    return await _report(reservation_id, action, db, who, box, http)


@router.post("/reservations/{reservation_id}/ota/invalid-card", responses=RESPONSES)
async def report_invalid_card(
    reservation_id: uuid.UUID, db: Db, who: Writer, box: Box, http: ChannelHttp
) -> OtaActionRead:
    """Tell the OTA the guest's card does not work, so it asks the guest for another."""
    return await _report(reservation_id, BookingAction("invalid_card"), db, who, box, http)


@router.post("/reservations/{reservation_id}/ota/cancel-invalid-card", responses=RESPONSES)
async def cancel_for_invalid_card(
    reservation_id: uuid.UUID, db: Db, who: Writer, box: Box, http: ChannelHttp
) -> OtaActionRead:
    """Ask the OTA to cancel the booking because its card is invalid; the cancellation itself
    arrives from the channel as the booking's next revision."""
    action = BookingAction("cancel_due_invalid_card")
    return await _report(reservation_id, action, db, who, box, http)


async def _report(
    reservation_id: uuid.UUID,
    action: BookingAction,
    db: Db,
    who: Writer,
    box: Box,
    http: ChannelHttp,
) -> OtaActionRead:
    def target(session: Session) -> tuple[ota_actions.ActionTarget, ChannelAdapter]:
        found = ota_actions.target_for(session, who.tenant_id, reservation_id, action, utcnow())
        return found, build_adapter(found.connection, box, http)

    found, adapter = await db.read(target)
    if found.recorded is None:
        if not isinstance(adapter, ReportsBookingActions):
            raise ConflictError(
                f"the {found.connection.channel} channel cannot report {action.kind}"
            )
        await calling_channel(adapter.report_booking_action(found.channel_booking_id, action))

    def record(session: Session) -> OtaActionRead:
        # Also when already recorded: the answer is read from the history, nothing is added.
        reservation, change = ota_actions.record_report(
            session, who.tenant_id, reservation_id, action, who.key_id, utcnow()
        )
        return OtaActionRead(
            reservation_id=reservation.id,
            action=action.kind,
            status=reservation.status,
            reported_at=change.created_at,
            already_reported=found.recorded is not None,
        )

    return await db.write(record)
