"""Background loops of one innsync process: event sequencing, webhook delivery, outbound sync
(ARI and direct bookings), the inbound side with the catalog pass, the daily full-sync
schedule, the backup schedule and the alert rules.

In ``innsync serve`` they run as threads beside the API; each pass is its own short transaction,
so several processes can run them against PostgreSQL or MariaDB at once (rows are claimed with
SKIP LOCKED and the feed counter is a locked row).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync import gauges
from innsync.alerts.notify_send import send_due as send_alert_notifications
from innsync.alerts.notify_transports import SmtpConfig
from innsync.alerts.rules import global_thresholds
from innsync.alerts.service import evaluate_pass as evaluate_alerts
from innsync.backups.cipher import BackupKeyError
from innsync.backups.keys import backup_key_from
from innsync.backups.retention import Policy
from innsync.backups.schedule import BackupSchedule
from innsync.backups.store import store_from
from innsync.channels import registry
from innsync.channels.contract import ChannelAdapter
from innsync.clock import Every
from innsync.connections.catalog_sync import keep_catalogs_in_step
from innsync.connections.lapse import warn_lapsing_refresh_tokens
from innsync.connections.models import Connection
from innsync.connections.service import build_adapter
from innsync.crypto import SecretBox
from innsync.db.busy import is_busy
from innsync.db.engine import reading, transaction
from innsync.db.personal import install_keys
from innsync.events.delivery import deliver_due
from innsync.events.retention import prune_events
from innsync.events.service import sequence_pending
from innsync.inbox.account_feeds import FeedRoutes, pull_accounts_due
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from innsync.inbox.retention import prune_inbox
from innsync.marketplace.confirmations import check_due_confirmations
from innsync.marketplace.pulls import pull_due_ari
from innsync.outbound import OutboundPolicy, async_client, sync_client
from innsync.outbox.wakeup import MarkListener
from innsync.settings import Settings
from innsync.sync.bookings import push_due_bookings
from innsync.sync.retention import prune_sync_log
from innsync.sync.schedule import start_due_full_syncs
from innsync.sync.worker import SyncWorker

logger = logging.getLogger(__name__)
# Inbox items applied per pass; each is its own transaction. INBOX_PASSES passes run at once
# in each process, so a batch waiting on one slow channel call leaves the other to go on.
INBOX_BATCH = 25
INBOX_PASSES = 2
# Connections pulled, and items whose acknowledgement is retried, per pass.
PULL_BATCH = 50
ACK_BATCH = 50
# Channel accounts whose account-wide feed is read per pass (inbox.account_feeds).
ACCOUNT_PULL_BATCH = 10
# Booking pushes claimed per pass: each is one or two channel calls, sent one after another.
BOOKING_BATCH = 20
# How often provisioned catalogs are compared with innsync's (connections.catalog_sync): a
# catalog change is rare, and the comparison reads each provisioned connection's catalog.
CATALOG_CHECK = timedelta(seconds=60)
# How often the pull passes look for connections (and channel accounts) that pull and have no
# cursor yet, i.e. new ones: that reads every connection, which at 10,000 connections costs
# some 30 ms on PostgreSQL, and the passes follow each other many times a second while turns
# are due (``innsync bench scale``). A new connection is pulled within this of being created,
# plus the loop's idle pause (``loop_interval_seconds``).
CURSOR_SWEEP = timedelta(seconds=5)
# How often the database gauges are read: a few aggregate queries; often enough for a
# dashboard scraped every 15 s, rare enough to cost nothing beside the passes themselves.
GAUGE_INTERVAL = timedelta(seconds=10)
# Old inbox items deleted per transaction: small enough to hold SQLite's write lock briefly.
RETENTION_BATCH = 500


class DevelopmentKindRefusedError(RuntimeError):
    """A connection of a test-only channel kind met outside development mode."""


class BackgroundLoops:
    """Starts and stops the loops; each loop sleeps only when its last pass found no work."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        settings: Settings,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        # Guests' details and raw bodies are encrypted by column types, which see no session:
        # they use the keys installed for the process (every app and worker builds loops).
        install_keys(box)
        self._sessions = sessions
        self._box = box
        self._settings = settings
        # Every call to a tenant-influenced URL (channels, iCal feeds, PMS webhooks) goes
        # through clients held to this policy.
        self._outbound = outbound or OutboundPolicy.from_settings(settings)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_schedule: datetime | None = None
        self._last_backup_check: datetime | None = None
        self._last_prune: datetime | None = None
        self._last_alerts: datetime | None = None
        self._last_gauges: datetime | None = None
        # Names this process in the alert pass lease (alerts.lease).
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._smtp = SmtpConfig.from_settings(settings)
        self._backups = self._backup_schedule()
        self._mark_listener: MarkListener | None = None

    def start(self, *, sync_worker: bool = True) -> None:
        self._stop.clear()
        engine = self._sessions.kw["bind"]
        if sync_worker and engine.dialect.name == "postgresql":
            # Marks committed by other processes (API processes, other workers) wake this
            # process's worker at once; in one process the commit itself wakes it.
            self._mark_listener = MarkListener(engine)
            self._mark_listener.start()
        if sync_worker:
            for target, name in (
                (self._run_sync_worker, "sync-worker"),
                (self._run_inbox, "inbox"),
                (self._run_booking_pushes, "booking-pushes"),
            ):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        client = sync_client(self._outbound, timeout=self._settings.webhook_timeout_seconds)
        for name, step in (
            ("events-sequencer", self._sequence),
            ("webhook-delivery", lambda: self._deliver(client)),
            ("full-sync-schedule", self._schedule),
            ("retention", self._prune),
            ("alert-rules", self._alerts),
            ("metrics-gauges", self._gauges),
            ("alert-notifications", lambda: self._notify(client)),
            *([("backup-schedule", self._backup)] if self._backups is not None else []),
        ):
            thread = threading.Thread(target=self._run, args=(name, step), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self._mark_listener is not None:
            self._mark_listener.stop()
            self._mark_listener = None
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def adapter_for(self, connection: Connection, http: httpx.AsyncClient) -> ChannelAdapter:
        """The connection's adapter for the loops; a test-only kind (``fake``) is refused
        outside development mode, which parks a connection left from a development run."""
        if not self._settings.development_mode and registry.get(connection.channel).test_only:
            raise DevelopmentKindRefusedError(
                f"'{connection.channel}' is a test channel, off outside development mode "
                "(INNSYNC_DEVELOPMENT_MODE); delete this connection"
            )
        return build_adapter(connection, self._box, http, self._sessions)

    def _channel_client(self) -> httpx.AsyncClient:
        return async_client(self._outbound, timeout=self._settings.channel_timeout_seconds)

    def _run(self, name: str, step: Callable[[], int]) -> None:
        while not self._stop.is_set():
            try:
                done = step()
            except (SQLAlchemyError, httpx.HTTPError) as exc:
                # The database or network is briefly away, or busy with another writer's lock:
                # the pass rolled back, and the next one picks the work up again.
                if is_busy(exc):
                    logger.warning("background pass found the database busy", extra={"loop": name})
                else:
                    logger.exception("background pass failed", extra={"loop": name})
                done = 0
            except Exception:
                # Errors of one row are recorded on that row where they happen (see
                # ``innsync.containment``); whatever escapes that must not end the thread, or
                # the loop stops for every tenant. Logged loudly; the next pass goes on.
                logger.exception("background pass failed unexpectedly", extra={"loop": name})
                done = 0
            if not done:
                self._stop.wait(self._settings.loop_interval_seconds)

    def _run_sync_worker(self) -> None:
        """The outbound worker, in its own event loop (adapters are async)."""
        asyncio.run(self._sync_worker_main())

    async def _sync_worker_main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (self._stop.wait(), loop.call_soon_threadsafe(stop.set)), daemon=True
        ).start()
        async with self._channel_client() as http:
            worker = SyncWorker(
                self._sessions,
                lambda connection: self.adapter_for(connection, http),
                rates_burst_share=self._settings.sync_rates_burst_share,
            )
            while not stop.is_set():
                try:
                    await worker.run(stop, idle_seconds=self._settings.sync_idle_seconds)
                except Exception:
                    # Database errors, and the last resort behind the worker's own containment
                    # of a bad connection: the thread must outlive any one pass.
                    logger.exception("sync worker pass failed; retrying")
                    await asyncio.sleep(self._settings.loop_interval_seconds)

    def _run_inbox(self) -> None:
        """The inbound side, in its own event loop (adapters are async): apply inbox items, pull
        the channels whose turn has come, send acknowledgements that are due."""
        asyncio.run(self._inbox_main())

    async def _inbox_main(self) -> None:
        async with self._channel_client() as http:

            def adapter_for(connection: Connection) -> ChannelAdapter:
                return self.adapter_for(connection, http)

            async def process() -> int:
                return await process_pending(self._sessions, adapter_for, INBOX_BATCH)

            feed_routes = FeedRoutes()
            cursor_sweep = Every(CURSOR_SWEEP)

            async def pull() -> int:
                sweep = cursor_sweep.due()
                pulled = await pull_due(
                    self._sessions, adapter_for, PULL_BATCH, add_missing_cursors=sweep
                )
                return pulled + await pull_accounts_due(
                    self._sessions,
                    adapter_for,
                    ACCOUNT_PULL_BATCH,
                    routes=feed_routes,
                    add_missing_cursors=sweep,
                )

            async def acknowledge() -> int:
                return await acknowledge_due(self._sessions, adapter_for, ACK_BATCH)

            catalog_check = Every(CATALOG_CHECK)

            async def check_catalogs() -> int:
                if not catalog_check.due():
                    return 0
                return await keep_catalogs_in_step(self._sessions, self._box, http)

            # Each pass repeats on its own: one waiting on a slow channel (up to its time-out)
            # holds up neither the others nor, for the processing passes, each other's batches.
            await asyncio.gather(
                *(self._repeat_inbound(process) for _ in range(INBOX_PASSES)),
                self._repeat_inbound(pull),
                self._repeat_inbound(acknowledge),
                self._repeat_inbound(check_catalogs),
            )

    async def _repeat_inbound(self, step: Callable[[], Awaitable[int]]) -> None:
        """Run ``step`` until the loops stop, pausing only after a pass that found no work."""
        while not self._stop.is_set():
            try:
                done = await step()
            except Exception:
                # Database errors, and the last resort behind the per-item and per-connection
                # containment: the task must outlive any one pass.
                logger.exception(
                    "inbox pass failed; its work returns when the lease ends",
                    extra={"loop": step.__name__},
                )
                done = 0
            if not done:
                await asyncio.sleep(self._settings.loop_interval_seconds)

    def _run_booking_pushes(self) -> None:
        """Direct and marketplace bookings out (with the hotels' confirmations) and the pull of
        channel-sourced ARI, in their own event loop: a slow channel answer never holds up the
        ARI worker or the inbox."""
        asyncio.run(self._booking_pushes_main())

    async def _booking_pushes_main(self) -> None:
        async with self._channel_client() as http:

            def adapter_for(connection: Connection) -> ChannelAdapter:
                return self.adapter_for(connection, http)

            settings = self._settings
            while not self._stop.is_set():
                try:
                    done = await push_due_bookings(
                        self._sessions,
                        adapter_for,
                        BOOKING_BATCH,
                        marketplace_attempts=settings.marketplace_push_attempts,
                    )
                    # The marketplace side: the hotels' confirmations of pushed bookings and
                    # the periodic pull of channel-sourced ARI (marketplace/).
                    done += await check_due_confirmations(
                        self._sessions,
                        adapter_for,
                        timedelta(seconds=settings.booking_status_interval_seconds),
                        BOOKING_BATCH,
                    )
                    done += await pull_due_ari(
                        self._sessions,
                        adapter_for,
                        timedelta(seconds=settings.ari_pull_interval_seconds),
                        BOOKING_BATCH,
                    )
                except Exception:
                    # Database errors, and the last resort behind the per-push containment:
                    # the thread must outlive any one pass; claimed pushes return after
                    # their lease.
                    logger.exception("booking push pass failed")
                    done = 0
                if not done:
                    await asyncio.sleep(self._settings.loop_interval_seconds)

    def _schedule(self) -> int:
        now = datetime.now(UTC)
        if self._last_schedule is not None and (now - self._last_schedule).total_seconds() < 60:
            return 0
        self._last_schedule = now
        with transaction(self._sessions) as session:
            start_due_full_syncs(session, now)
            warn_lapsing_refresh_tokens(
                session, now, timedelta(days=self._settings.refresh_token_warning_days)
            )
        # The schedule has minute resolution: never report work, so the loop sleeps in between.
        return 0

    def _prune(self) -> int:
        """One batch of each retention (inbox, sync log, events); runs again at once while a
        batch comes back full, then once a minute."""
        now = datetime.now(UTC)
        if self._last_prune is not None and (now - self._last_prune).total_seconds() < 60:
            return 0
        deleted, full = 0, False
        for days, prune in (
            (self._settings.inbox_retention_days, prune_inbox),
            (self._settings.sync_log_retention_days, prune_sync_log),
            (self._settings.event_retention_days, prune_events),
        ):
            if days <= 0:
                continue
            with transaction(self._sessions) as session:
                count = prune(session, now - timedelta(days=days), RETENTION_BATCH)
            deleted += count
            full = full or count == RETENTION_BATCH
        if not full:
            self._last_prune = now  # caught up: minute resolution from here
        return deleted

    def _alerts(self) -> int:
        """One evaluation of the alert rules every ``alert_interval_seconds``, by whichever
        process takes the pass (alerts.lease); each process tries four times an interval, so a
        pass is late by a quarter interval at most when its last evaluator stops."""
        now = datetime.now(UTC)
        interval = self._settings.alert_interval_seconds
        if self._last_alerts is not None and (now - self._last_alerts).total_seconds() < (
            interval / 4
        ):
            return 0
        self._last_alerts = now
        with transaction(self._sessions) as session:
            evaluate_alerts(
                session,
                self._holder,
                now,
                timedelta(seconds=interval),
                global_thresholds(self._settings),
            )
        # Interval resolution, like the schedules above: never report work.
        return 0

    def _gauges(self) -> int:
        """The database gauges (``innsync.gauges``), every ``GAUGE_INTERVAL``."""
        now = datetime.now(UTC)
        if self._last_gauges is not None and now - self._last_gauges < GAUGE_INTERVAL:
            return 0
        self._last_gauges = now
        with reading(self._sessions) as session:  # never queues behind SQLite's writer
            gauges.refresh(session, now)
        # Interval resolution, like the schedules above: never report work.
        return 0

    def _notify(self, client: httpx.Client) -> int:
        """Send the alert notifications that are due; apart from the evaluation, so a slow
        SMTP server or chat never holds a pass up."""
        return send_alert_notifications(
            self._sessions,
            self._box,
            client,
            self._smtp,
            datetime.now(UTC),
            window=timedelta(minutes=self._settings.alert_notify_window_minutes),
            max_attempts=self._settings.alert_notify_max_attempts,
        )

    def _backup_schedule(self) -> BackupSchedule | None:
        """The backup schedule, when a backup key is set and the schedule is not turned off."""
        settings = self._settings
        if settings.backup_key is None or settings.backup_schedule_minutes <= 0:
            return None
        try:
            key = backup_key_from(settings)
        except BackupKeyError:
            logger.exception("backup schedule off: the backup key is unusable")
            return None
        return BackupSchedule(
            engine=self._sessions.kw["bind"],
            store=store_from(settings),
            key=key,
            interval=timedelta(minutes=settings.backup_schedule_minutes),
            policy=Policy(
                settings.backup_keep_hourly, settings.backup_keep_daily, settings.backup_keep_weekly
            ),
            verify=settings.backup_verify_scheduled,
            native=settings.backup_native_dumps,
        )

    def _backup(self) -> int:
        now = datetime.now(UTC)
        if self._backups is None or (
            self._last_backup_check is not None
            and (now - self._last_backup_check).total_seconds() < 60
        ):
            return 0
        self._last_backup_check = now
        self._backups.run_due()
        # Minute resolution, like the full-sync schedule: never report work.
        return 0

    def _sequence(self) -> int:
        with transaction(self._sessions) as session:
            return sequence_pending(session)

    def _deliver(self, client: httpx.Client) -> int:
        return deliver_due(
            self._sessions,
            client,
            self._box,
            max_attempts=self._settings.webhook_max_attempts,
            timeout_seconds=self._settings.webhook_timeout_seconds,
        )
