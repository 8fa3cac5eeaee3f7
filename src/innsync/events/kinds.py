"""The kinds of events the PMS can be told about."""

from __future__ import annotations

RESERVATION_CREATED = "reservation.created"
RESERVATION_MODIFIED = "reservation.modified"
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_CONFLICT = "reservation.conflict"
# A channel refused a direct booking innsync pushed to it (sync/bookings.py).
RESERVATION_PUSH_FAILED = "reservation.push_failed"
RESERVATION_CONFLICT_RESOLVED = "reservation.conflict_resolved"
OVERBOOKING = "inventory.overbooking"
CONNECTION_NEEDS_ATTENTION = "connection.needs_attention"
CONNECTION_CHANNEL_NOTICE = "connection.channel_notice"
SYNC_FAILING = "sync.failing"
# Installation-wide: a scheduled backup failed; told to every tenant, whose data it holds.
BACKUP_FAILING = "backup.failing"
# An alert rule's condition began to hold, or cleared (innsync.alerts).
ALERT_OPENED = "alert.opened"
ALERT_RESOLVED = "alert.resolved"
# A marketplace booking (to a property whose ARI comes from a connection) moved on its way to
# the hotel: queued, taken by the hotel's system, accepted by the hotel, or never will be.
MARKETPLACE_BOOKING_PENDING = "marketplace.booking_pending"
MARKETPLACE_BOOKING_PUSHED = "marketplace.booking_pushed"
MARKETPLACE_BOOKING_CONFIRMED = "marketplace.booking_confirmed"
MARKETPLACE_BOOKING_FAILED = "marketplace.booking_failed"

ALL_KINDS = (
    RESERVATION_CREATED,
    RESERVATION_MODIFIED,
    RESERVATION_CANCELLED,
    RESERVATION_CONFLICT,
    RESERVATION_PUSH_FAILED,
    RESERVATION_CONFLICT_RESOLVED,
    OVERBOOKING,
    CONNECTION_NEEDS_ATTENTION,
    CONNECTION_CHANNEL_NOTICE,
    SYNC_FAILING,
    BACKUP_FAILING,
    ALERT_OPENED,
    ALERT_RESOLVED,
    MARKETPLACE_BOOKING_PENDING,
    MARKETPLACE_BOOKING_PUSHED,
    MARKETPLACE_BOOKING_CONFIRMED,
    MARKETPLACE_BOOKING_FAILED,
)
