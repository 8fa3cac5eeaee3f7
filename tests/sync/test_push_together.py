"""Availability and rates of one pass handed to an adapter together (``PushesAriTogether``).

A fake channel that shares one budget takes both kinds in one ``push_ari`` call; the engine
records each side as if it had come alone (acks, dead letters, log, failures counted once).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from sqlalchemy import select

from innsync.channels.contract import capabilities_of
from innsync.channels.fake import FakeChannel
from innsync.channels.fake.config import CHANNEX_LIKE_LIMITS, FakeChannelConfig
from innsync.channels.types import AvailabilityUpdate, PushRequest, PushResult, RateUpdate
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.sync.models import DeadLetter, SyncLogEntry
from innsync.sync.worker import SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel

SHARED_BUDGET = dataclasses.replace(CHANNEX_LIKE_LIMITS, separate_budgets=False)


class TogetherChannel(FakeChannel):
    """The fake channel, able to take both kinds in one call (counted in ``together``)."""

    together = 0

    async def push_ari(
        self,
        availability: PushRequest[AvailabilityUpdate],
        rates: PushRequest[RateUpdate],
    ) -> tuple[PushResult, PushResult]:
        self.together += 1
        return await self.push_availability(availability), await self.push_rates(rates)


def together_hotel(db: Db, box: SecretBox, *, separate_budgets: bool = False) -> SyncedHotel:
    """The engine's test hotel, served by a ``TogetherChannel``."""
    hotel = build_hotel(db.sessions, box, Clock())
    limits = CHANNEX_LIKE_LIMITS if separate_budgets else SHARED_BUDGET
    channel = TogetherChannel(FakeChannelConfig(limits=limits), clock=hotel.clock.seconds)
    hotel.channel = channel
    hotel.worker = SyncWorker(
        db.sessions, lambda _connection: channel, clock=hotel.clock, holder="test-worker"
    )
    return hotel


def together_calls(hotel: SyncedHotel) -> int:
    assert isinstance(hotel.channel, TogetherChannel)
    return hotel.channel.together


def log_outcomes(db: Db) -> list[tuple[str, str]]:
    with db.sessions() as session:
        rows = session.execute(select(SyncLogEntry.kind, SyncLogEntry.outcome)).all()
    return sorted((kind, outcome) for kind, outcome in rows)


def assert_channel_matches_innsync(hotel: SyncedHotel) -> None:
    availability, rates = hotel.desired()
    assert hotel.channel.availability_state() == availability
    assert hotel.channel.rates_state() == rates


def test_a_full_sync_is_one_call_carrying_both_kinds(db: Db, secret_box: SecretBox) -> None:
    hotel = together_hotel(db, secret_box)
    assert "pushes_ari_together" in capabilities_of(hotel.channel)
    assert asyncio.run(hotel.worker.run_once()) == 1  # one adapter call in the pass
    assert together_calls(hotel) == 1
    assert [request.kind for request in hotel.channel.requests] == ["availability", "rates"]
    assert hotel.pending() == 0
    assert log_outcomes(db) == [("availability", "accepted"), ("rates", "accepted")]
    assert_channel_matches_innsync(hotel)


def test_a_lone_kind_goes_alone(db: Db, secret_box: SecretBox) -> None:
    hotel = together_hotel(db, secret_box)
    asyncio.run(hotel.drain())
    before = len(hotel.channel.requests)
    with transaction(db.sessions) as session:
        create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(
                arrival=hotel.clock().date() + timedelta(days=3),
                departure=hotel.clock().date() + timedelta(days=5),
                rooms=[RoomIn(room_type_id=hotel.room_type_ids[0], adults=2, amount=200)],
            ),
        )
    asyncio.run(hotel.drain())
    assert together_calls(hotel) == 1  # only the full sync's
    assert [(r.kind, r.entry_count) for r in hotel.channel.requests[before:]] == [
        ("availability", 1)
    ]
    assert_channel_matches_innsync(hotel)


def test_refusals_of_one_side_are_that_sides_dead_letters(db: Db, secret_box: SecretBox) -> None:
    hotel = together_hotel(db, secret_box)
    hotel.channel.reject_entries(
        lambda update: (
            "closed by the channel" if getattr(update, "rate_plan_code", "") == "P3" else None
        )
    )
    asyncio.run(hotel.worker.run_once())
    assert together_calls(hotel) == 1
    with db.sessions() as session:
        letters = list(session.scalars(select(DeadLetter)))
    assert {letter.kind for letter in letters} == {"rates"}
    assert {letter.subject_id for letter in letters} == {hotel.rate_plan_ids[3]}
    assert log_outcomes(db) == [("availability", "accepted"), ("rates", "partial")]
    assert hotel.pending() == 0  # everything was answered


def test_a_failed_call_logs_both_sides_and_counts_one_failure(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = together_hotel(db, secret_box)
    hotel.channel.fail_next(1, "unavailable", retry_after=30)
    asyncio.run(hotel.worker.run_once())
    assert log_outcomes(db) == [("availability", "unavailable"), ("rates", "unavailable")]
    with db.sessions() as session:
        assert session.get_one(Connection, hotel.connection_id).consecutive_failures == 1
    assert hotel.pending() > 0  # the work is kept
    asyncio.run(hotel.drain(step_seconds=60))
    assert together_calls(hotel) == 2
    assert_channel_matches_innsync(hotel)


def test_kinds_with_separate_budgets_are_never_paired(db: Db, secret_box: SecretBox) -> None:
    hotel = together_hotel(db, secret_box, separate_budgets=True)
    asyncio.run(hotel.drain())
    assert together_calls(hotel) == 0
    assert [request.kind for request in hotel.channel.requests] == ["availability", "rates"]
    assert_channel_matches_innsync(hotel)
