"""The backup schedule run by the background loops: back up when due, verify, prune.

Due means the last scheduled attempt (recorded in ``backup_operations``) started an interval or
more ago, so a restart does not back up again at once and a failure is retried next interval.

Every process running the loops looks at the same schedule; exactly one takes each scheduled
backup. The due check and a ``schedule`` row naming the process that takes it are written in one
transaction under a database-wide lock (PostgreSQL: an advisory transaction lock; MariaDB: a
named lock; SQLite: the single writer of ``BEGIN IMMEDIATE``), so a second process waiting on the
lock then finds the backup no longer due. The claim row counts as the attempt: a process that
dies half-way leaves the next try to the next interval, like a failure.
A failed scheduled backup is logged as an error (the alert), counted in
``innsync_backup_failures_total`` and told to every tenant as a ``backup.failing`` event.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from prometheus_client import Counter, Gauge
from sqlalchemy import Connection, Engine, insert, select

from innsync.backups.cipher import BackupError, BackupKey
from innsync.backups.models import BackupOperation
from innsync.backups.retention import Policy
from innsync.backups.service import create_backup, prune_backups, verify_backup
from innsync.backups.store import BackupStore
from innsync.clock import Clock, utc_now
from innsync.db.engine import session_factory, transaction
from innsync.events import kinds
from innsync.events.service import emit
from innsync.tenants.models import Tenant

logger = logging.getLogger(__name__)
SCHEDULE_ACTOR = "schedule"
# The operation recorded when a process takes a scheduled backup (before it starts).
CLAIM = "schedule"
# Key of the PostgreSQL advisory lock and name of the MariaDB lock: any constant of our own.
LOCK_KEY = 0x696E6E73796E63  # "innsync"
LOCK_NAME = "innsync.backup_schedule"
# How long a MariaDB process waits for another's claim, which is one short transaction.
LOCK_WAIT_SECONDS = 30
FAILURES = Counter("innsync_backup_failures_total", "Scheduled backups that failed")
LAST_SUCCESS = Gauge(
    "innsync_backup_last_success_timestamp_seconds", "When the last scheduled backup succeeded"
)


@dataclass
class BackupSchedule:
    engine: Engine
    store: BackupStore
    key: BackupKey
    interval: timedelta
    policy: Policy
    verify: bool = True
    native: bool = False
    clock: Clock = utc_now
    scratch_dir: Path | None = None
    # Who takes a scheduled backup, as recorded in its claim row.
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def last_attempt(self, connection: Connection | None = None) -> datetime | None:
        query = (
            select(BackupOperation.started_at)
            .where(
                BackupOperation.operation.in_((CLAIM, "create")),
                BackupOperation.actor == SCHEDULE_ACTOR,
            )
            .order_by(BackupOperation.started_at.desc())
            .limit(1)
        )
        if connection is not None:
            return connection.scalar(query)
        with self.engine.connect() as own:
            return own.scalar(query)

    def is_due(self, connection: Connection | None = None) -> bool:
        last = self.last_attempt(connection)
        return last is None or self.clock() - last >= self.interval

    def claim(self) -> bool:
        """Take the scheduled backup for this process when it is due and no other took it."""
        dialect = self.engine.dialect.name
        # READ COMMITTED: the due check must see a claim committed while this waited for the lock.
        options = {} if dialect == "sqlite" else {"isolation_level": "READ COMMITTED"}
        with (
            self.engine.connect().execution_options(**options) as connection,
            _named_lock(connection),
            connection.begin(),
        ):
            if dialect == "postgresql":
                # Held until this transaction ends.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": LOCK_KEY})
            if not self.is_due(connection):
                return False
            connection.execute(
                insert(BackupOperation).values(
                    operation=CLAIM,
                    actor=SCHEDULE_ACTOR,
                    started_at=self.clock(),
                    duration_ms=0,
                    outcome="ok",
                    detail=f"taken by {self.holder}",
                )
            )
        return True

    def run_due(self) -> bool:
        """One pass: back up, verify and prune when due; True when this process attempted it."""
        try:
            if not self.claim():
                return False
        except BackupError:
            logger.warning("backup schedule: the claim's lock was not had", exc_info=True)
            return False
        try:
            manifest = create_backup(
                self.engine,
                self.store,
                self.key,
                actor=SCHEDULE_ACTOR,
                clock=self.clock,
                scratch_dir=self.scratch_dir,
                native=self.native,
            )
            if self.verify:
                verify_backup(
                    self.engine,
                    self.store,
                    manifest.name,
                    self.key,
                    actor=SCHEDULE_ACTOR,
                    clock=self.clock,
                    scratch_dir=self.scratch_dir,
                )
            prune_backups(
                self.engine, self.store, self.policy, actor=SCHEDULE_ACTOR, clock=self.clock
            )
        except (BackupError, OSError) as exc:
            self._alert(str(exc))
            return True
        LAST_SUCCESS.set(self.clock().timestamp())
        return True

    def _alert(self, reason: str) -> None:
        FAILURES.inc()
        logger.error("scheduled backup failed", extra={"reason": reason})
        with transaction(session_factory(self.engine)) as session:
            for tenant_id in session.scalars(select(Tenant.id)):
                emit(session, tenant_id, kinds.BACKUP_FAILING, {"reason": reason[:500]})


@contextmanager
def _named_lock(connection: Connection) -> Iterator[None]:
    """MariaDB's lock for the claim; a named lock belongs to the session, so it is taken and
    released outside the claim's transaction. PostgreSQL takes an advisory lock inside it, and
    SQLite needs none: the claim's ``BEGIN IMMEDIATE`` already excludes every other writer."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        yield
        return
    got = connection.exec_driver_sql(
        "SELECT GET_LOCK(%(n)s, %(w)s)", {"n": LOCK_NAME, "w": LOCK_WAIT_SECONDS}
    ).scalar()
    connection.rollback()
    if got != 1:
        raise BackupError("another process has held the backup schedule's lock for too long")
    try:
        yield
    finally:
        connection.exec_driver_sql("SELECT RELEASE_LOCK(%(n)s)", {"n": LOCK_NAME})
        connection.rollback()
