"""Table: the inbox, where every inbound webhook or pulled revision is kept raw before use."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, UtcDateTime, utcnow
from innsync.db.personal import EncryptedBytes


class InboxSource(StrEnum):
    """How an item came in; stored as these strings (``inbox_items.source``)."""

    WEBHOOK = "webhook"
    PULL = "pull"


class InboxStatus(StrEnum):
    """Where an item stands (see :class:`InboxItem`); stored as these strings."""

    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    PARKED = "parked"
    IGNORED = "ignored"


class AckStatus(StrEnum):
    """Acknowledgement of an item's revisions to the channel, after they are committed."""

    DUE = "due"
    DONE = "done"
    REFUSED = "refused"  # the channel said it will never take it (e.g. an unknown revision id)


WEBHOOK, PULL = InboxSource.WEBHOOK, InboxSource.PULL
PENDING, APPLIED = InboxStatus.PENDING, InboxStatus.APPLIED
REJECTED, PARKED, IGNORED = InboxStatus.REJECTED, InboxStatus.PARKED, InboxStatus.IGNORED
STATUSES = tuple(InboxStatus)
ACK_DUE, ACK_DONE, ACK_REFUSED = AckStatus.DUE, AckStatus.DONE, AckStatus.REFUSED


class InboxItem(Base):
    """One inbound message, stored as received and before it was answered.

    ``status`` moves from ``pending`` to ``applied`` (revisions stored), ``ignored`` (nothing
    new in it: stale revisions, a message without bookings), ``parked`` (waits for a person,
    e.g. an unmapped room code; re-queued when mappings change) or ``rejected`` (malformed, or
    failed verification at the door; kept for audit and never processed).
    """

    __tablename__ = "inbox_items"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key"),
        Index("ix_inbox_items_status_id", "status", "id"),
        Index("ix_inbox_items_connection_status", "connection_id", "status"),
        Index("ix_inbox_items_ack_status_not_before", "ack_status", "ack_not_before"),
        # The retention job's lookup: finished items older than the retention period.
        Index("ix_inbox_items_status_processed_at", "status", "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16))  # "webhook" | "pull"
    # Same key on one connection = the same message delivered again (see service.py).
    dedupe_key: Mapped[str] = mapped_column(String(128))
    # Request headers, lower-cased, with credentials replaced by "[redacted]".
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # As received, encrypted at rest: bookings carry guests' details.
    body: Mapped[bytes] = mapped_column(EncryptedBytes())
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A pending item is not taken before this time: a processor's lease, or a retry's backoff.
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Channels that want an acknowledgement get one per revision after the commit, and again
    # until they take it: ``ack_status`` is None (nothing to acknowledge), "due", "done" or
    # "refused"; ``ack_revision_ids`` are the revisions still to acknowledge.
    ack_status: Mapped[str | None] = mapped_column(String(16), default=None)
    ack_revision_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    ack_attempts: Mapped[int] = mapped_column(Integer, default=0)
    ack_not_before: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    ack_error: Mapped[str] = mapped_column(Text, default="")


class PullCursor(Base):
    """Where the pull reconciler of one connection stands, and when it reads the channel next.

    A reconciler claims the row (``next_pull_at`` moves past a lease) before it calls the
    channel, so two processes never pull the same connection at once.
    """

    __tablename__ = "pull_cursors"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    cursor: Mapped[str | None] = mapped_column(String(512), default=None)
    next_pull_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    last_pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class AccountPullCursor(Base):
    """Where the reading of a feed that covers a whole channel account stands (one row per
    operator account whose channel has such a feed, ``inbox.account_feeds``), claimed like a
    :class:`PullCursor`. Its connections' own turns then only do what is theirs alone."""

    __tablename__ = "account_pull_cursors"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[str | None] = mapped_column(String(512), default=None)
    next_pull_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    last_pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
