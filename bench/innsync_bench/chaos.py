"""chaos: a mixed workload under faults; afterwards nothing may be lost, duplicated or over
the limit, and every channel must show innsync's ARI.

One property (3 room types x 5 units) sold on Channex simulator processes (one connection
each) and run by real processes on a private PostgreSQL database: ``innsync serve`` (API and
webhook ingress, background loops off) and two ``innsync worker`` processes. While the PMS
changes prices and stop-sells through the API and every channel makes, modifies and cancels
bookings:

- one worker is killed with SIGKILL every few seconds and started again;
- every simulator answers 30 % of innsync's calls with 500/502/503, 10 % with an injected 429
  and lets 5 % time out. The simulator sleeps ``SIMULATOR_TIMEOUT_SECONDS`` (5 s) and then
  still processes the call, while innsync's Channex timeout is ``CHANNEL_TIMEOUT_SECONDS``
  (3 s): innsync gives up first, so it never knows whether the call took effect, which is the
  case a time-out really is (a simulator timeout shorter than innsync's would be mere latency);
- webhooks are duplicated (30 %) and held back so that later ones overtake them (30 %);
- PostgreSQL is restarted in the middle of the run (``pg_ctlcluster … restart``).

Then the faults stop and the run waits (bounded, with progress) until innsync has converged,
and checks: the simulator's ARI equals innsync's desired state for every connection; every
booking each simulator generated is in innsync exactly once and in its latest state, and every
revision was acknowledged; no rate-limit violation (a 429 from the simulator's limiter, told
apart from injected ones because injected faults are answered before the handler tags the
property; and no more than 10 accepted calls per property and class in any 60 s); the time to
converge. Any failed check is listed in ``failed_checks`` and ``innsync bench chaos`` exits 1.
It is not part of ``innsync bench all``: it restarts the PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.channex.client import RATE_LIMIT_PAUSE_SECONDS
from innsync.connections.models import Connection
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import session_factory
from innsync.db.personal import install_keys
from innsync.inbox.reconciler import PULL_LEASE
from innsync.inbox.timing import LEASE as INBOX_LEASE
from innsync.sync.models import BucketLease
from innsync.sync.pusher import BREAKER_FIRST_PAUSE, BREAKER_MAX_PAUSE
from innsync.sync.worker import BACKOFF_CAP_SECONDS, DEFAULT_LEASE
from innsync_bench.channel_fleet import (
    Channel,
    Site,
    check_ari,
    check_bookings,
    check_limits,
    connect,
    control_call,
    create_site,
    pending_work,
    simulators,
    unacknowledged,
    waiting_items,
)
from innsync_bench.databases import postgres_database, postgres_version
from innsync_bench.processes import INNSYNC, free_port, innsync_env, running, stop
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table

TITLE = "fault run: SIGKILLed workers, 5xx/429/time-outs, disordered webhooks, a PostgreSQL restart"
ROOMS, UNITS = 3, 5
CHANNELS, QUICK_CHANNELS = 4, 2
WORKLOAD_SECONDS, QUICK_WORKLOAD_SECONDS = 180.0, 45.0
# One worker is SIGKILLed this often, then started again at once.
KILL_EVERY_SECONDS = 5.0
FAULTS = {
    "server_error_rate": 0.30,
    "too_many_requests_rate": 0.10,
    "timeout_rate": 0.05,
    "timeout_seconds": 5.0,
    "webhook_duplicate_rate": 0.30,
    "webhook_reorder_rate": 0.30,
    # Held-back deliveries wait this long, so several later ones overtake them.
    "webhook_reorder_delay_seconds": 5.0,
}
SIMULATOR_TIMEOUT_SECONDS = FAULTS["timeout_seconds"]
CHANNEL_TIMEOUT_SECONDS = 3.0
FEED_POLL_SECONDS = 5
# Each channel makes a revision, and the PMS an ARI change, about this often.
OTA_PAUSE_SECONDS = (0.3, 1.0)
PMS_PAUSE_SECONDS = (0.2, 0.6)
# Bookings fall in the next weeks; PMS changes in the same dates.
STAY_DAYS = 30
MODIFY_SHARE, CANCEL_SHARE = 0.20, 0.15
SEED = 4242
# Items a killed worker had claimed wait out the inbox lease (15 s), and revisions whose fetch
# kept failing wait out their backoff; both are part of converging.
CONVERGE_TIMEOUT_SECONDS = 600.0
# Issue #18's target for the time from the faults stopping to convergence (reported, not a check).
CONVERGE_TARGET_SECONDS = 60.0
RESTART_COMMAND = ("pg_ctlcluster", "--skip-systemctl-redirect")


@dataclass
class Activity:
    """What the workload did, and what happened to the faults it caused."""

    booked: int = 0
    modified: int = 0
    cancelled: int = 0
    ari_changes: int = 0
    ari_refused: int = 0
    kills: int = 0
    restart: str = "not run"
    restart_seconds: float = 0.0
    live: dict[int, list[str]] = field(default_factory=dict)


def run(options: RunOptions) -> Outcome:
    quick = options.quick
    channels = QUICK_CHANNELS if quick else CHANNELS
    seconds = QUICK_WORKLOAD_SECONDS if quick else WORKLOAD_SECONDS
    key = generate_key()
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    with ExitStack() as stack:
        url, engine = stack.enter_context(postgres_database(options.postgres_server, "chaos"))
        version = postgres_version(engine)
        sessions = session_factory(engine)
        roots = stack.enter_context(simulators(options.workdir, channels, SEED))
        site = create_site(
            engine,
            box,
            roots,
            rooms=ROOMS,
            units=UNITS,
            connection_config={
                "feed_poll_seconds": FEED_POLL_SECONDS,
                "timeout_seconds": CHANNEL_TIMEOUT_SECONDS,
            },
        )
        port = free_port()
        innsync_url = f"http://127.0.0.1:{port}"
        env = innsync_env(url, key)
        stack.enter_context(
            running(
                [*INNSYNC, "serve", "--port", str(port), "--no-migrate"],
                options.workdir / "serve.log",
                env=innsync_env(url, key, background_loops="false"),
                ready_url=f"{innsync_url}/healthz",
            )
        )
        stack.enter_context(
            running([*INNSYNC, "worker"], options.workdir / "worker-b.log", env=env)
        )
        connect(site, engine, innsync_url)
        victim = stack.enter_context(_killed_worker(options.workdir, env))
        options.progress(f"chaos: {channels} channels, faults on for {seconds:.0f} s")
        for channel in site.channels:
            channel.post("/_sim/faults", {**FAULTS, "seed": SEED + channel.index})
        activity = Activity()
        started = time.monotonic()
        restart = threading.Thread(
            target=_restart_postgres, args=(options, activity, seconds / 2), daemon=True
        )
        restart.start()
        asyncio.run(_workload(site, innsync_url, seconds, victim, activity, options))
        restart.join()
        for channel in site.channels:
            httpx.delete(f"{channel.root}/_sim/faults", timeout=30)
        options.progress(
            f"chaos: workload done in {time.monotonic() - started:.0f} s ({activity.booked} "
            f"booked, {activity.modified} modified, {activity.cancelled} cancelled, "
            f"{activity.ari_changes} ARI changes, {activity.kills} kills, PostgreSQL restart: "
            f"{activity.restart}); faults off, converging"
        )
        converge_started = time.monotonic()
        convergence = _converge(options, site, sessions)
        converged = convergence.converged
        converge_seconds = time.monotonic() - converge_started
        bookings = check_bookings(site, sessions)
        ari = check_ari(site, sessions)
        limits = check_limits(site)
        deliveries = _webhook_disorder(site)
    failed = []
    if not converged:
        failed.append(f"did not converge within {CONVERGE_TIMEOUT_SECONDS:.0f} s")
    if bookings.lost:
        failed.append(f"{len(bookings.lost)} bookings lost: {bookings.lost[:5]}")
    if bookings.duplicated:
        failed.append(f"{len(bookings.duplicated)} duplicated: {bookings.duplicated[:5]}")
    if bookings.wrong_state:
        failed.append(f"{len(bookings.wrong_state)} in a wrong state: {bookings.wrong_state[:5]}")
    if bookings.unacked_revisions:
        failed.append(f"{bookings.unacked_revisions} revisions never acknowledged")
    if any(ari.values()):
        failed.append(f"ARI differs from innsync's desired state: {ari}")
    if limits.violations:
        failed.append(
            f"{limits.violations} rate-limit violations ({limits.limit_429s} limiter 429s, "
            f"busiest 60 s window {limits.busiest_window} calls)"
        )
    if limits.log_full:
        failed.append("a simulator's request log overflowed: the limit check is incomplete")
    figures = {
        "channels": channels,
        "workload_seconds": seconds,
        "activity": {
            "booked": activity.booked,
            "modified": activity.modified,
            "cancelled": activity.cancelled,
            "ari_changes": activity.ari_changes,
            "ari_changes_refused_during_faults": activity.ari_refused,
            "worker_kills": activity.kills,
            "postgres_restart": activity.restart,
            "postgres_restart_seconds": activity.restart_seconds,
        },
        "webhooks": deliveries,
        "converged": converged,
        "converge_seconds": converge_seconds,
        "converge_cleared_at": convergence.cleared_at(),
        "converge_timeline": convergence.timeline,
        "bookings": bookings.as_dict(),
        "ari_mismatches": ari,
        "ari_calls": limits.ari_calls,
        "limit_429s": limits.limit_429s,
        "injected_429s": limits.injected_429s,
        "busiest_60s": limits.busiest_window,
        "rate_limit_violations": limits.violations,
        "failed_checks": failed,
    }
    return _outcome(figures, version)


class _Victim:
    """The worker that is killed with SIGKILL every few seconds and started again."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self._log = workdir / "worker-a.log"
        self._env = {**os.environ, **env}
        self._process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
                [*INNSYNC, "worker"], stdout=log, stderr=subprocess.STDOUT, env=self._env
            )

    def kill_and_restart(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)  # only this process, by its id
            self._process.wait()
            self.kills += 1
        self.start()

    def close(self) -> None:
        if self._process is not None:
            stop(self._process)


