"""Table: dirty marks, one per connection, subject and date range that must be looked at again."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, UtcDateTime, utcnow

AVAILABILITY = "availability"
RATES = "rates"


class DirtyMark(Base):
    """``[start, end)`` of a room type's availability or a rate plan's rates may differ from what
    the channel acknowledged. A mark says *where to look*, never *what to send*: the worker
    recomputes the values when it runs, so any number of marks collapse into one diff."""

    __tablename__ = "dirty_marks"
    __table_args__ = (Index("ix_dirty_marks_connection_kind", "connection_id", "kind"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "availability" | "rates"
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # room type or rate plan
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
