"""Tables of the marketplace side: which connection a property's ARI comes from, and the
availability that connection last reported."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, Timestamps, UtcDateTime, utcnow


class AriSource(Timestamps, Base):
    """A property whose room types, rate plans and ARI are written only by one connection.

    Deleting the connection deletes the row: the property's ARI is the PMS's again.
    """

    __tablename__ = "ari_sources"

    property_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("properties.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), unique=True
    )
    # The periodic pull (marketplace/pulls.py): due from this time; a gap left by a lost
    # webhook is repaired at the latest one interval later.
    next_pull_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    pull_error: Mapped[str] = mapped_column(Text, default="")
    # The channel's call quota, shared by pulls, booking pushes and status checks
    # (sync.limiter.SlidingWindowLimiter state), so no kind of call starves the others unseen.
    limiter_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ChannelAvailabilityDay(Base):
    """Units of a room type the source connection reported free on one stay date."""

    __tablename__ = "channel_availability"

    room_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("room_types.id", ondelete="CASCADE"), primary_key=True
    )
    stay_date: Mapped[date] = mapped_column(Date, primary_key=True)
    available: Mapped[int] = mapped_column(Integer)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
