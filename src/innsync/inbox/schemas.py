"""API shapes of the operator's inbox tools: triage, forced pulls and the reconciliation report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from innsync.inbox.forced_pull import ForcedPull
from innsync.inbox.reconciliation import Finding, Report, Side
from innsync.inbox.triage import RequeueResult
from innsync.properties.schemas import StrictModel

WaitingState = Literal["parked", "rejected"]
# A requeue names at most this many items, or matches at most this many by its filters.
MAX_REQUEUE = 1000


class InboxItemRead(BaseModel):
    """An inbox item that waits for a person; its body (guests' details) is never shown."""

    id: int
    connection_id: uuid.UUID
    source: str = Field(description="webhook | pull")
    status: str
    reason: str = Field(description="Why it is parked or rejected")
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    can_requeue: bool = Field(
        description="False for a rejected item that can never apply (see requeue's 409)"
    )


class InboxItemsPage(BaseModel):
    items: list[InboxItemRead]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )


class RequeueRequest(StrictModel):
    """Either ``ids`` (every one must be the tenant's; one that can never apply is a 409) or
    filters (matched items that can never apply are skipped and listed)."""

    ids: list[int] | None = Field(default=None, min_length=1, max_length=MAX_REQUEUE)
    connection_id: uuid.UUID | None = None
    state: WaitingState | None = None
    since: datetime | None = Field(default=None, description="Received at or after this time")
    limit: int = Field(default=MAX_REQUEUE, ge=1, le=MAX_REQUEUE)

    @model_validator(mode="after")
    def _ids_or_filters(self) -> RequeueRequest:
        if self.ids is not None and (
            self.connection_id is not None or self.state is not None or self.since is not None
        ):
            raise ValueError("give either ids or filters (connection_id, state, since), not both")
        return self


class RefusedItem(BaseModel):
    id: int
    reason: str


class RequeueRead(BaseModel):
    requeued: list[int] = Field(description="Back to pending, for the processor")
    unchanged: list[int] = Field(
        description="Already pending, or applied or ignored: nothing to do"
    )
    refused: list[RefusedItem] = Field(description="Can never apply (filters only)")

    @classmethod
    def of(cls, result: RequeueResult) -> RequeueRead:
        return cls(
            requeued=result.requeued,
            unchanged=result.unchanged,
            refused=[RefusedItem(id=key, reason=why) for key, why in result.refused.items()],
        )


class ForcedPullRead(BaseModel):
    channel_booking_id: str
    revision_id: str
    stored: bool = Field(description="False: the inbox already held this revision (nothing new)")
    inbox_item_id: int
    status: str = Field(description="The inbox item's status: pending until the processor runs")

    @classmethod
    def of(cls, pulled: ForcedPull) -> ForcedPullRead:
        return cls(
            channel_booking_id=pulled.channel_booking_id,
            revision_id=pulled.revision_id,
            stored=pulled.stored,
            inbox_item_id=pulled.inbox_item_id,
            status=pulled.status,
        )


class BookingSideRead(BaseModel):
    status: str
    arrival: date
    departure: date

    @classmethod
    def of(cls, side: Side | None) -> BookingSideRead | None:
        if side is None:
            return None
        return cls(status=side.status, arrival=side.arrival, departure=side.departure)


class FindingRead(BaseModel):
    channel_booking_id: str
    reservation_id: uuid.UUID | None
    channel: BookingSideRead | None = Field(description="As the channel holds it")
    innsync: BookingSideRead | None = Field(description="As innsync holds it")
    differences: list[str] = Field(
        description="missing_in_innsync, missing_on_channel, status (cancelled on one side "
        "only), arrival, departure"
    )

    @classmethod
    def of(cls, finding: Finding) -> FindingRead:
        return cls(
            channel_booking_id=finding.channel_booking_id,
            reservation_id=finding.reservation_id,
            channel=BookingSideRead.of(finding.channel),
            innsync=BookingSideRead.of(finding.innsync),
            differences=list(finding.differences),
        )


class ReconciliationRead(BaseModel):
    connection_id: uuid.UUID
    date_from: date = Field(description="First arrival date, included")
    date_to: date = Field(description="Last arrival date, included")
    channel_bookings: int = Field(description="Bookings the channel lists in the window")
    innsync_bookings: int = Field(description="innsync's reservations from it in the window")
    missing_in_innsync: list[FindingRead]
    missing_on_channel: list[FindingRead]
    differing: list[FindingRead]

    @classmethod
    def of(cls, report: Report) -> ReconciliationRead:
        return cls(
            connection_id=report.connection_id,
            date_from=report.arrivals.start,
            date_to=report.arrivals.last,
            channel_bookings=report.channel_bookings,
            innsync_bookings=report.innsync_bookings,
            missing_in_innsync=[FindingRead.of(f) for f in report.missing_in_innsync],
            missing_on_channel=[FindingRead.of(f) for f in report.missing_on_channel],
            differing=[FindingRead.of(f) for f in report.differing],
        )
