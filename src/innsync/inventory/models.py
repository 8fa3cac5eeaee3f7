"""Tables: the rate calendar (as runs of dates), blocks and the inventory ledger."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, Timestamps, UtcDateTime, UuidPk
from innsync.db.types import MONEY


class RateCalendarRun(Base):
    """A rate plan's own values over the stay dates ``[start_date, end_date)``.

    The calendar is stored as runs: consecutive dates holding the same values are one row, so a
    price set on 750 dates is one row, not 750 (``inventory/runs.py`` keeps them so). A plan's
    runs never overlap, a date without a run holds no values of its own, and no run is all
    NULL. NULL means "not set" (or inherited).
    """

    __tablename__ = "rate_calendar_runs"

    # Calendar values go with their plan; a plan with reservations or mappings cannot be deleted.
    rate_plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rate_plans.id", ondelete="CASCADE"), primary_key=True
    )
    start_date: Mapped[date] = mapped_column(Date, primary_key=True)
    end_date: Mapped[date] = mapped_column(Date)
    price: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
    # Per-person plans: {"1": "90.00", "2": "120.00"}, occupancy to price as decimal text.
    occupancy_prices: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    min_stay_arrival: Mapped[int | None] = mapped_column(Integer, default=None)
    min_stay_through: Mapped[int | None] = mapped_column(Integer, default=None)
    max_stay: Mapped[int | None] = mapped_column(Integer, default=None)
    closed_to_arrival: Mapped[bool | None] = mapped_column(Boolean, default=None)
    closed_to_departure: Mapped[bool | None] = mapped_column(Boolean, default=None)
    stop_sell: Mapped[bool | None] = mapped_column(Boolean, default=None)
    min_advance: Mapped[int | None] = mapped_column(Integer, default=None)
    max_advance: Mapped[int | None] = mapped_column(Integer, default=None)
    # Set when the values came from the property's ARI source connection (marketplace/): which
    # connection and when it last changed them; NULL for values the PMS wrote.
    source_connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connections.id", ondelete="SET NULL"), default=None
    )
    source_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


# The kind of a block that mirrors a channel's closed dates (``Block.connection_id``).
CHANNEL_CLOSED = "channel_closed"


class Block(UuidPk, Timestamps, Base):
    """Units of a room type taken out of sale over ``[start, end)``."""

    __tablename__ = "blocks"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    room_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("room_types.id", ondelete="CASCADE"), index=True
    )
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    units: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # "out_of_order" | "maintenance" | CHANNEL_CLOSED
    reason: Mapped[str] = mapped_column(Text, default="")
    # Set: the block mirrors dates a channel shows closed (an iCal "Not available"); that
    # connection's reads replace it, and it goes with the connection.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), default=None, index=True
    )


class InventoryLedgerDay(Base):
    """Units of a room type sold for one stay date, kept exact by the reservation transaction."""

    __tablename__ = "inventory_ledger"

    room_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("room_types.id", ondelete="CASCADE"), primary_key=True
    )
    stay_date: Mapped[date] = mapped_column(Date, primary_key=True)
    sold: Mapped[int] = mapped_column(Integer, default=0)
