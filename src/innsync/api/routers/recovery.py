"""Operator tools for what got stuck inbound: inbox triage, forced pulls, reconciliation."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from innsync.api.channel_calls import ChannelHttp, calling_channel
from innsync.api.deps import Box, Database, Db, Reader, Writer
from innsync.connections import audit, service
from innsync.crypto import SecretBox
from innsync.errors import InvalidInputError
from innsync.inbox import triage
from innsync.inbox.forced_pull import MAX_BOOKING_ID, pull_booking
from innsync.inbox.models import InboxItem
from innsync.inbox.reconciliation import reconcile
from innsync.inbox.schemas import (
    MAX_REQUEUE,
    ForcedPullRead,
    InboxItemRead,
    InboxItemsPage,
    ReconciliationRead,
    RequeueRead,
    RequeueRequest,
    WaitingState,
)
from innsync.inbox.timing import AdapterFactory
from innsync.stay_dates import DateRange

router = APIRouter(tags=["operations"])


def _adapters(db: Database, box: SecretBox, http: httpx.AsyncClient) -> AdapterFactory:
    """Adapters for this request's channel calls; tokens the channel issues are kept, as the
    worker's are."""
    return lambda connection: service.build_adapter(connection, box, http, db.sessions)


def _read(item: InboxItem) -> InboxItemRead:
    return InboxItemRead(
        id=item.id,
        connection_id=item.connection_id,
        source=item.source,
        status=item.status,
        reason=item.reason,
        attempts=item.attempts,
        received_at=item.received_at,
        processed_at=item.processed_at,
        can_requeue=triage.never_applies(item) is None,
    )


@router.get("/inbox-items")
async def list_inbox_items(
    db: Db,
    who: Reader,
    connection_id: uuid.UUID | None = None,
    state: Annotated[
        WaitingState | None, Query(description="parked or rejected; both when left out")
    ] = None,
    since: Annotated[datetime | None, Query(description="Received at or after this time")] = None,
    after: Annotated[
        int | None, Query(ge=0, description="The `next_after` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InboxItemsPage:
    """Parked and rejected inbox items with their reasons, oldest first, a page at a time."""
    where = triage.InboxFilter(connection_id, (state,) if state else triage.WAITING, since)

    def read(session: Session) -> InboxItemsPage:
        items = triage.list_items(session, who.tenant_id, where, after, limit + 1)
        page = items[:limit]
        return InboxItemsPage(
            items=[_read(item) for item in page],
            next_after=page[-1].id if len(items) > limit else None,
        )

    return await db.read(read)


@router.post(
    "/inbox-items/requeue",
    responses={
        404: {"description": "A named item, or the connection filtered by, is not the tenant's"},
        409: {"description": "A named item can never apply; `detail` says why"},
    },
)
async def requeue_inbox_items(data: RequeueRequest, db: Db, who: Writer) -> RequeueRead:
    """Put parked (or rejected) items back to pending for the processor; audited, safe to repeat.

    Named ``ids`` are all requeued or none (404 for one not the tenant's, 409 for one that can
    never apply); filters requeue up to ``limit`` matching items and list those skipped.
    """
    actor = audit.api_actor(who.key_id)

    def requeue(session: Session) -> RequeueRead:
        if data.ids is not None:
            result = triage.requeue_items(session, who.tenant_id, actor, ids=data.ids)
        else:
            where = triage.InboxFilter(
                data.connection_id, (data.state,) if data.state else triage.WAITING, data.since
            )
            result = triage.requeue_items(
                session, who.tenant_id, actor, where=where, limit=min(data.limit, MAX_REQUEUE)
            )
        return RequeueRead.of(result)

    return await db.write(requeue)


@router.post(
    "/connections/{connection_id}/bookings/{channel_booking_id}/pull",
    responses={
        409: {"description": "The channel cannot read one booking, or the connection is disabled"}
    },
)
async def pull_one_booking(
    connection_id: uuid.UUID,
    channel_booking_id: Annotated[str, Path(min_length=1, max_length=MAX_BOOKING_ID)],
    db: Db,
    who: Writer,
    box: Box,
    http: ChannelHttp,
) -> ForcedPullRead:
    """Read one booking from the channel by its id and keep it in the inbox like any pull.

    The processor applies it exactly once (a revision already held is not stored again). 404
    when the channel does not give the booking (unknown to it, or another property's).
    """
    pulled = await calling_channel(
        pull_booking(
            db,
            who.tenant_id,
            connection_id,
            channel_booking_id,
            _adapters(db, box, http),
            audit.api_actor(who.key_id),
        )
    )
    return ForcedPullRead.of(pulled)


@router.get(
    "/connections/{connection_id}/reconciliation",
    responses={409: {"description": "The channel cannot list its bookings"}},
)
async def reconciliation_report(
    connection_id: uuid.UUID,
    db: Db,
    who: Reader,
    box: Box,
    http: ChannelHttp,
    date_from: Annotated[date, Query(alias="from", description="First arrival date, included")],
    date_to: Annotated[date, Query(alias="to", description="Last arrival date, included")],
) -> ReconciliationRead:
    """Bookings the channel has that innsync does not, the reverse, and those that differ in
    status or dates, over a window of arrival dates (at most 366 days)."""
    if date_to < date_from:
        raise InvalidInputError("'to' must not be before 'from'")
    report = await calling_channel(
        reconcile(
            db,
            who.tenant_id,
            connection_id,
            DateRange.inclusive(date_from, date_to),
            _adapters(db, box, http),
        )
    )
    return ReconciliationRead.of(report)
