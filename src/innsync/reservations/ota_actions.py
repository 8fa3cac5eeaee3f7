"""Booking actions reported back to the OTA a reservation came from: no-show, invalid card,
cancelling for an invalid card.

The route checks the reservation and claims the report here (:func:`target_for`,
:func:`claim_report`), calls the channel, then records the report on the reservation's history
(:func:`record_report`). An action already recorded is answered from the history without
calling the OTA again, and a report sent while another is on its way finds the claim taken
(one row per reservation and action, so the database decides): only one reaches the OTA.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.channels.types import BookingAction
from innsync.connections.models import Connection
from innsync.errors import ConflictError
from innsync.properties.models import Property
from innsync.properties.service import get_owned, property_today
from innsync.reservations import service
from innsync.reservations.models import (
    CANCELLED,
    NO_SHOW,
    OtaActionClaim,
    Reservation,
    ReservationChange,
)

# ReservationChange.action of each report (at most 16 characters).
HISTORY_ACTIONS = {
    "no_show": "ota_no_show",
    "invalid_card": "ota_invalid_card",
    "cancel_due_invalid_card": "ota_card_cancel",
}


# A claim older than this belongs to a request that died between claiming and recording (the
# channel call itself is bounded by the HTTP time-out, well below it): another may take it.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ActionTarget:
    """Where the report goes, or the report already recorded."""

    connection: Connection
    channel_booking_id: str
    recorded: ReservationChange | None


def target_for(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    action: BookingAction,
    now: datetime,
) -> ActionTarget:
    """The connection and the channel's booking id to report to; 409 when the action cannot
    apply (a direct booking, a cancelled one, a no-show before the arrival day)."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    if reservation.connection_id is None or not reservation.channel_booking_id:
        raise ConflictError("a direct reservation has no OTA to report to")
    connection = get_owned(session, Connection, tenant_id, reservation.connection_id)
    recorded = _recorded(session, reservation, action)
    if recorded is None:
        _check(session, reservation, action, now)
    return ActionTarget(connection, reservation.channel_booking_id, recorded)


def claim_report(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    action: BookingAction,
    now: datetime,
) -> bool:
    """Claim the sending of this report; ``False`` while another request holds the claim.

    The claim is committed before the channel is called and kept after the report is
    recorded, so a report checked against the history just before another one was recorded
    still finds the claim taken.
    """
    try:
        with session.begin_nested():
            session.add(
                OtaActionClaim(
                    tenant_id=tenant_id,
                    reservation_id=reservation_id,
                    action=action.kind,
                    claimed_at=now,
                )
            )
    except IntegrityError:
        stale = session.execute(
            update(OtaActionClaim)
            .where(
                OtaActionClaim.reservation_id == reservation_id,
                OtaActionClaim.action == action.kind,
                OtaActionClaim.claimed_at < now - CLAIM_LEASE,
            )
            .values(claimed_at=now)
        )
        return bool(getattr(stale, "rowcount", 0) == 1)
    return True


def release_claim(
    session: Session, tenant_id: uuid.UUID, reservation_id: uuid.UUID, action: BookingAction
) -> None:
    """The channel did not take the report: it may be sent again at once."""
    session.execute(
        delete(OtaActionClaim).where(
            OtaActionClaim.tenant_id == tenant_id,
            OtaActionClaim.reservation_id == reservation_id,
            OtaActionClaim.action == action.kind,
        )
    )


def recorded_report(
    session: Session, tenant_id: uuid.UUID, reservation_id: uuid.UUID, action: BookingAction
) -> ReservationChange | None:
    """The report of this action on the reservation's history, if any."""
    return _recorded(session, get_owned(session, Reservation, tenant_id, reservation_id), action)


def record_report(
    session: Session,
    tenant_id: uuid.UUID,
    reservation_id: uuid.UUID,
    action: BookingAction,
    actor_key_id: uuid.UUID | None,
    now: datetime,
) -> tuple[Reservation, ReservationChange]:
    """After the OTA took it: a no-show is also marked here, and the report joins the history."""
    reservation = get_owned(session, Reservation, tenant_id, reservation_id)
    recorded = _recorded(session, reservation, action)
    if recorded is not None:  # a report racing this one recorded it first
        return reservation, recorded
    if action.kind == "no_show":
        service.mark_no_show(session, tenant_id, reservation_id, actor_key_id, now)
    details: dict[str, object] = {"reported_to": reservation.ota_name or reservation.channel}
    if action.kind == "no_show":
        details["waived_fees"] = action.waived_fees
        if action.penalty_amount is not None and not action.waived_fees:
            details["penalty_amount"] = str(action.penalty_amount)
    change = ReservationChange(
        tenant_id=tenant_id,
        reservation_id=reservation.id,
        revision=reservation.revision,
        action=HISTORY_ACTIONS[action.kind],
        changes=details,
        snapshot=service.snapshot(session, reservation),
        origin="api",
        actor_key_id=actor_key_id,
        created_at=now,
    )
    session.add(change)
    session.flush()
    return reservation, change


def _recorded(
    session: Session, reservation: Reservation, action: BookingAction
) -> ReservationChange | None:
    query = select(ReservationChange).where(
        ReservationChange.reservation_id == reservation.id,
        ReservationChange.action == HISTORY_ACTIONS[action.kind],
    )
    return session.scalars(query.order_by(ReservationChange.id).limit(1)).first()


def _check(
    session: Session, reservation: Reservation, action: BookingAction, now: datetime
) -> None:
    if reservation.status == CANCELLED:
        raise ConflictError("the reservation is cancelled: there is nothing to report")
    if action.kind != "no_show":
        return
    if reservation.status != NO_SHOW:
        today = property_today(session.get_one(Property, reservation.property_id), now)
        if reservation.arrival > today:
            raise ConflictError(f"the guest is not due before {reservation.arrival}")
