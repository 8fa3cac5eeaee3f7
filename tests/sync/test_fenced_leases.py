"""Two workers and a channel that answers after a bucket's lease would have run out.

A worker renews its lease while a call is on the wire, so a second worker cannot take the bucket
from a live one; and when a worker did lose its bucket (it stalled: no heartbeat), nothing it is
answered afterwards is recorded as acknowledged. Each test ends by comparing what the channel
holds with what innsync records as acknowledged, over the whole horizon, and with innsync's
desired state.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from innsync.channels.fake import FakeChannel
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
)
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.properties.models import Property
from innsync.properties.service import horizon
from innsync.sync.desired import load_mappings
from innsync.sync.models import AckedRate, BucketLease
from innsync.sync.state import DirtySet, acked_availability, acked_rates
from innsync.sync.worker import DEFAULT_LEASE, SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel

# The fake channel's window and a second: every budget has room again after it.
WINDOW = 61.0


class SlowChannel:
    """The hotel's fake channel behind a wire the test controls: a held call waits for the test,
    either after it reached the channel (the answer is slow) or before (the request is slow)."""

    name = "fake"

    def __init__(self, channel: FakeChannel) -> None:
        self.channel = channel
        self.hold_next = False
        self.lands_before_waiting = True
        self.in_flight = asyncio.Event()
        self.answer = asyncio.Event()

    @property
    def limits(self) -> ChannelLimits:
        return self.channel.limits

    async def test_connection(self) -> None:
        return None

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        return await self._call(lambda: self.channel.push_availability(request))

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        return await self._call(lambda: self.channel.push_rates(request))

    async def _call(self, send: Any) -> PushResult:
        if not self.hold_next:
            result: PushResult = await send()
            return result
        self.hold_next = False
        if self.lands_before_waiting:
            result = await send()
            self.in_flight.set()
            await self.answer.wait()
            return result
        self.in_flight.set()
        await self.answer.wait()
        result = await send()
        return result


def acked_over_horizon(
    hotel: SyncedHotel,
) -> tuple[dict[str, dict[date, int]], dict[RatePlanKey, dict[date, RateValues]]]:
    """What innsync records as acknowledged on the hotel's connection, over the horizon."""
    with hotel.sessions() as session:
        mappings = load_mappings(session, session.get_one(Connection, hotel.connection_id))
        window = [horizon(session.get_one(Property, hotel.property_id), hotel.clock())]
        dirty = DirtySet(ranges=dict.fromkeys([*hotel.room_type_ids, *hotel.rate_plan_ids], window))
        return (
            acked_availability(session, hotel.connection_id, mappings, dirty),
            acked_rates(session, hotel.connection_id, mappings, dirty),
        )


def assert_acked_is_what_the_channel_holds(hotel: SyncedHotel) -> None:
    acked_units, acked_prices = acked_over_horizon(hotel)
    assert hotel.channel.availability_state() == acked_units
    assert hotel.channel.rates_state() == acked_prices
    desired_units, desired_prices = hotel.desired()
    assert hotel.channel.availability_state() == desired_units
    assert hotel.channel.rates_state() == desired_prices


def set_price(hotel: SyncedHotel, price: str) -> None:
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": hotel.day(10),
            "date_to": hotel.day(10),
            "price": price,
        }
    )


def price_on_channel(hotel: SyncedHotel) -> str:
    key = next(iter(sorted(hotel.channel.rates_state())))
    day = date.fromisoformat(hotel.day(10))
    return str(hotel.channel.rates_state()[key][day].price)


def two_workers(
    hotel: SyncedHotel, *, heartbeat_seconds: float
) -> tuple[SyncWorker, SyncWorker, SlowChannel]:
    slow = SlowChannel(hotel.channel)
    first = SyncWorker(
        hotel.sessions,
        lambda _connection: slow,
        clock=hotel.clock,
        holder="worker-a",
        heartbeat_seconds=heartbeat_seconds,
    )
    second = SyncWorker(
        hotel.sessions, lambda _connection: hotel.channel, clock=hotel.clock, holder="worker-b"
    )
    return first, second, slow


@pytest.mark.parametrize("stale_lands_last", [False, True], ids=["slow-answer", "slow-request"])
def test_a_worker_that_lost_its_bucket_records_nothing(
    db: Db, secret_box: SecretBox, stale_lands_last: bool
) -> None:
    """Worker A stalls (its heartbeat never comes) while its call is slow; B takes the bucket
    and sends a newer price. Whichever request lands last, A records nothing of its answer, and
    the dates it sent are sent again, so the channel ends with innsync's values and innsync's
    acknowledged state is exactly what the channel holds."""
    hotel = build_hotel(db.sessions, secret_box, Clock())
    asyncio.run(hotel.drain())
    hotel.clock.advance(WINDOW)  # the rates budget's next request goes at once
    # A heartbeat of an hour in a test of milliseconds: a worker stalled mid-call.
    worker_a, worker_b, slow = two_workers(hotel, heartbeat_seconds=3600)
    slow.lands_before_waiting = not stale_lands_last

    async def scenario() -> int:
        set_price(hotel, "201.00")
        slow.hold_next = True
        first_pass = asyncio.create_task(worker_a.run_once())
        await slow.in_flight.wait()
        hotel.clock.advance(DEFAULT_LEASE.total_seconds() + 1)  # A's lease runs out
        set_price(hotel, "302.00")
        sent_by_b = await worker_b.run_once()
        slow.answer.set()
        await first_pass
        return sent_by_b

    assert asyncio.run(scenario()) == 1  # B took the bucket and sent the newer price
    assert price_on_channel(hotel) == ("201.00" if stale_lands_last else "302.00")
    with db.sessions() as session:
        # A's answer was not recorded: the date it sent is forgotten and marked again.
        plan_acked = session.scalar(
            select(func.count()).where(
                AckedRate.connection_id == hotel.connection_id,
                AckedRate.rate_plan_id == hotel.rate_plan_ids[0],
                AckedRate.stay_date == date.fromisoformat(hotel.day(10)),
            )
        )
        assert plan_acked == 0
    hotel.worker = worker_b
    hotel.clock.advance(1)
    asyncio.run(hotel.drain())
    assert price_on_channel(hotel) == "302.00"
    assert_acked_is_what_the_channel_holds(hotel)


