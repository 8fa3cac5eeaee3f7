"""Property test of the outbound engine: whatever happens — changes, bookings, channel outages,
refused credentials, refused entries, worker crashes — the channel ends equal to innsync, no
request breaks the channel's limit, and nothing is sent that the channel already holds, but for
the dates a failed call may have changed."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from innsync.channels.types import AvailabilityUpdate, RatePlanKey, RateUpdate, RateValues
from innsync.connections.models import Connection
from innsync.connections.service import replay_dead_letters
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.errors import ConflictError
from innsync.inventory.availability import create_block
from innsync.inventory.schemas import BlockCreate
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.sync.worker import SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel

offsets = st.integers(0, 40)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("price"), st.integers(0, 3), offsets, st.integers(1, 8), st.integers(40, 400)
        ),
        st.tuples(
            st.just("restrict"),
            st.integers(0, 3),
            offsets,
            st.integers(1, 8),
            st.booleans(),
            st.integers(1, 4),
        ),
        st.tuples(st.just("book"), st.integers(0, 1), offsets, st.integers(1, 4)),
        st.tuples(
            st.just("block"), st.integers(0, 1), offsets, st.integers(1, 5), st.integers(1, 3)
        ),
        st.tuples(st.just("fail"), st.sampled_from(["unavailable", "auth"]), st.integers(1, 2)),
        st.tuples(st.just("refuse"), st.sampled_from(["P1", "P2"])),
        st.tuples(st.just("crash")),
        st.tuples(st.just("tick"), st.integers(1, 40)),
        st.tuples(st.just("burst"), st.integers(0, 3), st.integers(3, 14)),
        st.tuples(st.just("run")),
        st.tuples(st.just("run")),
    ),
    max_size=25,
)


class Shadow:
    """What the channel holds, rebuilt from what it accepted; checks nothing is sent twice,
    except what a failed call may have changed (a time-out or a 5xx can come after the channel
    took the call: innsync cannot know, so it sends those dates again whole)."""

    def __init__(self) -> None:
        self.availability: dict[str, dict[date, int]] = {}
        self.rates: dict[RatePlanKey, dict[date, RateValues]] = {}
        self.in_doubt: set[tuple[object, date]] = set()

    def fail(self, sent: AvailabilityUpdate | RateUpdate) -> None:
        self.in_doubt.update((_subject(sent), day) for day in sent.covered_dates())

    def accept(self, sent: AvailabilityUpdate | RateUpdate) -> None:
        for day in sent.covered_dates():
            doubted = (_subject(sent), day) in self.in_doubt
            self.in_doubt.discard((_subject(sent), day))
            if isinstance(sent, AvailabilityUpdate):
                held = self.availability.setdefault(sent.room_type_code, {})
                assert doubted or held.get(day) != sent.availability, f"resent availability {day}"
                held[day] = sent.availability
            else:
                held_rates = self.rates.setdefault(sent.rate_plan, {})
                before = held_rates.get(day, RateValues())
                for name in sent.values.fields():
                    assert doubted or getattr(before, name) != getattr(sent.values, name), (
                        f"resent {name} {day}"
                    )
                held_rates[day] = before.updated_with(sent.values)


def _subject(sent: AvailabilityUpdate | RateUpdate) -> object:
    return sent.room_type_code if isinstance(sent, AvailabilityUpdate) else sent.rate_plan


def apply(hotel: SyncedHotel, op: tuple[Any, ...], refused: set[str]) -> None:
    kind = op[0]
    today = hotel.clock().date()
    if kind == "price":
        _, plan, start, length, price = op
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[plan]),
                "date_from": hotel.day(start),
                "date_to": hotel.day(start + length),
                "price": f"{price}.00",
            }
        )
    elif kind == "restrict":
        _, plan, start, length, stop, stay = op
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[plan]),
                "date_from": hotel.day(start),
                "date_to": hotel.day(start + length),
                "stop_sell": stop,
                "min_stay_arrival": stay,
            }
        )
    elif kind == "book":
        _, room, start, nights = op
        try:
            with transaction(hotel.sessions) as session:
                create_direct(
                    session,
                    hotel.tenant_id,
                    hotel.property_id,
                    ReservationCreate(
                        arrival=today + timedelta(days=start),
                        departure=today + timedelta(days=start + nights),
                        rooms=[
                            RoomIn(room_type_id=hotel.room_type_ids[room], adults=1, amount=100)
                        ],
                    ),
                )
        except ConflictError:
            pass  # sold out: the PMS is told no, nothing changes
    elif kind == "block":
        _, room, start, length, units = op
        with transaction(hotel.sessions) as session:
            create_block(
                session,
                hotel.tenant_id,
                hotel.room_type_ids[room],
                BlockCreate(
                    date_from=today + timedelta(days=start),
                    date_to=today + timedelta(days=start + length),
                    units=units,
                ),
            )
    elif kind == "fail":
        hotel.channel.fail_next(op[2], op[1], retry_after=5)
    elif kind == "refuse":
        refused.add(op[1])
    elif kind == "crash":
        # The worker dies between passes; a new one takes over once the lease has run out.
        hotel.worker = SyncWorker(
            hotel.sessions, lambda _c: hotel.channel, clock=hotel.clock, holder=f"w{id(op)}"
        )
        hotel.clock.advance(30)
    elif kind == "burst":  # the PMS sends change after change, the worker runs after each
        _, plan, count = op
        for change in range(count):
            hotel.ari(
                {
                    "rate_plan_id": str(hotel.rate_plan_ids[plan]),
                    "date_from": hotel.day(change),
                    "date_to": hotel.day(change),
                    "price": f"{500 + change}.00",
                }
            )
            asyncio.run(hotel.worker.run_once())
            hotel.clock.advance(1)
    elif kind == "tick":
        hotel.clock.advance(op[1])
    else:
        asyncio.run(hotel.worker.run_once())


@pytest.mark.backends("sqlite", "postgresql")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_the_channel_always_ends_equal_to_innsync(
    db: Db, secret_box: SecretBox, ops: list[tuple[Any, ...]]
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    refused: set[str] = set()
    refused_ids: set[int] = set()

    def refuse(sent: AvailabilityUpdate | RateUpdate) -> str | None:
        if getattr(sent, "rate_plan_code", None) in refused:
            refused_ids.add(id(sent))
            return "closed"
        return None

    hotel.channel.reject_entries(refuse)
    for op in ops:
        apply(hotel, op, refused)
    # The operator fixes everything: channel healthy, credentials fixed, refused entries replayed.
    hotel.channel.clear_faults()
    refused.clear()
    with transaction(db.sessions) as session:
        session.execute(
            update(Connection).where(Connection.id == hotel.connection_id).values(state="connected")
        )
        replay_dead_letters(session, hotel.tenant_id, hotel.connection_id)
    asyncio.run(hotel.drain(step_seconds=60))

    availability, rates = hotel.desired()
    assert hotel.channel.availability_state() == availability
    assert hotel.channel.rates_state() == rates
    assert [r for r in hotel.channel.requests if r.outcome == "rate_limited"] == []
    shadow = Shadow()
    for recorded in hotel.channel.requests:
        if recorded.outcome == "unavailable":
            for sent in recorded.request.updates:
                shadow.fail(sent)
        if recorded.outcome in ("accepted", "partial"):
            for sent in recorded.request.updates:
                if id(sent) not in refused_ids:
                    shadow.accept(sent)
    assert shadow.availability == hotel.channel.availability_state()
    assert shadow.rates == hotel.channel.rates_state()
