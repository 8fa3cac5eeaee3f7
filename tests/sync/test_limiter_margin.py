"""The limiter's margin is sized from the bucket's measured round trips, not a flat second."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine, select, text

from innsync.channels.fake import FakeChannel
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    PushRequest,
    PushResult,
    RateUpdate,
)
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.sync import pusher
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


HOLD_SECONDS = 0.3


@pytest.mark.backends("sqlite")
@time_machine.travel(MORNING, tick=True)
def test_a_grant_is_taken_once_the_writer_lock_is_had_not_before_waiting_for_it(
    committed: Engine, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limiter's margin covers the round trip from the grant; a wait for SQLite's writer
    lock between the grant and the send would not be in it, and let two requests reach the
    channel closer than its window (a 429 in ``innsync bench change_latency``)."""
    sessions = session_factory(committed)
    hotel = build_hotel(sessions, secret_box, Clock(MORNING))
    started = time.monotonic()

    def wall() -> datetime:
        """The worker's clock: the hotel's morning, moving as real time does."""
        return MORNING + timedelta(seconds=time.monotonic() - started)

    hotel.worker = SyncWorker(sessions, lambda _c: hotel.channel, clock=wall, holder="granting")
    held, released = threading.Event(), []
    plan_rates = pusher.desired_rates

    def hold_the_lock() -> None:
        with committed.begin() as connection:  # BEGIN IMMEDIATE: the writer lock
            connection.execute(text("UPDATE properties SET name = name"))
            held.set()
            time.sleep(HOLD_SECONDS)
            released.append(wall().timestamp())

    def planning_while_another_writes(*args: Any, **kwargs: Any) -> Any:
        # The rates are planned in a read that does not wait; their grant comes next.
        if not held.is_set():
            threading.Thread(target=hold_the_lock).start()
            assert held.wait(5)
        return plan_rates(*args, **kwargs)

    monkeypatch.setattr(pusher, "desired_rates", planning_while_another_writes)
    asyncio.run(hotel.worker.run_once())

    state = saved_state(hotel)
    rates = state[hotel.channel.limits.budget_for("rates")]
    assert isinstance(rates, dict)
    assert released, "the writer never let go of the lock"
    # Granted after the other writer let go, not at the moment it started waiting for it.
    assert rates["grants"][-1] >= released[0]
    measured = state[ROUND_TRIPS]
    assert isinstance(measured, list)
    assert max(measured) < HOLD_SECONDS  # the lock wait came before the grant
