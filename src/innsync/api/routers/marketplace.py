"""The marketplace side: a property's ARI source, and the offers search."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from innsync.api.deps import Db, Reader, Writer
from innsync.db.base import utcnow
from innsync.marketplace import offers, sources
from innsync.marketplace.schemas import AriSourceRead, AriSourceWrite, OfferSearch

router = APIRouter(tags=["marketplace"])


@router.get("/properties/{property_id}/ari-source")
async def get_ari_source(property_id: uuid.UUID, db: Db, who: Reader) -> AriSourceRead:
    """The connection the property's ARI comes from (null: the PMS), and its last pull."""
    return await db.read(lambda s: sources.read_ari_source(s, who.tenant_id, property_id))


@router.put("/properties/{property_id}/ari-source")
async def set_ari_source(
    property_id: uuid.UUID, data: AriSourceWrite, db: Db, who: Writer
) -> AriSourceRead:
    """Make one of the property's connections the source of its room types, rate plans and ARI
    (the PMS's ARI writes are then refused with 409), or give them back to the PMS (null).

    The connection is owed the property's bookings (`push_bookings` on) and is never sent its
    ARI; its first pull is due at once.
    """
    return await db.write(
        lambda s: sources.set_ari_source(s, who.tenant_id, property_id, data, utcnow())
    )


@router.get("/offers")
async def search_offers(
    arrival: Annotated[date, Query(description="Arrival date")],
    departure: Annotated[date, Query(description="Departure date (after arrival)")],
    db: Db,
    who: Reader,
    adults: Annotated[int, Query(ge=1, le=50)] = 2,
    children: Annotated[int, Query(ge=0, le=50)] = 0,
) -> OfferSearch:
    """Bookable offers of every property of the tenant whose ARI comes from a connection:
    room type, rate plan, nightly and total price and the restrictions that apply, read from
    innsync's tables (no call to a channel). At most 31 nights.
    """
    return await db.read(
        lambda s: offers.search_offers(
            s, who.tenant_id, arrival, departure, adults, children, utcnow()
        )
    )
