"""A committed mark wakes an idle worker at once, in its process and (PostgreSQL) in others: the
poll is only the fallback."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import psycopg
import pytest
import time_machine
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from innsync.crypto import SecretBox
from innsync.outbox import wakeup
from innsync.sync.worker import SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, build_hotel

MORNING = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)
# A guard against a hung test, never a measure: the wake-up comes in milliseconds.
GUARD_SECONDS = 30.0


class CountingWorker(SyncWorker):
    """The worker, counting its passes and telling the test when one found nothing to send."""

    passes = 0
    idle: asyncio.Event

    async def run_once(self) -> int:
        sent = await super().run_once()
        self.passes += 1
        if not sent:
            self.idle.set()
        return sent


@time_machine.travel(MORNING, tick=True)
def test_a_committed_mark_wakes_an_idle_worker_without_waiting_for_its_poll(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock(MORNING))
    asyncio.run(hotel.drain())
    hotel.clock.advance(61)  # the budget has room: only the wait for work is left
    worker = CountingWorker(
        db.sessions, lambda _connection: hotel.channel, clock=hotel.clock, holder="woken"
    )
    before = len(hotel.channel.requests)

    async def scenario() -> tuple[int, int]:
        worker.idle = asyncio.Event()
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop, idle_seconds=3600))  # a poll of an hour
        await asyncio.wait_for(worker.idle.wait(), GUARD_SECONDS)
        await asyncio.sleep(0.2)
        idle_passes = worker.passes  # nothing to do and no mark: it waits, it does not spin
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[0]),
                "date_from": hotel.day(10),
                "date_to": hotel.day(10),
                "price": "271.00",
            }
        )

        async def pushed() -> None:
            while len(hotel.channel.requests) == before:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(pushed(), GUARD_SECONDS)
        stop.set()
        await asyncio.wait_for(running, GUARD_SECONDS)
        return idle_passes, worker.passes

    idle_passes, passes = asyncio.run(scenario())
    assert idle_passes == 1
    assert passes >= 2
    assert [request.kind for request in hotel.channel.requests[before:]] == ["rates"]
    assert hotel.pending() == 0


def test_a_rolled_back_mark_wakes_nobody(db: Db) -> None:
    woken = threading.Event()
    unsubscribe = wakeup.subscribe(woken.set)
    try:
        with db.sessions() as session:
            wakeup.note_marks_written(session)
            session.execute(text("SELECT 1"))
            session.rollback()
        assert not woken.is_set()
        with db.sessions() as session:
            wakeup.note_marks_written(session)
            session.execute(text("SELECT 1"))
            session.commit()
        assert woken.is_set()
    finally:
        unsubscribe()


def _conninfo(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.backends("postgresql")
def test_a_commit_that_wrote_marks_notifies_other_processes(committed: Engine) -> None:
    with psycopg.connect(_conninfo(committed), autocommit=True) as other_process:
        other_process.execute(f"LISTEN {wakeup.CHANNEL}")
        with Session(committed) as session:
            session.execute(text("SELECT 1"))
            session.commit()  # no marks: no notification
        with Session(committed) as session:
            wakeup.note_marks_written(session)
            session.execute(text("SELECT 1"))
            session.commit()
        channels = [n.channel for n in other_process.notifies(timeout=2.0, stop_after=2)]
    assert channels == [wakeup.CHANNEL]


@pytest.mark.backends("postgresql")
def test_the_listener_wakes_this_process_on_another_process_notification(
    committed: Engine,
) -> None:
    listener = wakeup.MarkListener(committed)
    woken = threading.Event()
    unsubscribe = wakeup.subscribe(woken.set)
    listener.start()
    try:
        assert woken.wait(GUARD_SECONDS)  # on connecting: whatever came before is looked at
        woken.clear()
        with psycopg.connect(_conninfo(committed), autocommit=True) as other_process:
            other_process.execute(f"NOTIFY {wakeup.CHANNEL}")
        assert woken.wait(GUARD_SECONDS)
    finally:
        listener.stop()
        unsubscribe()
