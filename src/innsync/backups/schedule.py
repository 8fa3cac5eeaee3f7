"""The backup schedule run by the background loops: back up when due, verify, prune.

Due means the last scheduled attempt (recorded in ``backup_operations``) started an interval or
more ago, so a restart does not back up again at once and a failure is retried next interval.
A failed scheduled backup is logged as an error (the alert), counted in
``innsync_backup_failures_total`` and told to every tenant as a ``backup.failing`` event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from prometheus_client import Counter, Gauge
from sqlalchemy import Engine, select

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
    clock: Clock = utc_now
    scratch_dir: Path | None = None

    def last_attempt(self) -> datetime | None:
        with self.engine.connect() as connection:
            return connection.scalar(
                select(BackupOperation.started_at)
                .where(
                    BackupOperation.operation == "create",
                    BackupOperation.actor == SCHEDULE_ACTOR,
                )
                .order_by(BackupOperation.started_at.desc())
                .limit(1)
            )

    def is_due(self) -> bool:
        last = self.last_attempt()
        return last is None or self.clock() - last >= self.interval

    def run_due(self) -> bool:
        """One pass: back up, verify and prune when due; True when a backup was attempted."""
        if not self.is_due():
            return False
        try:
            manifest = create_backup(
                self.engine,
                self.store,
                self.key,
                actor=SCHEDULE_ACTOR,
                clock=self.clock,
                scratch_dir=self.scratch_dir,
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
