"""SQLite engines: commits reach the disk, a writer waiting for the write lock takes it in
short steps, gives up as "database busy", and leaves ``busy_timeout`` as it was, and a reading
session neither waits for the lock nor takes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from innsync.db import engine as engine_module
from innsync.db.busy import is_busy
from innsync.db.engine import build_engine, reading, session_factory

LOCK_TIMEOUT_MS = 200


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    yield from _engine(tmp_path, LOCK_TIMEOUT_MS)


@pytest.fixture
def patient_engine(tmp_path: Path) -> Iterator[Engine]:
    """Waits long enough that a slow machine's writers never time out while queued."""
    yield from _engine(tmp_path, 10_000)


def _engine(tmp_path: Path, lock_timeout_ms: int) -> Iterator[Engine]:
    built = build_engine(f"sqlite:///{tmp_path / 'lock.sqlite3'}", lock_timeout_ms=lock_timeout_ms)
    with built.begin() as connection:
        connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)"))
    yield built
    built.dispose()


def _pragma(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one())


def test_commits_are_synced_to_disk_and_statements_keep_the_busy_timeout(engine: Engine) -> None:
    assert _pragma(engine, "synchronous") == 2  # FULL
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO items DEFAULT VALUES"))
        # Inside the transaction the lock wait is SQLite's own again.
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == LOCK_TIMEOUT_MS


def test_a_waiting_writer_takes_the_lock_once_it_is_released(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO items DEFAULT VALUES"))
    refused_once = threading.Event()
    pauses: list[float] = []
    real_sleep = engine_module.time.sleep

    def pause(seconds: float) -> None:  # called only after BEGIN IMMEDIATE was refused
        pauses.append(seconds)
        refused_once.set()
        real_sleep(seconds)

    monkeypatch.setattr(engine_module.time, "sleep", pause)
    outcome: list[object] = []

    def write() -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO items DEFAULT VALUES"))
            outcome.append("written")
        except OperationalError as exc:
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    assert refused_once.wait(timeout=5)  # the writer is waiting for the lock
    holder.commit()
    holder.close()
    writer.join()

    assert outcome == ["written"]
    assert pauses
    assert set(pauses) == {engine_module.LOCK_POLL_SECONDS}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM items")).scalar_one() == 2


def test_a_writer_refused_the_lock_gets_a_busy_error(engine: Engine) -> None:
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO items DEFAULT VALUES"))
    try:
        with pytest.raises(OperationalError) as refused, engine.begin() as connection:
            connection.execute(text("INSERT INTO items DEFAULT VALUES"))
    finally:
        holder.rollback()
        holder.close()

    assert is_busy(refused.value)
    assert "database is locked" in str(refused.value)
    # The refused connection went back to the pool with SQLite's own wait restored.
    assert _pragma(engine, "busy_timeout") == LOCK_TIMEOUT_MS


def test_one_thread_at_a_time_tries_for_the_lock_and_every_waiter_gets_it(
    patient_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The others wait for their turn off the GIL: many threads trying every half millisecond
    starved the one holding the lock (the embedded server's API answered in seconds)."""
    holder = patient_engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO items DEFAULT VALUES"))
    trying, most_trying, guard = [0], [0], threading.Lock()
    refused = threading.Event()
    real_sleep = engine_module.time.sleep

    def pause(seconds: float) -> None:  # called only after BEGIN IMMEDIATE was refused
        with guard:
            trying[0] += 1
            most_trying[0] = max(most_trying[0], trying[0])
        refused.set()
        real_sleep(seconds)
        with guard:
            trying[0] -= 1

    monkeypatch.setattr(engine_module.time, "sleep", pause)
    written: list[str] = []

    def write() -> None:
        with patient_engine.begin() as connection:
            connection.execute(text("INSERT INTO items DEFAULT VALUES"))
        written.append("written")

    writers = [threading.Thread(target=write) for _ in range(6)]
    for writer in writers:
        writer.start()
    assert refused.wait(timeout=5)
    real_sleep(0.05)  # every writer is waiting: trying, or for its turn
    holder.commit()
    holder.close()
    for writer in writers:
        writer.join()

    assert written == ["written"] * 6
    assert most_trying[0] == 1


def test_a_reading_session_reads_while_a_writer_holds_the_lock_and_never_takes_it(
    engine: Engine,
) -> None:
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO items DEFAULT VALUES"))
    try:
        # The holder's insert is not committed: the read sees the last committed snapshot, at
        # once, where a transaction of ``transaction()`` would wait and then fail as busy.
        with reading(session_factory(engine)) as session:
            assert session.execute(text("SELECT count(*) FROM items")).scalar_one() == 0
            with pytest.raises(OperationalError) as refused:
                session.execute(text("INSERT INTO items DEFAULT VALUES"))
    finally:
        holder.commit()
        holder.close()

    assert is_busy(refused.value)  # its one write was refused, not queued behind the holder
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM items")).scalar_one() == 1
