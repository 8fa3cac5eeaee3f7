"""The pull reconciler and acknowledgements, against the fake channel's feed.

The feed behaves like Channex's booking-revision feed: unacknowledged revisions, oldest first,
in pages of 10, gone once acknowledged.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from innsync.channels.errors import ChannelRejectedError, MappingMissingError
from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.channels.revision_json import revision_from_json, revision_to_json
from innsync.channels.types import RevisionPage
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inbox import acknowledge, reconciler
from innsync.inbox.models import PULL, InboxItem, PullCursor
from innsync.inbox.processor import process_pending
from innsync.inbox.waking import ACK_WAITS_FOR_CHANNEL
from tests.conftest import Db
from tests.inbound.builders import (
    SECRET,
    Hotel,
    Processing,
    booking,
    encode,
    make_hotel,
    reservations_of,
)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=1)
        session.commit()
    return made


@pytest.fixture
def channel() -> FakeChannel:
    return FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))


@pytest.fixture
def processing(db: Db, secret_box: SecretBox, channel: FakeChannel) -> Processing:
    return Processing(db.sessions, secret_box, adapter=channel)


def pull(processing: Processing, clock: Clock) -> int:
    pass_ = reconciler.pull_due(processing.sessions, processing.adapter_for, clock=clock)
    return asyncio.run(pass_)


def retry_acks(processing: Processing, clock: Clock) -> int:
    return asyncio.run(
        acknowledge.acknowledge_due(processing.sessions, processing.adapter_for, clock=clock)
    )


def publish(channel: FakeChannel, *bodies: dict[str, object]) -> None:
    for body in bodies:
        channel.publish(revision_from_json(body))


def all_items(db: Db) -> list[InboxItem]:
    with db.sessions() as session:
        return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))


def cursor_of(db: Db, hotel: Hotel) -> PullCursor:
    with db.sessions() as session:
        return session.get_one(PullCursor, hotel.connections[0])


def test_the_neutral_json_form_round_trips() -> None:
    body = booking("B1", rooms=["DBL", "TWN"])
    revision = revision_from_json(body)
    assert revision_from_json(revision_to_json(revision)) == revision


def test_pulled_revisions_are_stored_once_applied_and_acknowledged_after_commit(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    clock = Clock()
    publish(channel, *(booking(f"B{n}", price="90.00") for n in range(25)))

    assert pull(processing, clock) == 1  # one connection, three pages in its turn
    items = all_items(db)
    assert len(items) == 25
    assert {item.source for item in items} == {PULL}
    assert {item.dedupe_key for item in items} == {f"revision:B{n}-1" for n in range(25)}

    # The feed still holds them (nothing acknowledged yet): the next turn stores nothing new.
    clock.advance(channel.pull_interval_seconds)
    assert pull(processing, clock) == 1
    assert len(all_items(db)) == 25
    assert channel.acknowledged == ()

    assert processing.run() == 25
    with db.sessions() as session:
        assert len(reservations_of(session, hotel.property_id)) == 25
    assert sorted(channel.acknowledged) == sorted(f"B{n}-1" for n in range(25))
    assert {(i.status, i.ack_status, tuple(i.ack_revision_ids)) for i in all_items(db)} == {
        ("applied", "done", ())
    }
    clock.advance(channel.pull_interval_seconds)
    pull(processing, clock)
    assert len(all_items(db)) == 25  # the feed is empty now


def test_a_revision_by_webhook_and_by_pull_is_applied_once_and_both_acknowledged(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    body = booking("B1")
    processing.deliver(hotel.tokens[0], encode(body))
    publish(channel, body)
    pull(processing, Clock())

    assert processing.run() == 2
    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        assert reservation.revision == 1
    assert [(i.status, i.ack_status) for i in all_items(db)] == [
        ("applied", "done"),
        ("ignored", "done"),
    ]
    assert channel.acknowledged == ("B1-1", "B1-1")  # a repeated acknowledgement is harmless


def test_a_turn_waits_for_the_channels_cadence(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    clock = Clock()
    assert pull(processing, clock) == 1
    assert pull(processing, clock) == 0
    clock.advance(channel.pull_interval_seconds - 1)
    assert pull(processing, clock) == 0
    clock.advance(1)
    assert pull(processing, clock) == 1
    assert cursor_of(db, hotel).last_pulled_at == clock.now


def test_connections_that_do_not_pull_are_left_alone(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    publish(channel, booking("B1"))
    with db.sessions() as session:
        session.execute(update(Connection).values(pull_enabled=False))
        session.commit()
    assert pull(processing, Clock()) == 0
    assert all_items(db) == []


def test_a_pass_told_not_to_look_for_new_connections_pulls_only_those_with_a_cursor(
    processing: Processing, hotel: Hotel, db: Db
) -> None:
    clock = Clock()
    without_sweep = reconciler.pull_due(
        processing.sessions, processing.adapter_for, clock=clock, add_missing_cursors=False
    )
    assert asyncio.run(without_sweep) == 0
    with db.sessions() as session:
        assert session.get(PullCursor, hotel.connections[0]) is None
    assert pull(processing, clock) == 1  # the next pass that looks finds it
    assert cursor_of(db, hotel).last_pulled_at == clock.now


def test_a_failing_channel_is_retried_with_backoff_and_reported_once(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    clock = Clock()
    publish(channel, booking("B1"))
    channel.fail_next(reconciler.ATTENTION_AFTER, "unavailable", retry_after=45)
    for turn in range(1, reconciler.ATTENTION_AFTER + 1):
        assert pull(processing, clock) == 1
        cursor = cursor_of(db, hotel)
        assert cursor.failures == turn
        assert "ChannelUnavailableError" in cursor.last_error
        wait = (cursor.next_pull_at - clock.now).total_seconds()
        assert wait >= 45
        assert pull(processing, clock) == 0
        clock.advance(wait)
    with db.sessions() as session:
        attention = session.scalars(
            select(Event).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
        ).all()
        assert [event.payload["status"] for event in attention] == ["pull_failing"]

    assert pull(processing, clock) == 1  # the channel is back
    assert cursor_of(db, hotel).failures == 0
    assert len(all_items(db)) == 1


def test_an_acknowledgement_that_fails_is_retried_until_the_channel_takes_it(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    clock = Clock()
    publish(channel, booking("B1"))
    pull(processing, clock)
    channel.fail_next(2, "unavailable")
    asyncio.run(process_pending(processing.sessions, processing.adapter_for, clock=clock))
    (item,) = all_items(db)
    assert (item.status, item.ack_status, item.ack_attempts) == ("applied", "due", 1)
    assert item.ack_revision_ids == ["B1-1"]
    assert "attempt 1" in item.ack_error

    assert retry_acks(processing, clock) == 0  # not due yet
    clock.advance((item.ack_not_before - clock.now).total_seconds())
    assert retry_acks(processing, clock) == 1
    (item,) = all_items(db)
    assert (item.ack_status, item.ack_attempts) == ("due", 2)
    clock.advance((item.ack_not_before - clock.now).total_seconds())
    assert retry_acks(processing, clock) == 1
    (item,) = all_items(db)
    assert (item.ack_status, item.acked_at, item.ack_error) == ("done", clock.now, "")
    assert channel.acknowledged == ("B1-1",)
    with db.sessions() as session:
        assert len(reservations_of(session, hotel.property_id)) == 1


def test_parked_and_rejected_items_are_not_acknowledged(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    unmapped = booking("B1", rooms=["SUITE"])
    impossible = booking("B2", nights=400)
    publish(channel, unmapped, impossible)
    pull(processing, Clock())
    processing.run()
    assert [(i.status, i.ack_status) for i in all_items(db)] == [
        ("parked", None),
        ("rejected", None),
    ]
    assert channel.acknowledged == ()


def test_an_acknowledgement_the_channel_refuses_stops_and_is_reported(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    async def refuse(revision_id: str) -> None:
        raise ChannelRejectedError(f"unknown revision {revision_id}")

    channel.acknowledge_revision = refuse  # type: ignore[method-assign]
    publish(channel, booking("B1"))
    pull(processing, Clock())
    processing.run()
    (item,) = all_items(db)
    assert (item.status, item.ack_status) == ("applied", "refused")
    assert "unknown revision B1-1" in item.ack_error
    with db.sessions() as session:
        attention = session.scalars(
            select(Event).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
        ).one()
        assert attention.payload["status"] == "ack_refused"


def test_a_connection_not_set_up_on_the_channel_is_looked_at_again_quietly(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    async def not_provisioned(cursor: str | None) -> RevisionPage:
        raise MappingMissingError("no property on the channel yet")

    channel.pull_revisions = not_provisioned  # type: ignore[method-assign]
    clock = Clock()
    assert pull(processing, clock) == 1
    cursor = cursor_of(db, hotel)
    assert (cursor.failures, cursor.last_error) == (0, "")
    assert cursor.next_pull_at == clock.now + timedelta(seconds=channel.pull_interval_seconds)
    with db.sessions() as session:
        assert session.scalars(select(Event)).all() == []


def test_an_acknowledgement_backed_off_is_sent_as_soon_as_the_channel_answers_a_pull(
    processing: Processing, channel: FakeChannel, hotel: Hotel, db: Db
) -> None:
    clock = Clock()
    publish(channel, booking("B1"))
    pull(processing, clock)
    channel.fail_next(4, "unavailable")
    asyncio.run(process_pending(processing.sessions, processing.adapter_for, clock=clock))
    for _ in range(3):  # attempts 2 to 4 fail too: the next waits 40 s
        (item,) = all_items(db)
        clock.advance((item.ack_not_before - clock.now).total_seconds())
        assert retry_acks(processing, clock) == 1
    (item,) = all_items(db)
    assert (item.ack_status, item.ack_attempts) == ("due", 4)
    assert f"attempt 4: {ACK_WAITS_FOR_CHANNEL}" in item.ack_error
    assert item.ack_not_before == clock.now + timedelta(seconds=40)
    assert retry_acks(processing, clock) == 0

    assert pull(processing, clock) == 1  # the channel answers the connection's pull ...
    assert retry_acks(processing, clock) == 1  # ... so the acknowledgement need not wait
    (item,) = all_items(db)
    assert (item.ack_status, item.acked_at) == ("done", clock.now)
    assert channel.acknowledged == ("B1-1",)


class HeldFeed(FakeChannel):
    """The fake channel, whose next pull waits on the wire until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))
        self.in_flight = asyncio.Event()
        self.go = asyncio.Event()

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        self.in_flight.set()
        await self.go.wait()
        return await super().pull_revisions(cursor)


