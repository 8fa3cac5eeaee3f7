"""Recovery after faults: a killed worker's bucket is served again within one short lease, and
an open breaker probes the channel with one request instead of sleeping out a long pause."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from innsync.backoff import Backoff
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.models import Event
from innsync.sync import leases
from innsync.sync.pusher import (
    BREAKER_FIRST_PAUSE,
    BREAKER_MAX_PAUSE,
    BREAKER_THRESHOLD,
    breaker_pause,
)
from innsync.sync.worker import DEFAULT_LEASE, SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel

# Minutes pass below: a fixed morning, so the property's day never changes during a test.
MORNING = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


def set_price(hotel: SyncedHotel, price: str) -> None:
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": hotel.day(10),
            "date_to": hotel.day(10),
            "price": price,
        }
    )


def breaker(hotel: SyncedHotel) -> tuple[int, datetime | None]:
    with hotel.sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        return connection.consecutive_failures, connection.breaker_open_until


@time_machine.travel(MORNING, tick=True)
def test_a_killed_workers_bucket_is_served_again_one_lease_later(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock(MORNING))
    asyncio.run(hotel.drain())
    hotel.clock.advance(61)  # a fresh rate-limit window
    set_price(hotel, "251.00")
    with transaction(db.sessions) as session:
        # A worker claims the bucket and is killed before it sends or renews anything.
        keys = leases.buckets_with_work(session)
        claimed = leases.claim(session, "killed", keys, hotel.clock(), DEFAULT_LEASE, 8)
        assert [lease.bucket_key for lease in claimed] == keys
    before = len(hotel.channel.requests)

    hotel.clock.advance(DEFAULT_LEASE.total_seconds() - 1)
    assert asyncio.run(hotel.worker.run_once()) == 0
    hotel.clock.advance(2)
    assert asyncio.run(hotel.worker.run_once()) == 1
    assert [request.kind for request in hotel.channel.requests[before:]] == ["rates"]
    assert hotel.pending() == 0
    assert timedelta(seconds=10) >= DEFAULT_LEASE  # "within seconds", not minutes


def test_breaker_pauses_double_from_seconds_to_the_cap() -> None:
    assert breaker_pause(BREAKER_THRESHOLD) == BREAKER_FIRST_PAUSE
    assert breaker_pause(BREAKER_THRESHOLD + 1) == 2 * BREAKER_FIRST_PAUSE
    assert breaker_pause(BREAKER_THRESHOLD + 2) == 4 * BREAKER_FIRST_PAUSE
    assert breaker_pause(BREAKER_THRESHOLD + 6) == BREAKER_MAX_PAUSE
    assert breaker_pause(10**9) == BREAKER_MAX_PAUSE


@time_machine.travel(MORNING, tick=True)
def test_an_open_breaker_sends_one_probe_and_closes_when_it_is_answered(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock(MORNING))
    asyncio.run(hotel.drain())
    hotel.clock.advance(61)
    # The bucket's own backoff made negligible: only the breaker decides when to try again.
    worker = SyncWorker(
        db.sessions,
        lambda _connection: hotel.channel,
        clock=hotel.clock,
        holder="probe-worker",
        backoff=Backoff(base_seconds=0.001, cap_seconds=0.001),
    )
    hotel.worker = worker
    set_price(hotel, "252.00")
    hotel.channel.fail_next(BREAKER_THRESHOLD + 1, "unavailable")
    sent = len(hotel.channel.requests)
    # Passes far enough apart that the limiter's bucket has a token for each (limiter.py).
    for attempt in range(BREAKER_THRESHOLD):
        if attempt:
            hotel.clock.advance(10)
        asyncio.run(worker.run_once())
    # Two seconds on: the probe after the pause then comes 7 s after the last request, past
    # the rates budget's even pace (one request per 6 s and its margin).
    hotel.clock.advance(2)
    assert len(hotel.channel.requests) - sent == BREAKER_THRESHOLD
    failures, open_until = breaker(hotel)
    assert failures == BREAKER_THRESHOLD
    assert open_until == hotel.clock() - timedelta(seconds=2) + BREAKER_FIRST_PAUSE

    # Open: nothing is sent until the pause is over.
    assert asyncio.run(worker.run_once()) == 0
    hotel.clock.advance(BREAKER_FIRST_PAUSE.total_seconds())
    # Half-open: exactly one request, which fails; open again for twice as long.
    sent = len(hotel.channel.requests)
    asyncio.run(worker.run_once())
    assert [r.outcome for r in hotel.channel.requests[sent:]] == ["unavailable"]
    failures, open_until = breaker(hotel)
    assert (failures, open_until) == (
        BREAKER_THRESHOLD + 1,
        hotel.clock() + 2 * BREAKER_FIRST_PAUSE,
    )
    hotel.clock.advance(BREAKER_FIRST_PAUSE.total_seconds())
    assert asyncio.run(worker.run_once()) == 0  # still open
    hotel.clock.advance(BREAKER_FIRST_PAUSE.total_seconds())
    # The next probe is answered: the breaker closes and the change goes out in that pass.
    sent = len(hotel.channel.requests)
    assert asyncio.run(worker.run_once()) == 1
    assert [r.outcome for r in hotel.channel.requests[sent:]] == ["accepted"]
    assert breaker(hotel) == (0, None)
    assert hotel.pending() == 0
    with db.sessions() as session:
        assert list(session.scalars(select(Event.kind))) == ["sync.failing"]
    assert hotel.channel.rates_state() == hotel.desired()[1]