@contextmanager
def _killed_worker(workdir: Path, env: dict[str, str]) -> Iterator[_Victim]:
    victim = _Victim(workdir, env)
    victim.start()
    try:
        yield victim
    finally:
        victim.close()


def _restart_postgres(options: RunOptions, activity: Activity, after_seconds: float) -> None:
    """Restart the PostgreSQL cluster (``pg_ctlcluster``; stop + start if restart is refused)."""
    time.sleep(after_seconds)
    versions = sorted(path.name for path in Path("/etc/postgresql").glob("*"))
    if not versions:
        activity.restart = "not run: no cluster under /etc/postgresql"
        return
    cluster = [*RESTART_COMMAND, versions[-1], "main"]
    options.progress(f"chaos: restarting PostgreSQL {versions[-1]}")
    started = time.monotonic()
    attempts = [[[*cluster, "restart"]], [[*cluster, "stop"], [*cluster, "start"]]]
    errors = []
    for commands in attempts:
        finished = [
            subprocess.run(command, capture_output=True, check=False, timeout=120)  # noqa: S603
            for command in commands
        ]
        if all(result.returncode == 0 for result in finished):
            activity.restart = " + ".join(command[-1] for command in commands)
            activity.restart_seconds = time.monotonic() - started
            return
        errors += [result.stderr.decode(errors="replace").strip()[:200] for result in finished]
    activity.restart = "not run: " + "; ".join(errors)