def test_a_killed_reconcilers_connection_is_pulled_again_one_lease_later(
    processing: Processing, db: Db, hotel: Hotel
) -> None:
    clock, held = Clock(), HeldFeed()

    async def scenario() -> tuple[int, int]:
        killed = asyncio.create_task(
            reconciler.pull_due(processing.sessions, lambda _c: held, clock=clock)
        )
        await held.in_flight.wait()
        killed.cancel()  # killed mid-read: its cursor is neither settled nor renewed again
        with pytest.raises(asyncio.CancelledError):
            await killed
        clock.advance(reconciler.PULL_LEASE.total_seconds() - 1)
        before = await reconciler.pull_due(processing.sessions, processing.adapter_for, clock=clock)
        clock.advance(2)
        after = await reconciler.pull_due(processing.sessions, processing.adapter_for, clock=clock)
        return before, after

    assert asyncio.run(scenario()) == (0, 1)
    assert cursor_of(db, hotel).last_pulled_at == clock.now
    assert timedelta(seconds=15) >= reconciler.PULL_LEASE  # not the 120 s it used to be


def test_a_live_reconciler_keeps_its_connection_while_the_channel_is_slow(
    processing: Processing, db: Db, hotel: Hotel
) -> None:
    clock, held = Clock(), HeldFeed()
    publish(held, booking("B1"))

    async def scenario() -> tuple[int, int]:
        live = asyncio.create_task(
            reconciler.pull_due(
                processing.sessions, lambda _c: held, clock=clock, heartbeat_seconds=0.01
            )
        )
        await held.in_flight.wait()
        taken_by_other = 0
        for _ in range(3):  # three leases pass while the page is on the wire
            clock.advance(reconciler.PULL_LEASE.total_seconds() - 1)
            await asyncio.sleep(0.1)  # the heartbeat renews the held cursor
            taken_by_other += await reconciler.pull_due(
                processing.sessions, processing.adapter_for, clock=clock
            )
        held.go.set()
        return taken_by_other, await live

    assert asyncio.run(scenario()) == (0, 1)
    cursor = cursor_of(db, hotel)
    assert cursor.last_pulled_at == clock.now
    # Settled by the live pass after its read: the next turn at the channel's cadence, which
    # no late renewal moved.
    assert cursor.next_pull_at == clock.now + timedelta(seconds=held.pull_interval_seconds)
    assert len(all_items(db)) == 1
