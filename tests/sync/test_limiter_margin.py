"""The limiter's margin is sized from the bucket's measured round trips, not a flat second."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from innsync.channels.fake import FakeChannel
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    PushRequest,
    PushResult,
    RateUpdate,
)
from innsync.crypto import SecretBox
from innsync.sync.limiter import (
    MARGIN_FLOOR_SECONDS,
    MARGIN_UNMEASURED_SECONDS,
    window_margin,
)
from innsync.sync.models import BucketLease
from innsync.sync.worker import ROUND_TRIPS, SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel

MORNING = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)
WIRE_SECONDS = 0.2


@pytest.mark.parametrize(
    ("window", "round_trips", "margin"),
    [
        (60.0, [], MARGIN_UNMEASURED_SECONDS),  # nothing measured yet: the old flat second
        (60.0, [0.02, 0.2, 0.1], 0.30000000000000004),  # 1.5 x the slowest
        (60.0, [0.001, 0.002], MARGIN_FLOOR_SECONDS),
        (60.0, [10.0], 6.0),  # never more than a tenth of the window
        (1.0, [0.5], 0.1),
    ],
)
def test_margin_from_round_trips(window: float, round_trips: list[float], margin: float) -> None:
    assert window_margin(window, round_trips) == margin


class SlowWire:
    """The fake channel behind a wire that takes at least ``WIRE_SECONDS`` each way round."""

    name = "fake"

    def __init__(self, channel: FakeChannel) -> None:
        self.channel = channel

    @property
    def limits(self) -> ChannelLimits:
        return self.channel.limits

    async def test_connection(self) -> None:
        return None

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        await asyncio.sleep(WIRE_SECONDS)
        return await self.channel.push_availability(request)

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        await asyncio.sleep(WIRE_SECONDS)
        return await self.channel.push_rates(request)


def saved_state(hotel: SyncedHotel) -> dict[str, object]:
    with hotel.sessions() as session:
        (state,) = session.scalars(select(BucketLease.limiter_state)).all()
        return dict(state)


@time_machine.travel(MORNING, tick=True)
def test_the_worker_counts_its_window_longer_by_the_measured_round_trips(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock(MORNING))
    wire = SlowWire(hotel.channel)
    hotel.worker = SyncWorker(db.sessions, lambda _c: wire, clock=hotel.clock, holder="measuring")
    asyncio.run(hotel.drain())
    state = saved_state(hotel)
    measured = state[ROUND_TRIPS]
    assert isinstance(measured, list)
    assert len(measured) == len(hotel.channel.requests) == 2
    assert all(seconds >= WIRE_SECONDS for seconds in measured)
    # The first pass had nothing measured: its limiters counted the flat second.
    window = hotel.channel.limits.window_seconds
    rates = state["rates"]
    assert isinstance(rates, dict)
    assert rates["window_seconds"] == window + MARGIN_UNMEASURED_SECONDS

    hotel.clock.advance(61)
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": hotel.day(10),
            "date_to": hotel.day(10),
            "price": "281.00",
        }
    )
    assert asyncio.run(hotel.worker.run_once()) == 1
    state = saved_state(hotel)
    rates = state["rates"]
    assert isinstance(rates, dict)
    # The next pass counts the window longer by what the round trips before it measured.
    assert rates["window_seconds"] == window + window_margin(window, measured)
    assert window_margin(window, measured) >= 1.5 * WIRE_SECONDS
    assert len(state[ROUND_TRIPS]) == 3  # type: ignore[arg-type]
