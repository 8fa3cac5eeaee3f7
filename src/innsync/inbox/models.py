"""Table: the inbox, where every inbound webhook or pulled revision is kept raw before use."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, UtcDateTime, utcnow

WEBHOOK = "webhook"
PULL = "pull"

PENDING = "pending"
APPLIED = "applied"
REJECTED = "rejected"
PARKED = "parked"
IGNORED = "ignored"
STATUSES = (PENDING, APPLIED, REJECTED, PARKED, IGNORED)

# MariaDB's BLOB holds 64 KB; a webhook may be up to the ingress limit (1 MB).
RAW_BODY = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


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
    body: Mapped[bytes] = mapped_column(RAW_BODY)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A pending item is not taken before this time: a processor's lease, or a retry's backoff.
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
