"""Prometheus metrics of the inbound side: pulls, bookings received, what they did, the queue.

Bookings, overbookings and conflicts are counted after the transaction that applied them
commits, so a rolled-back item counts nothing; a pull once its turn is recorded. The gauges
are read from the database by the loops (``innsync.gauges``), not on scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from innsync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelUnavailableError,
    MappingMissingError,
)

PULLS = Counter(
    "innsync_inbox_pulls_total",
    "Turns of reading a connection's booking revisions (feed or pull), by outcome",
    ["channel", "outcome"],
)
ACCOUNT_FEED_UNPLACED = Counter(
    "innsync_account_feed_unplaced_total",
    "Revisions read from an account-wide feed for a property no connection on the account "
    "holds (left in the channel's feed, unacknowledged)",
)
BOOKINGS_RECEIVED = Counter(
    "innsync_bookings_received_total",
    "Channel booking revisions applied, by what they did to the reservation",
    ["channel", "kind"],
)
OVERBOOKINGS = Counter(
    "innsync_overbookings_total",
    "Channel revisions stored although they took units that were not free (flagged)",
    ["channel"],
)
CONFLICTS = Counter(
    "innsync_conflicts_total",
    "Channel revisions that contradicted a PMS change, by how the rules settled them",
    ["channel", "resolution"],
)
INBOX_ITEMS = Gauge(
    "innsync_inbox_items",
    "Inbox items waiting (pending) or needing a person (parked, rejected)",
    ["status"],
)
UNACKNOWLEDGED = Gauge(
    "innsync_inbox_unacknowledged",
    "Inbox items whose revisions the channel has not been told innsync holds",
    ["ack_status"],
)

# What an applied revision did (``reservations.channel.Outcome``) as a booking kind; duplicates
# ("unchanged", "stale") are not bookings received, conflicts are counted on their own.
BOOKING_KINDS = {"created": "new", "modified": "modify", "cancelled": "cancel"}
CONFLICT_RESOLUTIONS = {"conflict held": "held", "pms kept": "pms_kept"}


def error_outcome(error: BaseException) -> str:
    """A failed turn's outcome label: the channel error class, or ``error`` for anything else."""
    # Most specific first: throttled is a kind of unavailable.
    for kind, label in (
        (ChannelThrottledError, "throttled"),
        (ChannelUnavailableError, "unavailable"),
        (ChannelAuthError, "auth"),
        (MappingMissingError, "mapping_missing"),
        (ChannelRejectedError, "rejected"),
        (ChannelError, "channel_error"),
    ):
        if isinstance(error, kind):
            return label
    return "error"
