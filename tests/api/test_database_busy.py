"""A busy database is a 503 with Retry-After, never a 500; a bulk write cut short by one says
which entries were committed (with their marks) and which were not."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory
from innsync.errors import DatabaseBusyError
from innsync.events.models import Event
from innsync.events.service import emit
from innsync.inventory.bulk import write_ari_in_chunks
from innsync.inventory.models import RateCalendarRun
from innsync.inventory.runs import calendar_rows
from innsync.inventory.schemas import AriEntry, AriWrite
from innsync.loops import BackgroundLoops
from innsync.outbox.models import DirtyMark
from innsync.properties.models import RatePlan, RoomType
from innsync.settings import Settings
from innsync.stay_dates import DateRange
from tests.api.helpers import Hotel, day, make_hotel, new_tenant, ok, today

# Short, so a test waits a fraction of a second for the lock it is refused.
LOCK_TIMEOUT_MS = 300


@pytest.fixture
def busy_engine(committed: Engine) -> Iterator[Engine]:
    """An engine on the test database that gives up waiting for a lock after 300 ms."""
    url = committed.url.render_as_string(hide_password=False)
    engine = build_engine(url, lock_timeout_ms=LOCK_TIMEOUT_MS)
    yield engine
    engine.dispose()


@pytest.fixture
def busy_client(
    busy_engine: Engine, secret_box: SecretBox, settings: Settings
) -> Iterator[TestClient]:
    app = create_app(
        settings,
        engine=busy_engine,
        sessions=session_factory(busy_engine),
        secret_box=secret_box,
        run_loops=False,
    )
    with TestClient(app) as test_client:
        yield test_client


@contextmanager
def holding_lock(engine: Engine, model: type[RatePlan | RoomType], row_id: str) -> Iterator[None]:
    """Another connection holds a write lock: SQLite's one writer lock (BEGIN IMMEDIATE), or
    the row's lock elsewhere, which the write's foreign-key check or row lock must wait for."""
    connection: Connection = engine.connect()
    transaction = connection.begin()
    try:
        if engine.dialect.name != "sqlite":
            query = select(model.id).where(model.id == uuid.UUID(row_id)).with_for_update()
            connection.execute(query).one()
            if model is RatePlan:  # an update of existing runs checks no foreign key
                runs = select(RateCalendarRun.start_date).where(
                    RateCalendarRun.rate_plan_id == uuid.UUID(row_id)
                )
                connection.execute(runs.with_for_update()).all()
        yield
    finally:
        transaction.rollback()
        connection.close()


def _connect(client: TestClient, hotel: Hotel) -> None:
    ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "Fake"},
            headers=hotel.caller.headers,
        ),
        201,
    )


def _price_entry(hotel: Hotel, price: str) -> dict[str, str]:
    return {
        "rate_plan_id": hotel.rate_plan_id,
        "date_from": day(1),
        "date_to": day(20),
        "price": price,
    }


def test_a_locked_database_answers_503_with_retry_after_and_writes_nothing(
    busy_client: TestClient, busy_engine: Engine
) -> None:
    sessions = session_factory(busy_engine)
    hotel = make_hotel(busy_client, new_tenant(sessions))
    _connect(busy_client, hotel)
    headers = hotel.caller.headers
    marks_before = _count(sessions, DirtyMark)

    with holding_lock(busy_engine, RatePlan, hotel.rate_plan_id):
        refused = busy_client.post(
            f"/api/v1/properties/{hotel.property_id}/ari",
            json={"entries": [_price_entry(hotel, "177.00")]},
            headers=headers,
        )
    with holding_lock(busy_engine, RoomType, hotel.room_type_id):
        blocked = busy_client.post(
            f"/api/v1/room-types/{hotel.room_type_id}/blocks",
            json={"date_from": day(1), "date_to": day(2), "units": 1},
            headers=headers,
        )

    for response in (refused, blocked):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        assert "nothing of this request was written" in response.json()["detail"]
    assert _count(sessions, DirtyMark) == marks_before
    with sessions() as session:
        prices = set(
            session.scalars(
                select(RateCalendarRun.price).where(
                    RateCalendarRun.rate_plan_id == uuid.UUID(hotel.rate_plan_id)
                )
            )
        )
    assert Decimal("177.00") not in prices
    # Once the lock is gone the same request goes through.
    retried = busy_client.post(
        f"/api/v1/properties/{hotel.property_id}/ari",
        json={"entries": [_price_entry(hotel, "177.00")]},
        headers=headers,
    )
    assert ok(retried)["results"][0]["dates_changed"] == 20


def test_a_bulk_write_cut_short_keeps_the_chunks_before_with_their_marks(
    busy_client: TestClient, busy_engine: Engine
) -> None:
    sessions = session_factory(busy_engine)
    hotel = make_hotel(busy_client, new_tenant(sessions))
    _connect(busy_client, hotel)
    second = ok(
        busy_client.post(
            f"/api/v1/properties/{hotel.property_id}/rate-plans",
            json={"room_type_id": hotel.room_type_id, "code": "B", "name": "B"},
            headers=hotel.caller.headers,
        ),
        201,
    )["id"]
    marks_before = _count(sessions, DirtyMark)
    plans = [hotel.rate_plan_id, hotel.rate_plan_id, second]
    request = AriWrite(
        entries=[
            AriEntry(
                rate_plan_id=uuid.UUID(plan),
                date_from=today() + timedelta(days=1),
                date_to=today() + timedelta(days=10),
                price=Decimal(150 + index),
            )
            for index, plan in enumerate(plans)
        ]
    )
    locks = ExitStack()

    def lock_after_first_two(part: range, _held: float) -> None:
        if part.stop == 2:  # the next chunk (entry 2, plan B) finds the database busy
            locks.enter_context(holding_lock(busy_engine, RatePlan, second))

    with locks, pytest.raises(DatabaseBusyError) as cut:
        write_ari_in_chunks(
            sessions,
            uuid.UUID(hotel.caller.tenant_id),
            uuid.UUID(hotel.property_id),
            request,
            chunk_ranges=2,  # an entry writes one range: entries 0 and 1, then entry 2
            on_commit=lock_after_first_two,
        )

    assert "entries 0..1 were written and committed, entries 2..2 were not" in cut.value.detail
    written = DateRange.inclusive(today() + timedelta(days=1), today() + timedelta(days=10))
    with sessions() as session:
        rows = calendar_rows(session, [uuid.UUID(hotel.rate_plan_id), uuid.UUID(second)], written)
    by_plan = {
        plan_id: max(row.price for row in days.values()) for plan_id, days in rows.items() if days
    }
    assert by_plan == {uuid.UUID(hotel.rate_plan_id): Decimal("151.00")}
    # Entries 0 and 1 each changed their dates and wrote one mark; entry 2 wrote nothing.
    assert _count(sessions, DirtyMark) == marks_before + 2


def _count(sessions: sessionmaker[Session], model: type[DirtyMark]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.backends("sqlite")
def test_background_loops_wait_out_a_busy_database_and_go_on(
    busy_engine: Engine, secret_box: SecretBox, caplog: pytest.LogCaptureFixture
) -> None:
    """The event sequencer meets SQLite's write lock held elsewhere: its passes fail as busy
    (a warning, no traceback), the thread lives on, and once the lock is gone it sequences."""
    sessions = session_factory(busy_engine)
    caller = new_tenant(sessions)
    with sessions() as session, session.begin():
        emit(session, uuid.UUID(caller.tenant_id), "test.busy", {})
    loops = BackgroundLoops(sessions, secret_box, Settings(loop_interval_seconds=0.05))
    lock = busy_engine.connect()
    lock.begin()  # BEGIN IMMEDIATE: SQLite's one writer lock
    try:
        with caplog.at_level(logging.WARNING, logger="innsync.loops"):
            loops.start(sync_worker=False)
            deadline = time.monotonic() + 30
            while "background pass found the database busy" not in caplog.text:
                assert time.monotonic() < deadline, "no busy pass seen"
                time.sleep(0.05)
        lock.rollback()
        lock.close()
        deadline = time.monotonic() + 30
        while _sequenced(sessions) == 0:
            assert time.monotonic() < deadline, "the sequencer never came back"
            time.sleep(0.05)
        assert all(t.is_alive() for t in threading.enumerate() if t.name == "events-sequencer")
    finally:
        loops.stop()
        lock.close()
    assert "background pass failed" not in caplog.text


def _sequenced(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(Event).where(Event.position.is_not(None))
        return int(session.scalar(query) or 0)