async def _workload(
    site: Site,
    innsync_url: str,
    seconds: float,
    victim: _Victim,
    activity: Activity,
    options: RunOptions,
) -> None:
    """The PMS, every channel and the worker killer, all at once for ``seconds``."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(
            _pms(http, site, innsync_url, deadline, activity),
            *(_channel(http, site, channel, deadline, activity) for channel in site.channels),
            _killer(victim, deadline, activity),
            _reporter(options, deadline, activity),
        )


async def _killer(victim: _Victim, deadline: float, activity: Activity) -> None:
    while time.monotonic() + KILL_EVERY_SECONDS < deadline:
        await asyncio.sleep(KILL_EVERY_SECONDS)
        await asyncio.to_thread(victim.kill_and_restart)
        activity.kills = victim.kills


async def _reporter(options: RunOptions, deadline: float, activity: Activity) -> None:
    while time.monotonic() + 15 < deadline:
        await asyncio.sleep(15)
        options.progress(
            f"chaos: {activity.booked} booked, {activity.modified} modified, "
            f"{activity.cancelled} cancelled, {activity.ari_changes} ARI changes, "
            f"{activity.kills} kills"
        )


async def _pms(
    http: httpx.AsyncClient, site: Site, innsync_url: str, deadline: float, activity: Activity
) -> None:
    """Price and stop-sell changes through innsync's API; a refused one (the database was
    restarting) is simply not made, as a PMS would retry it later."""
    rng = random.Random(f"{SEED}:pms")  # noqa: S311  (a repeatable workload)
    today = datetime.now(UTC).date()
    headers = {"authorization": f"Bearer {site.api_key}"}
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(*PMS_PAUSE_SECONDS))
        first = today + timedelta(days=rng.randint(1, STAY_DAYS))
        entry: dict[str, Any] = {
            "rate_plan_id": str(rng.choice(site.rate_plan_ids)),
            "date_from": first.isoformat(),
            "date_to": (first + timedelta(days=rng.randint(0, 3))).isoformat(),
        }
        if rng.random() < 0.8:
            entry["price"] = f"{rng.randint(80, 300)}.{rng.randint(0, 99):02d}"
        else:
            entry["stop_sell"] = rng.random() < 0.5
        try:
            answer = await http.post(
                f"{innsync_url}/api/v1/properties/{site.property_id}/ari",
                json={"entries": [entry]},
                headers=headers,
            )
        except httpx.TransportError:
            activity.ari_refused += 1
            continue
        if answer.status_code == 200:
            activity.ari_changes += 1
        else:
            activity.ari_refused += 1


async def _channel(
    http: httpx.AsyncClient, site: Site, channel: Channel, deadline: float, activity: Activity
) -> None:
    """An OTA on one simulator: new bookings, modifications and cancellations, blind to
    availability (overbookings are allowed here; booking_storm measures them)."""
    rng = random.Random(f"{SEED}:{channel.index}")  # noqa: S311  (a repeatable workload)
    live = activity.live.setdefault(channel.index, [])
    today = datetime.now(UTC).date()
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(*OTA_PAUSE_SECONDS))
        roll = rng.random()
        if live and roll < CANCEL_SHARE:
            booking_id = live.pop(rng.randrange(len(live)))
            await control_call(http, channel, f"/_sim/bookings/{booking_id}/cancel", {})
            activity.cancelled += 1
        elif live and roll < CANCEL_SHARE + MODIFY_SHARE:
            booking_id = rng.choice(live)
            arrival = today + timedelta(days=rng.randint(1, STAY_DAYS))
            change: dict[str, Any] = (
                {"adults": rng.randint(1, 2)}
                if rng.random() < 0.5
                else {
                    "arrival_date": arrival.isoformat(),
                    "departure_date": (arrival + timedelta(days=rng.randint(1, 4))).isoformat(),
                }
            )
            await control_call(http, channel, f"/_sim/bookings/{booking_id}/modify", change)
            activity.modified += 1
        else:
            room = rng.randrange(len(site.room_type_ids))
            arrival = today + timedelta(days=rng.randint(1, STAY_DAYS))
            booking = await control_call(
                http,
                channel,
                "/_sim/bookings",
                {
                    "property_id": channel.property_id,
                    "room_type_id": channel.room_types[site.room_type_ids[room]],
                    "rate_plan_id": channel.rate_plans[site.rate_plan_ids[room]],
                    "arrival_date": arrival.isoformat(),
                    "departure_date": (arrival + timedelta(days=rng.randint(1, 4))).isoformat(),
                    "customer_surname": uuid.uuid4().hex[:8],
                },
            )
            live.append(booking["booking_id"])
            activity.booked += 1


# Pending inbox items listed one by one while converging, when there are at most this many.
WAITING_SHOWN = 5
# While converging, what is still open is written down this often: the timeline shows which
# kind of work cleared last, and so what bounds convergence.
TIMELINE_SECONDS = 5.0


@dataclass
class Convergence:
    """Whether and when innsync converged, and what was still open along the way."""

    converged: bool = False
    timeline: list[dict[str, float]] = field(default_factory=list)

    def cleared_at(self) -> dict[str, float]:
        """Per measure, the first time from which it stayed at zero (the end for one that
        never did): the last of them is what held convergence."""
        if not self.timeline:
            return {}
        cleared: dict[str, float] = {}
        for measure in self.timeline[0]:
            if measure == "seconds":
                continue
            cleared[measure] = self.timeline[-1]["seconds"]
            for point in reversed(self.timeline):
                if point[measure]:
                    break
                cleared[measure] = point["seconds"]
        return cleared


def _converge(options: RunOptions, site: Site, sessions: sessionmaker[Session]) -> Convergence:
    """Wait until innsync has nothing pending, every revision is acknowledged, every booking
    is stored in its latest state and every channel shows innsync's ARI."""
    started = time.monotonic()
    deadline = started + CONVERGE_TIMEOUT_SECONDS
    last_report = last_point = -TIMELINE_SECONDS
    outcome = Convergence()
    while time.monotonic() < deadline:
        pending = pending_work(sessions)
        unacked = unacknowledged(site)
        elapsed = time.monotonic() - started
        ari_differs = None
        if elapsed - last_point >= TIMELINE_SECONDS:
            last_point = elapsed
            ari_differs = sum(check_ari(site, sessions).values())
            outcome.timeline.append(
                {
                    "seconds": round(elapsed, 1),
                    **pending,
                    "unacknowledged_on_channels": unacked,
                    "ari_dates_differing": ari_differs,
                    **_held_back(sessions),
                }
            )
        if not any(pending.values()) and not unacked:
            bookings = check_bookings(site, sessions)
            if ari_differs is None:
                ari_differs = sum(check_ari(site, sessions).values())
            if not (bookings.lost or bookings.wrong_state) and not ari_differs:
                outcome.converged = True
                outcome.timeline.append(
                    {**{k: 0 for k in outcome.timeline[-1]}, "seconds": round(elapsed, 1)}
                )
                return outcome
        if elapsed - last_report > 15:
            last_report = elapsed
            options.progress(f"chaos: converging, pending {pending}, {unacked} unacknowledged")
            if 0 < pending["inbox_pending"] <= WAITING_SHOWN:
                for line in waiting_items(sessions, WAITING_SHOWN):
                    options.progress(f"chaos:   waiting: {line}")
        time.sleep(1.0)
    return outcome


