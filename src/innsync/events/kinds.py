"""The kinds of events the PMS can be told about."""

from __future__ import annotations

RESERVATION_CREATED = "reservation.created"
RESERVATION_MODIFIED = "reservation.modified"
RESERVATION_CANCELLED = "reservation.cancelled"
OVERBOOKING = "inventory.overbooking"
CONNECTION_NEEDS_ATTENTION = "connection.needs_attention"
SYNC_FAILING = "sync.failing"

ALL_KINDS = (
    RESERVATION_CREATED,
    RESERVATION_MODIFIED,
    RESERVATION_CANCELLED,
    OVERBOOKING,
    CONNECTION_NEEDS_ATTENTION,
    SYNC_FAILING,
)
