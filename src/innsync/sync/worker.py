"""The sync worker: claims rate-limit buckets, serves each under its limiter, retries with backoff.

Any number of workers may run against PostgreSQL or MariaDB; on SQLite one runs inside
``innsync serve``. A bucket is served by the worker holding its lease, and its limiter state is
saved with the lease before every request, so a worker that takes over a bucket (after a crash)
continues the same window instead of starting a fresh one.

While a bucket is served a heartbeat renews its lease, also while a channel call is on the wire
(a call can take longer than the lease); what a channel accepted is recorded only under the
lease's fencing token (``sync.leases``). A connection that cannot be served (a config that no
longer validates, a secret that cannot be decrypted, any unexpected error of its pass) is set
to ``needs_attention`` with the reason, and the worker goes on with the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import innsync.schema  # noqa: F401  (a worker process must know every table before flushing)
from innsync import containment
from innsync.backoff import Backoff
from innsync.channels.contract import ChannelAdapter
from innsync.channels.types import ChannelLimits, PushKind
from innsync.clock import Clock, utc_now
from innsync.connections.models import Connection
from innsync.db.engine import reading, transaction
from innsync.logging import log_context
from innsync.marketplace.models import AriSource
from innsync.outbox import wakeup
from innsync.sync import budgets, leases
from innsync.sync.limiter import (
    BURST_SHARE,
    RATES_BURST_SHARE,
    ROUND_TRIP_SAMPLES,
    SlidingWindowLimiter,
    burst_for,
    window_margin,
)
from innsync.sync.models import BucketLease
from innsync.sync.pusher import PassResult, push_connection

logger = logging.getLogger(__name__)

AdapterFactory = Callable[[Connection], ChannelAdapter]

# A lease outlives a killed worker by this much, so its buckets are taken over within it. The
# lease follows the work in flight instead of guessing its length: the heartbeat renews it while
# a bucket is served (a channel call may take its whole 30 s time-out), and every request and
# every recording renews it too. So it only has to cover the longest stretch in which the
# worker's event loop cannot run the heartbeat: planning one connection's kind (well under a
# second for a 2 x 2 hotel, a few seconds for Channex's largest, 200 plans x 750 days).
DEFAULT_LEASE = timedelta(seconds=10)
# The heartbeat renews a served bucket's lease this many times per lease, so that a renewal
# that is late (a busy database, a blocked event loop) still lands before the lease ends.
HEARTBEATS_PER_LEASE = 4
# The longest wait the bucket's own backoff draws after failed passes. Past it, a connection
# failing on is paced by its breaker (one probe, pauses doubling up to 5 minutes, see
# ``sync.pusher``), so the bucket's backoff never keeps a recovered channel waiting for long.
BACKOFF_CAP_SECONDS = 60.0
# Buckets one worker takes per pass, so that several workers share the load.
BUCKETS_PER_PASS = 8
# A pass reads the buckets with work a window at a time, this many times the buckets it takes:
# room for some held by other workers or waiting on a budget without reading a second window.
WINDOW_PER_CLAIM = 4
# A window that left the pass short is followed by one this many times as large: a stretch of
# buckets held by others or waiting on a budget is crossed in few reads (each read has a fixed
# cost of four statements, worth about a hundred buckets' rows).
WINDOW_GROWTH = 8
# The largest window: a pass that finds nothing to claim goes once round all buckets, in reads
# of this many, and no statement binds more keys than this.
MAX_WINDOW = 1024
# Up to this many connections with marks, a pass lists them first (one short read of the
# marks' index) and its windows look only at them: walking the bucket-key index to find a few
# marked connections among thousands would read every connection, on every idle poll too.
# Past it the walk is the cheaper: it passes about (connections / marked connections) rows for
# each bucket it finds, which at 10,000 connections is some 40 rows or fewer.
FEW_MARKED_CONNECTIONS = 256
# The limiter-state key of the bucket's recent round trips, which size its limiters' margin
# (``sync.limiter.window_margin``).
ROUND_TRIPS = "round_trip_seconds"


class SyncWorker:
    """One worker; ``run_once`` is a pass over the buckets it can claim, ``run`` loops."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        adapter_for: AdapterFactory,
        *,
        holder: str | None = None,
        clock: Clock = utc_now,
        lease: timedelta = DEFAULT_LEASE,
        backoff: Backoff | None = None,
        buckets_per_pass: int = BUCKETS_PER_PASS,
        heartbeat_seconds: float | None = None,
        few_marked_connections: int = FEW_MARKED_CONNECTIONS,
        rates_burst_share: float = RATES_BURST_SHARE,
    ) -> None:
        self._sessions = sessions
        self.rates_burst_share = rates_burst_share
        self._adapter_for = adapter_for
        self.holder = holder or f"worker-{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._lease = lease
        self._backoff = backoff or Backoff(
            cap_seconds=BACKOFF_CAP_SECONDS,
            rng=random.Random(),  # noqa: S311  (jitter only)
        )
        # One adapter per connection and stored config: a changed config (provisioning stored
        # the channel's property id, a user fixed an API key) builds a new one.
        self._adapters: dict[uuid.UUID, tuple[str, ChannelAdapter]] = {}
        self._buckets_per_pass = buckets_per_pass
        self._few_marked = few_marked_connections
        # The last bucket key the previous pass took or read past: the next pass starts after
        # it, so that passes go round the buckets with work and none waits behind the others.
        self._resume_after: str | None = None
        # When the soonest bucket that has work but no room yet will have room (its budget's
        # window reopens, its backoff ends), among the buckets the last pass read: all of them
        # when it claimed nothing (it went once round).
        self.next_reopening: datetime | None = None
        self._heartbeat_seconds = (
            heartbeat_seconds
            if heartbeat_seconds is not None
            else lease.total_seconds() / HEARTBEATS_PER_LEASE
        )

    async def run_once(self) -> int:
        """Serve the buckets this worker claims now; returns how many requests were sent."""
        sent = 0
        for bucket in self.claim_buckets():
            sent += await self._serve_fenced(bucket.fence, bucket.limiter_state, bucket.failures)
        return sent

    def claim_buckets(self) -> list[ClaimedBucket]:
        """Claim up to ``buckets_per_pass`` buckets, reading the buckets with work a window at
        a time from where the last pass stopped, until enough are claimed or it has gone once
        round; sets :attr:`next_reopening` from the windows read."""
        now = self._clock()
        start = self._resume_after
        # From the start to the last key, then from the first key up to the start.
        after, through = start, None
        size = WINDOW_PER_CLAIM * self._buckets_per_pass
        claimed: list[ClaimedBucket] = []
        reopenings: list[datetime] = []
        # What to claim is read without SQLite's writer lock (the API's writes hold it many
        # times a second); only the claim itself takes it.
        with reading(self._sessions) as session:
            marked = leases.marked_connections(session, self._few_marked)
        while True:
            with reading(self._sessions) as session:
                window = leases.buckets_with_work(
                    session, after=after, through=through, limit=size, among=marked
                )
                ready, reopening = budgets.readiness(session, window, now)
            if reopening is not None:
                reopenings.append(reopening)
            with transaction(self._sessions) as session:
                leases.ensure_lease_rows(session, ready)
                taken = [
                    ClaimedBucket(
                        leases.LeaseFence.of(lease), dict(lease.limiter_state), lease.failures
                    )
                    for lease in leases.claim(
                        session,
                        self.holder,
                        ready,
                        now,
                        self._lease,
                        self._buckets_per_pass - len(claimed),
                    )
                ]
            claimed += taken
            if taken and len(claimed) >= self._buckets_per_pass:
                # The window's keys past the last one taken were not tried: the next pass
                # starts with them.
                self._resume_after = taken[-1].fence.bucket_key
                break
            if len(window) == size:
                after = window[-1]
            elif through is None and start is not None:
                after, through = None, start
            else:
                self._resume_after = start  # once round: the next pass starts where this did
                break
            size = min(WINDOW_GROWTH * size, MAX_WINDOW)
        self.next_reopening = min(reopenings, default=None)
        return claimed

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.25) -> None:
        """Pass after pass until ``stop``; between idle passes it waits for the first of: marks
        committed (``outbox.wakeup``), the moment a waiting bucket has room again, or the poll
        of ``idle_seconds``, which catches what no wake-up reports."""
        woken = asyncio.Event()
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        unsubscribe = wakeup.subscribe(wake)
        try:
            while not stop.is_set():
                woken.clear()  # marks committed during the pass wake the next wait at once
                if await self.run_once():
                    continue
                await _first_of(stop, woken, self._idle_wait(idle_seconds))
        finally:
            unsubscribe()

    def _idle_wait(self, idle_seconds: float) -> float:
        """Seconds to wait for work: the poll, or less when a waiting bucket reopens sooner."""
        if self.next_reopening is None:
            return idle_seconds
        until = (self.next_reopening - self._clock()).total_seconds()
        return min(idle_seconds, max(until, 0.0))

    async def _serve_fenced(
        self, fence: leases.LeaseFence, limiter_state: dict[str, Any], failures: int
    ) -> int:
        """Serve a bucket with its lease renewed in the background until the pass is over."""
        gate = _BudgetGate(self, fence.bucket_key, limiter_state)
        gate.fence = fence
        heartbeat = asyncio.create_task(self._heartbeat(fence, gate))
        try:
            return await self._serve(fence, gate, failures)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, fence: leases.LeaseFence, gate: _BudgetGate) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            with transaction(self._sessions) as session:
                held = fence.holds(session, self._clock(), self._lease)
            if not held:
                gate.lost = True
                logger.warning("lost a bucket lease", extra={"bucket": fence.bucket_key})
                return

    async def _serve(self, fence: leases.LeaseFence, gate: _BudgetGate, failures: int) -> int:
        bucket_key = fence.bucket_key
        recording = _Recording(fence, self._clock, self._lease)
        with reading(self._sessions) as session:
            connections = list(
                session.scalars(
                    select(Connection)
                    .where(
                        Connection.bucket_key == bucket_key,
                        Connection.push_enabled.is_(True),
                        Connection.state.in_(leases.SYNCABLE_STATES),
                        # A property's ARI source is never sent the ARI it is the source of.
                        Connection.id.not_in(select(AriSource.connection_id)),
                    )
                    .order_by(Connection.id)
                )
            )
        sent, retry_after, failed = 0, None, False
        for connection in connections:
            if connection.breaker_open_until and connection.breaker_open_until > self._clock():
                continue
            # Every line of this connection's pass names it.
            with log_context(**connection.log_ids()):
                try:
                    adapter = self._adapter(connection)
                    gate.limits = adapter.limits
                    result: PassResult = await push_connection(
                        self._sessions,
                        connection.id,
                        adapter,
                        gate.acquire,
                        self._clock,
                        has_room=gate.has_room,
                        fence=recording,
                    )
                except Exception as exc:  # noqa: BLE001  (one bad connection must not stop all)
                    # Not a channel's answer (those are handled in the pass): a stored config
                    # that no longer validates, a secret that cannot be decrypted, a bug met by
                    # this connection's data. It is parked for a person; the others go on.
                    containment.connection_failed(self._sessions, connection.id, "sync", exc)
                    self.forget_adapter(connection.id)
                    continue
            sent += result.requests
            gate.observe(result.round_trips)
            if result.failed:
                failed, retry_after = True, result.retry_after
            if gate.lost or result.lease_lost:
                break
        with transaction(self._sessions) as session:
            lease = session.get_one(BucketLease, bucket_key)
            if lease.holder != self.holder:
                return sent
            if gate.lost or lease.fence != fence.token:
                leases.release(session, self.holder, bucket_key)
                return sent
            # A spent budget is not a reason to keep the bucket away: it holds back only its own
            # kind (see budgets.py), while not_before is the channel's own "wait" (failures).
            lease.limiter_state = gate.saved_state()
            if failed:
                lease.failures = failures + 1
                delay = self._backoff.delay(lease.failures, retry_after)
                lease.not_before = self._clock() + timedelta(seconds=delay)
            else:
                lease.failures, lease.not_before = 0, None
            leases.release(session, self.holder, bucket_key)
        return sent

    def _adapter(self, connection: Connection) -> ChannelAdapter:
        version = config_version(connection)
        cached = self._adapters.get(connection.id)
        if cached is not None and cached[0] == version:
            return cached[1]
        adapter = self._adapter_for(connection)
        self._adapters[connection.id] = (version, adapter)
        return adapter

    def forget_adapter(self, connection_id: uuid.UUID) -> None:
        """Drop a cached adapter (its connection's credentials or settings changed)."""
        self._adapters.pop(connection_id, None)


