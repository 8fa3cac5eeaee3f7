"""The processor's lease follows the work in flight: a live processor keeps its items however
slow the channel is, and a killed one's items are taken over one (short) lease later."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from innsync.channels.contract import ChannelAdapter, ReceivesWebhooks
from innsync.channels.types import BookingCancellation, BookingRevision, ChannelNotice
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.timing import LEASE
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, booking, encode, make_hotel


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2027, 1, 11, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class HeldChannel:
    """The connection's own adapter behind a wire the test holds: the first webhook's decode
    (the channel fetch a real adapter may make) waits until the test lets it go."""

    def __init__(self, adapter: ChannelAdapter) -> None:
        assert isinstance(adapter, ReceivesWebhooks)
        self._adapter = adapter
        self.name = adapter.name
        self.limits = adapter.limits
        self.in_flight = asyncio.Event()
        self.go = asyncio.Event()

    async def test_connection(self) -> None:
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        assert isinstance(self._adapter, ReceivesWebhooks)
        self._adapter.verify_webhook(headers, body)

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[BookingRevision | BookingCancellation | ChannelNotice]:
        self.in_flight.set()
        await self.go.wait()
        assert isinstance(self._adapter, ReceivesWebhooks)
        return await self._adapter.parse_webhook(headers, body)


@pytest.fixture
def setup(db: Db, secret_box: SecretBox) -> tuple[Processing, Hotel]:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.commit()
    processing = Processing(db.sessions, secret_box)
    for code in ("B1", "B2"):
        assert processing.deliver(hotel.tokens[0], encode(booking(code))) == "stored"
    return processing, hotel


def statuses(db: Db) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(InboxItem.status).order_by(InboxItem.id)))


def held_adapter(processing: Processing, db: Db) -> HeldChannel:
    with db.sessions() as session:
        connection = session.scalars(select(Connection)).first()
        assert connection is not None
        return HeldChannel(processing.adapter_for(connection))


def test_a_killed_processors_items_are_taken_over_one_lease_later(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, _ = setup
    clock = Clock()
    held = held_adapter(processing, db)

    async def scenario() -> tuple[int, int]:
        killed = asyncio.create_task(
            process_pending(db.sessions, lambda _c: held, clock=clock)  # type: ignore[arg-type,return-value]
        )
        await held.in_flight.wait()
        killed.cancel()  # killed mid-fetch: nothing it claimed is settled or renewed again
        with pytest.raises(asyncio.CancelledError):
            await killed
        clock.advance(LEASE.total_seconds() - 1)
        before = await process_pending(db.sessions, processing.adapter_for, clock=clock)
        clock.advance(2)
        after = await process_pending(db.sessions, processing.adapter_for, clock=clock)
        return before, after

    assert asyncio.run(scenario()) == (0, 2)
    assert statuses(db) == ["applied", "applied"]
    assert timedelta(seconds=15) >= LEASE  # "within seconds": not the 120 s it used to be


def test_a_live_processor_keeps_its_items_while_the_channel_is_slow(
    setup: tuple[Processing, Hotel], db: Db
) -> None:
    processing, _ = setup
    clock = Clock()
    held = held_adapter(processing, db)

    async def scenario() -> tuple[int, int]:
        live = asyncio.create_task(
            process_pending(
                db.sessions,
                lambda _c: held,  # type: ignore[arg-type,return-value]
                clock=clock,
                heartbeat_seconds=0.01,
            )
        )
        await held.in_flight.wait()
        taken_by_other = 0
        for _ in range(3):  # three leases pass while the first item's fetch is on the wire
            clock.advance(LEASE.total_seconds() - 1)
            await asyncio.sleep(0.1)  # the heartbeat renews every held item
            taken_by_other += await process_pending(
                db.sessions, processing.adapter_for, clock=clock
            )
        held.go.set()
        return taken_by_other, await live

    assert asyncio.run(scenario()) == (0, 2)
    assert statuses(db) == ["applied", "applied"]
    with db.sessions() as session:
        assert list(session.scalars(select(InboxItem.attempts))) == [1, 1]
