"""Retention over a simulated month, and the schedule the background loops run, on a frozen
clock; a failed scheduled backup is an event for every tenant."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from innsync.backups.cipher import BackupKey
from innsync.backups.models import BackupOperation
from innsync.backups.retention import Kept, Policy, to_keep
from innsync.backups.schedule import BackupSchedule
from innsync.backups.service import list_backups, verify_backup
from innsync.backups.store import LocalStore
from innsync.db.engine import session_factory
from innsync.events.models import Event
from tests.api.helpers import new_tenant

# A Monday, so the month's ISO weeks are easy to count by hand.
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, 1, hour, tzinfo=UTC) + timedelta(days=day)


def test_retention_over_a_month_of_hourly_backups() -> None:
    """30 days of hourly backups, pruned after each one, as the schedule does."""
    policy = Policy(hourly=24, daily=14, weekly=8)
    kept: list[Kept] = []
    for hour in range(30 * 24):
        created = START + timedelta(hours=hour)
        # Only the very first backup was ever verified: it must survive the whole month.
        kept.append(Kept(f"b{hour:03}", created, is_verified=hour == 0))
        names = to_keep(kept, policy)
        kept = [backup for backup in kept if backup.name in names]

    times = sorted(backup.created_at for backup in kept)
    last_day = [START + timedelta(days=29, hours=h) for h in range(24)]  # Dec 1, every hour
    daily = [at(day, 23) for day in range(17, 30)]  # the 13 days before, at 23:00
    weekly = [at(7, 23), at(14, 23)]  # ISO weeks 45 and 46, their Sundays' last backups
    assert times == sorted([START, *weekly, *daily, *last_day])
    assert len(kept) == 40
    # Incremental pruning keeps what one prune at the end would keep.
    assert {b.name for b in kept} == to_keep(kept, policy)


def test_the_newest_verified_backup_is_never_pruned() -> None:
    backups = [Kept(f"b{i}", START + timedelta(hours=i), is_verified=i == 1) for i in range(5)]
    assert to_keep(backups, Policy(hourly=1, daily=0, weekly=0)) == {"b4", "b1"}


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.backends("sqlite", "postgresql")
def test_the_schedule_backs_up_hourly_and_prunes(
    committed: Engine, tmp_path: Path, key: BackupKey
) -> None:
    new_tenant(session_factory(committed))
    store = LocalStore(tmp_path / "backups")
    clock = FrozenClock(START)
    schedule = BackupSchedule(
        committed,
        store,
        key,
        interval=timedelta(hours=1),
        policy=Policy(hourly=3, daily=2, weekly=1),
        verify=False,
        clock=clock,
    )
    attempts = 0
    # Two and a half days, with the loop looking every 20 minutes.
    for step in range(int(2.5 * 24 * 3)):
        clock.now = START + timedelta(minutes=20 * step)
        attempts += schedule.run_due()
        if step == 1:
            first = list_backups(store)[0].manifest.name
            verify_backup(committed, store, first, key, actor="test", clock=clock)

    assert attempts == 60
    created = [info.manifest.created_at for info in list_backups(store)]
    assert created == [
        START,  # verified, kept whatever the policy says
        datetime(2026, 11, 3, 23, 0, tzinfo=UTC),  # daily
        datetime(2026, 11, 4, 9, 0, tzinfo=UTC),  # hourly (and daily, weekly)
        datetime(2026, 11, 4, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 4, 11, 0, tzinfo=UTC),
    ]
    with committed.connect() as connection:
        operations = connection.execute(
            select(BackupOperation.operation, BackupOperation.outcome)
        ).all()
    assert operations.count(("create", "ok")) == 60
    assert operations.count(("prune", "ok")) == 60


@pytest.mark.backends("sqlite")
def test_a_failed_scheduled_backup_is_an_event_and_recorded(
    committed: Engine, tmp_path: Path, key: BackupKey
) -> None:
    tenants = {new_tenant(session_factory(committed), name).tenant_id for name in ("A", "B")}
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the backup directory should be")
    clock = FrozenClock(START)
    schedule = BackupSchedule(
        committed, LocalStore(blocked), key, timedelta(hours=1), Policy(), clock=clock
    )

    assert schedule.run_due() is True
    clock.now += timedelta(minutes=30)
    assert schedule.run_due() is False  # not retried before the interval

    with committed.connect() as connection:
        events = connection.execute(select(Event.tenant_id, Event.kind, Event.payload)).all()
        operation = connection.execute(
            select(BackupOperation).where(BackupOperation.operation == "create")
        ).one()
    assert {(str(tenant), kind) for tenant, kind, _ in events} == {
        (tenant, "backup.failing") for tenant in tenants
    }
    assert "not-a-directory" in events[0].payload["reason"]
    assert (operation.operation, operation.outcome, operation.actor) == (
        "create",
        "failed",
        "schedule",
    )


@pytest.mark.backends("sqlite")
def test_the_background_loops_run_the_backup_schedule(
    committed: Engine, tmp_path: Path, secret_box: Any
) -> None:
    import time

    from pydantic import SecretStr

    from innsync.backups.cipher import generate_backup_key
    from innsync.loops import BackgroundLoops
    from innsync.settings import Settings

    new_tenant(session_factory(committed))
    settings = Settings(
        backup_key=SecretStr(generate_backup_key()),
        backup_dir=tmp_path / "backups",
        loop_interval_seconds=0.05,
    )
    loops = BackgroundLoops(session_factory(committed), secret_box, settings)
    loops.start(sync_worker=False)
    try:
        deadline = time.monotonic() + 60
        while not any(info.verified_at for info in list_backups(LocalStore(settings.backup_dir))):
            assert time.monotonic() < deadline, "no verified backup from the loops"
            time.sleep(0.1)
    finally:
        loops.stop()
    with committed.connect() as connection:
        actors = set(connection.scalars(select(BackupOperation.actor)))
    assert actors == {"schedule"}

    off = BackgroundLoops(
        session_factory(committed), secret_box, settings.model_copy(update={"backup_key": None})
    )
    assert off._backups is None


@pytest.mark.backends("sqlite", "postgresql", "mariadb")
def test_two_processes_never_both_take_a_scheduled_backup(
    committed: Engine, tmp_path: Path, key: BackupKey
) -> None:
    """Two schedules (as two processes run them, each on its own connections) look at the same
    moment, every interval: exactly one backup per interval, taken by one of them."""
    new_tenant(session_factory(committed))
    store = LocalStore(tmp_path / "backups")
    clock = FrozenClock(START)
    schedules = [
        BackupSchedule(
            committed,
            store,
            key,
            interval=timedelta(hours=1),
            policy=Policy(hourly=10, daily=0, weekly=0),
            verify=False,
            clock=clock,
            holder=f"process-{number}",
        )
        for number in range(2)
    ]
    intervals = 4
    together = threading.Barrier(len(schedules))

    def look(schedule: BackupSchedule) -> bool:
        together.wait(timeout=30)
        return schedule.run_due()

    taken = []
    with ThreadPoolExecutor(max_workers=len(schedules)) as pool:
        for step in range(intervals * 2):  # twice per interval: the second look finds none due
            clock.now = START + timedelta(minutes=30 * step)
            taken.append(sorted(pool.map(look, schedules)))

    assert taken == [[False, True], [False, False]] * intervals
    assert len(list_backups(store)) == intervals
    with committed.connect() as connection:
        operations = connection.execute(
            select(BackupOperation.operation, BackupOperation.detail).where(
                BackupOperation.actor == "schedule"
            )
        ).all()
    assert [op for op, _ in operations].count("create") == intervals
    claims = [detail for op, detail in operations if op == "schedule"]
    assert len(claims) == intervals
    assert set(claims) <= {"taken by process-0", "taken by process-1"}
