"""Blocks, the inventory ledger and availability = units - sold - blocked."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.errors import FieldProblem, InvalidInputError
from innsync.inventory.models import CHANNEL_CLOSED, Block, InventoryLedgerDay
from innsync.inventory.schemas import (
    AvailabilityDay,
    AvailabilityRead,
    BlockCreate,
    BlockRead,
    RoomTypeAvailability,
)
from innsync.marketplace.models import ChannelAvailabilityDay
from innsync.outbox.marks import mark_availability
from innsync.properties.models import Property, RoomType
from innsync.properties.service import check_pms_owns_ari, get_owned, horizon
from innsync.stay_dates import DateRange

MAX_READ_DAYS = 750


@dataclass(frozen=True, slots=True)
class DayCount:
    """Inventory of one room type on one stay date."""

    units: int
    sold: int
    blocked: int

    @property
    def free(self) -> int:
        """May be negative: that is an overbooking, shown, never hidden."""
        return self.units - self.sold - self.blocked


def add_block(
    session: Session, room_type: RoomType, dates: DateRange, units: int, kind: str, reason: str
) -> Block:
    """Take units out of sale, under the room type's lock like every booking.

    A booking checks its free units and moves the ledger under that lock, so it sees a block
    either committed (and is refused, or flagged overbooked when a channel sent it) or not yet
    begun; never a block that commits between its check and its write. The foreign key check on
    ``blocks.room_type_id`` happens to lock the row too on PostgreSQL and MariaDB; this lock says
    so on purpose and does not depend on it.
    """
    lock_room_types(session, [room_type.id])
    block = Block(
        tenant_id=room_type.tenant_id,
        room_type_id=room_type.id,
        start=dates.start,
        end=dates.end,
        units=units,
        kind=kind,
        reason=reason,
    )
    session.add(block)
    mark_availability(session, room_type.property_id, [room_type.id], [dates])
    session.flush()
    return block


def create_block(
    session: Session, tenant_id: uuid.UUID, room_type_id: uuid.UUID, data: BlockCreate
) -> Block:
    room_type = get_owned(session, RoomType, tenant_id, room_type_id)
    check_pms_owns_ari(session, room_type.property_id)
    lock_room_types(session, [room_type.id])  # sellable_units as bookings see it
    window = horizon(session.get_one(Property, room_type.property_id))
    dates = data.to_range()
    if dates.start < window.start or dates.end > window.end:
        raise InvalidInputError(
            f"dates must lie within {window.start} .. {window.last} "
            "(yesterday to the property's horizon)",
            [FieldProblem("/date_from", "outside the property's horizon")],
        )
    if data.units > room_type.sellable_units:
        raise InvalidInputError(
            f"cannot block more than the room type's {room_type.sellable_units} units"
        )
    return add_block(session, room_type, data.to_range(), data.units, data.kind, data.reason)


def replace_channel_blocks(
    session: Session,
    connection_id: uuid.UUID,
    room_type: RoomType,
    ranges: Iterable[DateRange],
    reason: str,
) -> int:
    """Make the connection's blocks on the room type exactly ``ranges``, one unit each, under
    the room type's lock; only what changed is written and marked. Returns how many changed."""
    lock_room_types(session, [room_type.id])
    wanted = {(dates.start, dates.end) for dates in ranges}
    held = {
        (block.start, block.end): block
        for block in session.scalars(
            select(Block).where(
                Block.connection_id == connection_id, Block.room_type_id == room_type.id
            )
        )
    }
    changed = [DateRange(*key) for key in held.keys() ^ wanted]
    for key in held.keys() - wanted:
        session.delete(held[key])
    for start, end in sorted(wanted - held.keys()):
        session.add(
            Block(
                tenant_id=room_type.tenant_id,
                room_type_id=room_type.id,
                start=start,
                end=end,
                units=1,
                kind=CHANNEL_CLOSED,
                reason=reason,
                connection_id=connection_id,
            )
        )
    if changed:
        mark_availability(session, room_type.property_id, [room_type.id], changed)
        session.flush()
    return len(changed)


def list_blocks(session: Session, tenant_id: uuid.UUID, room_type_id: uuid.UUID) -> list[Block]:
    get_owned(session, RoomType, tenant_id, room_type_id)
    query = select(Block).where(Block.room_type_id == room_type_id).order_by(Block.start)
    return list(session.scalars(query))


def delete_block(session: Session, tenant_id: uuid.UUID, block_id: uuid.UUID) -> Block:
    block = get_owned(session, Block, tenant_id, block_id)
    check_pms_owns_ari(session, session.get_one(RoomType, block.room_type_id).property_id)
    (room_type,) = lock_room_types(session, [block.room_type_id])
    mark_availability(
        session, room_type.property_id, [room_type.id], [DateRange(block.start, block.end)]
    )
    session.delete(block)
    session.flush()
    return block


def block_read(block: Block) -> BlockRead:
    dates = DateRange(block.start, block.end)
    return BlockRead(
        id=block.id,
        room_type_id=block.room_type_id,
        date_from=dates.start,
        date_to=dates.last,
        units=block.units,
        kind=block.kind,
        reason=block.reason,
        connection_id=block.connection_id,
    )