@dataclass(frozen=True, slots=True)
class ClaimedBucket:
    """A bucket a pass claimed: its fence, and the limiter state and failures it was saved with."""

    fence: leases.LeaseFence
    limiter_state: dict[str, Any]
    failures: int


async def _first_of(stop: asyncio.Event, woken: asyncio.Event, timeout: float) -> None:
    """Wait until ``stop`` or ``woken`` is set, or ``timeout`` seconds have passed."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(woken.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


def config_version(connection: Connection) -> str:
    """Which stored config an adapter was built from: any change to it (new credentials, a
    provisioned property id, a key rotation) is a new version, with no schema change."""
    return hashlib.sha256(
        f"{connection.channel}\n{connection.config_encrypted}".encode()
    ).hexdigest()


class _Recording:
    """The bucket's fence as the pusher uses it, on the worker's clock and lease."""

    def __init__(self, fence: leases.LeaseFence, clock: Clock, lease: timedelta) -> None:
        self._fence, self._clock, self._lease = fence, clock, lease

    def holds(self, session: Session) -> bool:
        return self._fence.holds(session, self._clock(), self._lease)

    def revoke(self, session: Session) -> None:
        self._fence.revoke(session)


class _BudgetGate:
    """Spends a bucket's budgets; saves the limiter state and renews the lease before each send.

    Each budget is its own limiter, so spending one never holds back another; a budget found
    spent records until when its kinds wait (``budgets.BLOCKED_UNTIL``) for the next claim.
    """

    def __init__(self, worker: SyncWorker, bucket_key: str, state: dict[str, Any]) -> None:
        self._worker = worker
        self._bucket_key = bucket_key
        self._state = state
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self.limits: ChannelLimits | None = None
        self.lost = False
        self.fence: leases.LeaseFence | None = None

    def _limiter(self, budget: str) -> SlidingWindowLimiter:
        limiter = self._limiters.get(budget)
        if limiter is None:
            if self.limits is None:
                raise RuntimeError("the gate needs the channel's limits before spending")
            saved = self._state.get(budget)
            window = self.limits.window_seconds + window_margin(
                self.limits.window_seconds, self.round_trips()
            )
            limiter = (
                SlidingWindowLimiter.from_state(saved)
                if isinstance(saved, dict)
                else SlidingWindowLimiter(self.limits.requests_per_window, window)
            )
            # A restored limiter counts with the margin of the latest round trips too, and
            # spreads a steady demand over the window instead of spending it at once.
            limiter.window_seconds = window
            share = self._worker.rates_burst_share if budget == "rates" else BURST_SHARE
            limiter.burst = burst_for(limiter.limit, share)
            self._limiters[budget] = limiter
        return limiter

    def round_trips(self) -> list[float]:
        """The bucket's recent round trips, in seconds, oldest first."""
        saved = self._state.get(ROUND_TRIPS)
        if not isinstance(saved, list):
            return []
        return [float(t) for t in saved if isinstance(t, int | float) and not isinstance(t, bool)]

    def observe(self, round_trips: Sequence[float]) -> None:
        """Keep the latest round trips (saved with the limiter state at the end of the pass)."""
        if round_trips:
            kept = [*self.round_trips(), *(round(t, 4) for t in round_trips)]
            self._state[ROUND_TRIPS] = kept[-ROUND_TRIP_SAMPLES:]

    def _kinds(self, budget: str) -> list[str]:
        """The kinds of push that spend ``budget`` on this channel."""
        limits = self.limits
        kinds: tuple[PushKind, ...] = ("availability", "rates")
        return [kind for kind in kinds if limits is not None and limits.budget_for(kind) == budget]

    def has_room(self, budget: str) -> bool:
        """Whether ``budget`` would grant a request now; records the wait when it would not."""
        if self.lost:
            return False
        now = self._worker._clock().timestamp()
        wait = self._limiter(budget).wait_time(now)
        if wait > 0:
            budgets.set_blocked(self._state, self._kinds(budget), now + wait)
            return False
        return True

    async def acquire(self, budget: str) -> float | None:
        """Grant one request of ``budget`` and save the grant with the renewed lease; returns
        the grant's ``time.perf_counter()`` (None: not now, or the lease is lost).

        The grant is taken inside the transaction that saves it, so on SQLite once the writer
        lock is had: a wait for the lock comes before the grant, never between it and the send.
        The limiter's margin (``window_margin``) covers the round trip measured from the grant;
        a lock wait after it, left out of that measure, once let two requests reach Channex
        closer than its window (a 429 in ``innsync bench change_latency``).
        """
        if not self.has_room(budget):  # no transaction for a budget that is spent
            return None
        limiter = self._limiter(budget)
        with transaction(self._worker._sessions) as session:
            session.connection()  # begins the transaction: on SQLite, waits for the writer lock
            now = self._worker._clock()
            # Room found a moment ago is still there (time only frees a window); checked anyway.
            if not limiter.try_acquire(now.timestamp()):
                wait = limiter.wait_time(now.timestamp())
                budgets.set_blocked(self._state, self._kinds(budget), now.timestamp() + wait)
                return None
            granted = time.perf_counter()
            self._state[budget] = dict(limiter.to_state())
            budgets.set_blocked(self._state, self._kinds(budget), None)
            if not leases.renew(
                session,
                self._worker.holder,
                self._bucket_key,
                now,
                self._worker._lease,
                self.fence,
            ):
                self.lost = True
                logger.warning("lost a bucket lease", extra={"bucket": self._bucket_key})
                return None
            session.get_one(BucketLease, self._bucket_key).limiter_state = dict(self._state)
        return granted

    def saved_state(self) -> dict[str, Any]:
        """The limiter state to keep with the lease: every budget and what is blocked."""
        return dict(self._state)
