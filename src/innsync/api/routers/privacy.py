"""Guest erasure (GDPR): a guest's personal data removed everywhere, the bookings kept."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from fastapi import APIRouter

from innsync.api.deps import Db, Writer
from innsync.privacy import erasure
from innsync.privacy.schemas import ErasureRead, GuestErase

router = APIRouter(tags=["privacy"])

RESPONSES: dict[int | str, dict[str, str]] = {404: {"description": "No such reservation"}}


@router.post("/reservations/{reservation_id}/erase-guest", responses=RESPONSES)
async def erase_reservation_guest(reservation_id: uuid.UUID, db: Db, who: Writer) -> ErasureRead:
    """Erase the guest of this reservation from it and from every other booking of theirs:
    names, contact details, free text, the guarantee's card holder, history, event payloads and
    raw inbound bodies. Dates, rooms, prices, channel and references stay. Irreversible."""
    actor = f"api:{who.key_id}"
    return await db.write(
        lambda s: _read(erasure.erase_reservation_guest(s, who.tenant_id, reservation_id, actor))
    )


@router.post("/guests/erase", responses={404: {"description": "No guest with this e-mail"}})
async def erase_guest(data: GuestErase, db: Db, who: Writer) -> ErasureRead:
    """Erase the guest with this e-mail from all their bookings (as ``erase-guest``)."""
    actor = f"api:{who.key_id}"
    return await db.write(
        lambda s: _read(erasure.erase_guest_by_email(s, who.tenant_id, data.email, actor))
    )


def _read(report: erasure.ErasureReport) -> ErasureRead:
    return ErasureRead(**asdict(report))