def day_counts(
    session: Session, room_types: Iterable[RoomType], dates: DateRange
) -> dict[uuid.UUID, dict[date, DayCount]]:
    """Units, sold and blocked per room type and date, in two queries."""
    by_id = {room_type.id: room_type for room_type in room_types}
    sold: dict[tuple[uuid.UUID, date], int] = {
        (row.room_type_id, row.stay_date): row.sold
        for row in session.scalars(
            select(InventoryLedgerDay).where(
                InventoryLedgerDay.room_type_id.in_(list(by_id)),
                InventoryLedgerDay.stay_date >= dates.start,
                InventoryLedgerDay.stay_date < dates.end,
            )
        )
    }
    blocked: Counter[tuple[uuid.UUID, date]] = Counter()
    blocks = session.scalars(
        select(Block).where(
            Block.room_type_id.in_(list(by_id)), Block.start < dates.end, Block.end > dates.start
        )
    )
    for block in blocks:
        overlap = DateRange(block.start, block.end).intersection(dates)
        for day in overlap or ():
            blocked[(block.room_type_id, day)] += block.units
    return {
        room_type_id: {
            day: DayCount(
                units=room_type.sellable_units,
                sold=sold.get((room_type_id, day), 0),
                blocked=blocked[(room_type_id, day)],
            )
            for day in dates
        }
        for room_type_id, room_type in by_id.items()
    }


def read_availability(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID, dates: DateRange
) -> AvailabilityRead:
    if dates.nights > MAX_READ_DAYS:
        raise InvalidInputError(f"read at most {MAX_READ_DAYS} days at a time")
    get_owned(session, Property, tenant_id, property_id)
    room_types = list(
        session.scalars(
            select(RoomType)
            .where(RoomType.property_id == property_id, RoomType.tenant_id == tenant_id)
            .order_by(RoomType.code)
        )
    )
    counts = day_counts(session, room_types, dates)
    reported = {
        (row.room_type_id, row.stay_date): row
        for row in session.scalars(
            select(ChannelAvailabilityDay).where(
                ChannelAvailabilityDay.room_type_id.in_([room_type.id for room_type in room_types]),
                ChannelAvailabilityDay.stay_date >= dates.start,
                ChannelAvailabilityDay.stay_date < dates.end,
            )
        )
    }
    return AvailabilityRead(
        property_id=property_id,
        room_types=[
            RoomTypeAvailability(
                room_type_id=room_type.id,
                code=room_type.code,
                days=[
                    AvailabilityDay(
                        stay_date=day,
                        units=count.units,
                        sold=count.sold,
                        blocked=count.blocked,
                        available=max(count.free, 0),
                        overbooked_by=max(-count.free, 0),
                        **_reported(reported.get((room_type.id, day))),
                    )
                    for day, count in counts[room_type.id].items()
                ],
            )
            for room_type in room_types
        ],
    )


def _reported(row: ChannelAvailabilityDay | None) -> dict[str, Any]:
    """What the property's ARI source reported for the day, and when (marketplace/)."""
    if row is None:
        return {}
    return {
        "channel_available": row.available,
        "source_connection_id": row.connection_id,
        "source_updated_at": row.updated_at,
    }


def lock_room_types(session: Session, room_type_ids: Iterable[uuid.UUID]) -> list[RoomType]:
    """Lock the room types' rows, in id order so two bookings never wait on each other in a loop.

    Every change to a room type's ledger or blocks takes this lock first, which makes the check
    of free units and the ledger update one atomic step on PostgreSQL and MariaDB. SQLite needs
    no row lock: its transactions start with the single write lock (BEGIN IMMEDIATE).
    """
    ids = sorted(set(room_type_ids))
    if not ids:
        return []
    query = (
        select(RoomType)
        .where(RoomType.id.in_(ids))
        .order_by(RoomType.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def move_ledger(session: Session, deltas: Mapping[tuple[uuid.UUID, date], int]) -> None:
    """Add ``delta`` units sold per (room type, date); callers hold the room-type locks."""
    wanted = {key: delta for key, delta in deltas.items() if delta}
    if not wanted:
        return
    room_type_ids = {room_type_id for room_type_id, _ in wanted}
    days = [day for _, day in wanted]
    rows = {
        (row.room_type_id, row.stay_date): row
        for row in session.scalars(
            select(InventoryLedgerDay).where(
                InventoryLedgerDay.room_type_id.in_(list(room_type_ids)),
                InventoryLedgerDay.stay_date >= min(days),
                InventoryLedgerDay.stay_date <= max(days),
            )
        )
    }
    property_of = dict(
        session.execute(
            select(RoomType.id, RoomType.property_id).where(RoomType.id.in_(list(room_type_ids)))
        ).all()
    )
    touched = DateRange.inclusive(min(days), max(days))
    for room_type_id in room_type_ids:
        mark_availability(session, property_of[room_type_id], [room_type_id], [touched])
    for (room_type_id, day), delta in wanted.items():
        row = rows.get((room_type_id, day))
        if row is None:
            session.add(InventoryLedgerDay(room_type_id=room_type_id, stay_date=day, sold=delta))
        else:
            row.sold += delta
    session.flush()
