"""Conflicts between channel revisions and PMS changes: list, read and resolve them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from innsync.api.deps import Db, Reader, Writer
from innsync.properties.service import get_owned
from innsync.reservations import conflicts
from innsync.reservations.models import ReservationConflict
from innsync.reservations.schemas import ConflictRead, ConflictResolve

router = APIRouter(tags=["conflicts"])


@router.get("/conflicts")
async def list_conflicts(
    db: Db,
    who: Reader,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
    property_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ConflictRead]:
    """Conflicts held for review: channel revisions that contradict a PMS change."""
    return await db.read(
        lambda s: [
            conflicts.conflict_read(conflict)
            for conflict in conflicts.list_conflicts(s, who.tenant_id, status, property_id, limit)
        ]
    )


@router.get("/conflicts/{conflict_id}")
async def get_conflict(conflict_id: uuid.UUID, db: Db, who: Reader) -> ConflictRead:
    """One conflict with both versions of the reservation."""
    return await db.read(
        lambda s: conflicts.conflict_read(
            get_owned(s, ReservationConflict, who.tenant_id, conflict_id)
        )
    )


@router.post(
    "/conflicts/{conflict_id}/resolve",
    responses={409: {"description": "The conflict is resolved already, or was superseded"}},
)
async def resolve_conflict(
    conflict_id: uuid.UUID, data: ConflictResolve, db: Db, who: Writer
) -> ConflictRead:
    """Resolve a held conflict: keep the reservation, take the channel's, or merge fields."""
    return await db.write(
        lambda s: conflicts.conflict_read(
            conflicts.resolve_conflict(s, who.tenant_id, conflict_id, data, who.key_id)
        )
    )
