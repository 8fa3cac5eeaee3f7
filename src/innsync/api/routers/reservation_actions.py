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
from innsync.channels.contract import ReportsBookingActions
from innsync.channels.types import BookingAction
from innsync.connections.service import build_adapter
from innsync.db.base import utcnow
from innsync.errors import ConflictError
from innsync.reservations import ota_actions
from innsync.reservations.models import Reservation
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
    def target(
        session: Session,
    ) -> tuple[ota_actions.ActionTarget, ReportsBookingActions | None, bool]:
        now = utcnow()
        found = ota_actions.target_for(session, who.tenant_id, reservation_id, action, now)
        if found.recorded is not None:
            return found, None, False
        adapter = build_adapter(found.connection, box, http)
        if not isinstance(adapter, ReportsBookingActions):
            raise ConflictError(
                f"the {found.connection.channel} channel cannot report {action.kind}"
            )
        claimed = ota_actions.claim_report(session, who.tenant_id, reservation_id, action, now)
        return found, adapter, claimed

    # A write: the claim is committed before the channel is called.
    found, reporter, claimed = await db.write(target)
    if reporter is not None and not claimed:
        return await db.read(lambda s: _in_flight(s, reservation_id, action, who.tenant_id))
    if reporter is not None:
        try:
            await calling_channel(reporter.report_booking_action(found.channel_booking_id, action))
        except BaseException:
            await db.write(
                lambda s: ota_actions.release_claim(s, who.tenant_id, reservation_id, action)
            )
            raise

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


def _in_flight(
    session: Session, reservation_id: uuid.UUID, action: BookingAction, tenant_id: uuid.UUID
) -> OtaActionRead:
    """Another request holds the claim: its result once recorded, else a 409 (nothing sent)."""
    recorded = ota_actions.recorded_report(session, tenant_id, reservation_id, action)
    if recorded is None:
        raise ConflictError(
            f"a {action.kind} report for this reservation is being sent right now; "
            "ask again in a moment to read its result"
        )
    reservation = session.get_one(Reservation, reservation_id)
    return OtaActionRead(
        reservation_id=reservation.id,
        action=action.kind,
        status=reservation.status,
        reported_at=recorded.created_at,
        already_reported=True,
    )