def _held_back(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Connections whose breaker is open and buckets waiting out a backoff, right now."""
    now = datetime.now(UTC)
    with sessions() as session:
        breakers = session.scalar(select(func.count()).where(Connection.breaker_open_until > now))
        backing_off = session.scalar(select(func.count()).where(BucketLease.not_before > now))
    return {"breakers_open": int(breakers or 0), "buckets_backing_off": int(backing_off or 0)}


def _webhook_disorder(site: Site) -> dict[str, int]:
    """Deliveries the simulators made, and how many attempts were duplicates or held back."""
    deliveries = duplicates = attempts = 0
    for channel in site.channels:
        for delivery in channel.get("/_sim/webhooks/deliveries")["data"]:
            deliveries += 1
            attempts += len(delivery["attempts"])
            duplicates += sum(1 for attempt in delivery["attempts"] if attempt["is_duplicate"])
    return {"deliveries": deliveries, "attempts": attempts, "duplicates": duplicates}


def _outcome(figures: dict[str, Any], version: str) -> Outcome:
    activity, bookings = figures["activity"], figures["bookings"]
    table = Table(
        "Fault run on PostgreSQL: what was done, and the checks after converging",
        ["measure", "value"],
        [
            ["channels (simulator processes)", str(figures["channels"])],
            ["workload", f"{figures['workload_seconds']:.0f} s"],
            [
                "OTA revisions made",
                f"{activity['booked']} new, {activity['modified']} modified, "
                f"{activity['cancelled']} cancelled",
            ],
            [
                "PMS ARI changes",
                f"{activity['ari_changes']} made, {activity['ari_changes_refused_during_faults']}"
                " refused by the API (database restarting)",
            ],
            ["worker SIGKILLs", str(activity["worker_kills"])],
            [
                "PostgreSQL restart",
                f"{activity['postgres_restart']} ({activity['postgres_restart_seconds']:.1f} s)",
            ],
            [
                "webhook deliveries (attempts, duplicates)",
                f"{figures['webhooks']['deliveries']} ({figures['webhooks']['attempts']}, "
                f"{figures['webhooks']['duplicates']})",
            ],
            [
                "bookings generated / stored exactly once",
                f"{bookings['generated']} / {bookings['stored_once']}",
            ],
            ["lost", str(len(bookings["lost"]))],
            ["duplicated", str(len(bookings["duplicated"]))],
            ["wrong final state", str(len(bookings["wrong_state"]))],
            ["revisions never acknowledged", str(bookings["unacked_revisions"])],
            ["ARI dates differing from desired", str(sum(figures["ari_mismatches"].values()))],
            [
                "ARI calls (injected 429s / limiter 429s)",
                f"{figures['ari_calls']} ({figures['injected_429s']} / {figures['limit_429s']})",
            ],
            ["busiest 60 s per property and class", str(figures["busiest_60s"])],
            ["rate-limit violations", str(figures["rate_limit_violations"])],
            ["time to converge after faults off", f"{figures['converge_seconds']:.1f} s"],
            [
                "each kind of work clear from (s after faults off)",
                ", ".join(
                    f"{measure.replace('_', ' ')} {seconds:.0f}"
                    for measure, seconds in sorted(
                        figures["converge_cleared_at"].items(), key=lambda item: item[1]
                    )
                ),
            ],
        ],
    )
    failed = figures["failed_checks"]
    findings = [
        (
            "All checks passed: zero lost, zero duplicated, zero limit violations, every "
            "channel's ARI equal to innsync's desired state."
            if not failed
            else "FAILED: " + "; ".join(failed)
        ),
        f"Converged {figures['converge_seconds']:.1f} s after the faults stopped (target "
        f"<= {CONVERGE_TARGET_SECONDS:.0f} s: "
        f"{'met' if figures['converge_seconds'] <= CONVERGE_TARGET_SECONDS else 'missed'}). "
        "What bounds it: a SIGKILLed worker's buckets are served again within "
        f"{DEFAULT_LEASE.total_seconds():.0f} s and its inbox items within "
        f"{INBOX_LEASE.total_seconds():.0f} s (leases renewed while working); an open breaker "
        f"probes after {BREAKER_FIRST_PAUSE.total_seconds():.0f} s, then after pauses doubling "
        f"to {BREAKER_MAX_PAUSE.total_seconds():.0f} s while probes fail; a bucket's own "
        f"backoff draws at most {BACKOFF_CAP_SECONDS:.0f} s; a killed worker's claimed pull "
        f"cursors wait out {PULL_LEASE.total_seconds():.0f} s; an inbox item whose revision "
        "fetch failed, or an acknowledgement the channel did not take, waits its backoff (5 s "
        "doubling per attempt) only until the channel answers any call of its connection; an "
        "ARI call given up on a time-out is not retried before it could have landed late "
        f"({CHANNEL_TIMEOUT_SECONDS:.0f} s more); after a 429, Channex's pause of "
        f"{RATE_LIMIT_PAUSE_SECONDS:.0f} s (channex.md §1.3: pause the property for a minute) "
        "holds every call of that property's bucket, so a 429 in the faults' last second alone "
        "holds convergence that long.",
    ]
    return Outcome(
        sizes=(
            f"{figures['channels']} Channex simulator processes, 1 property of {ROOMS} room "
            f"types x {UNITS} units, {figures['workload_seconds']:.0f} s of workload; faults "
            "5xx 30 %, injected 429 10 %, time-outs 5 % (simulator sleeps "
            f"{SIMULATOR_TIMEOUT_SECONDS:.0f} s, innsync gives up after "
            f"{CHANNEL_TIMEOUT_SECONDS:.0f} s), webhooks duplicated 30 % and held back 30 %; "
            f"one of two workers SIGKILLed every {KILL_EVERY_SECONDS:.0f} s; PostgreSQL "
            f"restarted half-way; seed {SEED}"
        ),
        tables=[table],
        findings=findings,
        data=figures,
        versions={"postgresql": version},
    )