def test_the_new_holder_records_nothing_when_a_stale_request_landed_after_its_own(
    db: Db, secret_box: SecretBox
) -> None:
    """A stalls; B takes the bucket and its newer price lands, but B's answer is slow; then A's
    stale request lands and A is answered. B's answer must not be recorded: the channel holds
    A's price, not B's. A voids B's token, so both dates are sent once more, and the channel
    ends with innsync's price."""
    hotel = build_hotel(db.sessions, secret_box, Clock())
    asyncio.run(hotel.drain())
    hotel.clock.advance(WINDOW)  # the rates budget's next request goes at once
    slow_a, slow_b = SlowChannel(hotel.channel), SlowChannel(hotel.channel)
    slow_a.lands_before_waiting = False  # A's request is on the wire until released
    worker_a = SyncWorker(
        hotel.sessions,
        lambda _connection: slow_a,
        clock=hotel.clock,
        holder="worker-a",
        heartbeat_seconds=3600,
    )
    worker_b = SyncWorker(
        hotel.sessions,
        lambda _connection: slow_b,
        clock=hotel.clock,
        holder="worker-b",
        heartbeat_seconds=3600,
    )

    async def scenario() -> None:
        set_price(hotel, "201.00")
        slow_a.hold_next = True
        pass_a = asyncio.create_task(worker_a.run_once())
        await slow_a.in_flight.wait()
        hotel.clock.advance(DEFAULT_LEASE.total_seconds() + 1)
        set_price(hotel, "302.00")
        slow_b.hold_next = True
        pass_b = asyncio.create_task(worker_b.run_once())
        await slow_b.in_flight.wait()  # B's newer price is on the channel; its answer waits
        assert price_on_channel(hotel) == "302.00"
        slow_a.answer.set()
        await pass_a  # A's stale price lands last, and A is answered
        assert price_on_channel(hotel) == "201.00"
        slow_b.answer.set()
        await pass_b

    asyncio.run(scenario())
    with db.sessions() as session:
        recorded = session.scalar(
            select(func.count()).where(
                AckedRate.connection_id == hotel.connection_id,
                AckedRate.rate_plan_id == hotel.rate_plan_ids[0],
                AckedRate.stay_date == date.fromisoformat(hotel.day(10)),
            )
        )
    assert recorded == 0  # neither A's nor B's answer was recorded for the date
    worker_c = SyncWorker(
        hotel.sessions, lambda _connection: hotel.channel, clock=hotel.clock, holder="worker-c"
    )
    hotel.worker = worker_c
    hotel.clock.advance(1)
    asyncio.run(hotel.drain())
    assert price_on_channel(hotel) == "302.00"
    assert_acked_is_what_the_channel_holds(hotel)


def test_the_lease_is_renewed_while_a_call_is_in_flight(db: Db, secret_box: SecretBox) -> None:
    """A call slower than the lease: A's heartbeat keeps the bucket, so B takes nothing from
    it, and A records the answer when it comes."""
    hotel = build_hotel(db.sessions, secret_box, Clock())
    asyncio.run(hotel.drain())
    hotel.clock.advance(WINDOW)  # the rates budget's next request goes at once
    worker_a, worker_b, slow = two_workers(hotel, heartbeat_seconds=0.01)

    async def scenario() -> int:
        set_price(hotel, "233.00")
        slow.hold_next = True
        first_pass = asyncio.create_task(worker_a.run_once())
        await slow.in_flight.wait()
        for _ in range(3):  # three leases pass while the call is on the wire
            hotel.clock.advance(DEFAULT_LEASE.total_seconds() - 1)
            await asyncio.sleep(0.1)  # the heartbeat renews
        set_price(hotel, "344.00")
        sent_by_b = await worker_b.run_once()
        slow.answer.set()
        await first_pass
        return sent_by_b

    assert asyncio.run(scenario()) == 0
    with db.sessions() as session:
        holders = list(session.scalars(select(BucketLease.holder)))
    assert holders == [None]  # A served the bucket to the end and released it
    assert price_on_channel(hotel) == "233.00"
    hotel.worker = worker_a
    hotel.clock.advance(1)
    asyncio.run(hotel.drain())
    assert price_on_channel(hotel) == "344.00"
    assert_acked_is_what_the_channel_holds(hotel)
    assert [request.request.kind for request in hotel.channel.requests[-2:]] == ["rates"] * 2
    assert {request.outcome for request in hotel.channel.requests} == {"accepted"}
