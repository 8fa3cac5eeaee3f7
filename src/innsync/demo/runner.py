"""``innsync demo`` from start to verdict: fresh SQLite, both servers, the hotel, traffic, the
live summary, and the final check once innsync has caught up."""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.channex.mapping import first_open_date
from innsync.crypto import SecretBox, load_or_create_key_file
from innsync.db.engine import build_engine, session_factory, transaction
from innsync.db.migrate import upgrade
from innsync.db.personal import install_keys
from innsync.demo import verify
from innsync.demo.beds24 import run_beds24_demo
from innsync.demo.beds24_check import Beds24Report
from innsync.demo.hotel import TIMEZONE, DemoHotel, create_hotel
from innsync.demo.outage import ALERT_SETTINGS, Outage, run_outage
from innsync.demo.processes import INNSYNC, child_env, running
from innsync.demo.simulator import API_KEY as SIM_API_KEY
from innsync.demo.summary import ChannexView, InnsyncView, summary_line
from innsync.demo.traffic import OVERBOOK_EVERY, TrafficGenerator
from innsync.tenants.service import create_tenant

Echo = Callable[[str], None]
DATABASE = "innsync.sqlite3"
INNSYNC_LOG = "innsync.log"
SIMULATOR_LOG = "simulator.log"
REPORT = "verification.txt"
# How often the catch-up wait looks again, and how many clean looks in a row count as done
# (two: a booking delivered between the two reads shows up in the second).
SETTLE_POLL_SECONDS = 1.0
SETTLE_CLEAN_LOOKS = 2
# Progress lines while waiting for innsync to catch up.
SETTLE_PROGRESS_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    port: int = 8080
    sim_port: int = 8090
    minutes: float | None = None  # None: until Ctrl-C
    seed: int = 1
    data_dir: Path | None = None  # None: a fresh temporary directory
    rate: float = 1.0  # traffic events per second, on average
    # Channex's limit is 20 calls a minute per property and a missed webhook waits for the next
    # feed read, so a large backlog takes minutes to drain; five is a generous bound.
    settle_seconds: float = 300.0
    summary_seconds: float = 5.0
    overbook_every: int = OVERBOOK_EVERY  # events between two deliberate overbookings
    channel: str = "channex"  # or "beds24" (demo/beds24.py)
    outage: Outage | None = None  # a scheduled channel outage (Channex demo only)


class DemoError(RuntimeError):
    """The demo cannot start: a port is taken or the data directory is not fresh."""


def run_demo(options: DemoOptions, echo: Echo) -> verify.Report | Beds24Report:
    """Run the whole demo; the report says whether both sides agreed at the end."""
    data_dir = _fresh_data_dir(options.data_dir)
    for port in (options.port, options.sim_port):
        _check_port_free(port)
    if options.channel == "beds24":
        return run_beds24_demo(
            data_dir,
            port=options.port,
            sim_port=options.sim_port,
            seconds=None if options.minutes is None else options.minutes * 60,
            seed=options.seed,
            rate=options.rate,
            settle_seconds=options.settle_seconds,
            echo=echo,
        )
    database_url = f"sqlite:///{data_dir / DATABASE}"
    engine = build_engine(database_url)
    try:
        upgrade(engine)
        # The key file the services will use, made here: the checks read guests' details too.
        install_keys(SecretBox(load_or_create_key_file(data_dir / "secret.key")))
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            _, issued = create_tenant(session, "Demo Hotels")
            api_key = issued.secret
        env = child_env(
            {
                "INNSYNC_DATABASE_URL": database_url,
                "INNSYNC_SECRET_KEY_FILE": str(data_dir / "secret.key"),
                "INNSYNC_LOG_LEVEL": "INFO",
                "INNSYNC_LOG_JSON": "true",
                **(ALERT_SETTINGS if options.outage is not None else {}),
            }
        )
        innsync_root = f"http://127.0.0.1:{options.port}"
        sim_root = f"http://127.0.0.1:{options.sim_port}"
        with ExitStack() as servers:
            echo(f"starting the Channex simulator on {sim_root} and innsync on {innsync_root} ...")
            simulator = [sys.executable, "-m", "innsync.demo.simulator"]
            servers.enter_context(
                running(
                    [*simulator, "--port", str(options.sim_port), "--seed", str(options.seed)],
                    data_dir / SIMULATOR_LOG,
                    env,
                    f"{sim_root}/_sim/faults",
                )
            )
            serve = ["serve", "--host", "127.0.0.1", "--port", str(options.port), "--no-migrate"]
            servers.enter_context(
                running([*INNSYNC, *serve], data_dir / INNSYNC_LOG, env, f"{innsync_root}/readyz")
            )
            session_run = _DemoSession(
                options, echo, data_dir, sessions, api_key, innsync_root, sim_root
            )
            report = asyncio.run(session_run.run())
            echo("stopping innsync and the simulator ...")
    finally:
        engine.dispose()
    (data_dir / REPORT).write_text("\n".join(report.lines()) + "\n")
    return report


@dataclass
class _DemoSession:
    options: DemoOptions
    echo: Echo
    data_dir: Path
    sessions: sessionmaker[Session]
    api_key: str
    innsync_root: str
    sim_root: str

    async def run(self) -> verify.Report:
        stop = asyncio.Event()  # first Ctrl-C: stop the traffic, then check
        hurry = asyncio.Event()  # second Ctrl-C: stop waiting for innsync, check now
        loop = asyncio.get_running_loop()

        def interrupted() -> None:
            (hurry if stop.is_set() else stop).set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupted)
        auth = {"authorization": f"Bearer {self.api_key}"}
        async with (
            httpx.AsyncClient(
                base_url=f"{self.innsync_root}/api/v1", headers=auth, timeout=60
            ) as api,
            httpx.AsyncClient(
                base_url=self.sim_root, headers={"user-api-key": SIM_API_KEY}, timeout=60
            ) as sim_async,
        ):
            webhook_secret = secrets.token_urlsafe(24)
            hotel = await create_hotel(api, f"{self.sim_root}/api/v1", SIM_API_KEY, webhook_secret)
            self._banner(hotel)
            traffic = TrafficGenerator(
                hotel,
                api,
                sim_async,
                rate=self.options.rate,
                seed=self.options.seed,
                overbook_every=self.options.overbook_every,
            )
            with httpx.Client(base_url=self.sim_root, timeout=120) as sim:
                started = time.monotonic()
                generating = asyncio.create_task(traffic.run(stop))
                summaries = asyncio.create_task(self._summaries(hotel, traffic, sim, stop, started))
                outage = self.options.outage
                breaking = asyncio.create_task(
                    run_outage(
                        outage,
                        sim_async,
                        stop,
                        self.echo,
                        traffic.set_channel_outage,
                    )
                    if outage is not None
                    else asyncio.sleep(0)
                )
                limit = None if self.options.minutes is None else self.options.minutes * 60
                try:
                    await asyncio.wait_for(stop.wait(), timeout=limit)
                except TimeoutError:
                    stop.set()
                await generating
                await summaries
                await breaking
                self.echo(
                    f"traffic stopped after {traffic.tally.events} events; waiting for innsync "
                    f"to catch up (at most {self.options.settle_seconds:.0f} s, Ctrl-C to stop "
                    "waiting) ..."
                )
                settled = await self._settle(hotel, sim, hurry)
                report = await asyncio.to_thread(self._verify, hotel, sim, traffic, settled)
            alerts = (await api.get("/alerts", params={"limit": 100})).json()
        for line in report.lines():
            self.echo(line)
        if self.options.outage is not None:
            self.echo(f"OTA bookings not made while Channex was down: {traffic.tally.ota_blind}")
        for line in alert_lines(alerts):
            self.echo(line)
        return report

    def _banner(self, hotel: DemoHotel) -> None:
        d = self.data_dir
        until = (
            "until Ctrl-C"
            if self.options.minutes is None
            else f"for {self.options.minutes:g} minutes"
        )
        for line in (
            "",
            "innsync demo is running",
            f"  innsync API docs    {self.innsync_root}/docs   (ready: {self.innsync_root}/readyz)",
            f"  API key (admin)     {self.api_key}",
            f"  demo hotel          property {hotel.property_id}, connection {hotel.connection_id}",
            f"  reservations        curl -H 'Authorization: Bearer {self.api_key}' "
            f"{self.innsync_root}/api/v1/properties/{hotel.property_id}/reservations",
            f"  Channex simulator   {self.sim_root}/_sim/ari  {self.sim_root}/_sim/bookings  "
            f"{self.sim_root}/_sim/counters  {self.sim_root}/_sim/requests",
            f"  data directory      {d}",
            f"  logs                {d / INNSYNC_LOG}, {d / SIMULATOR_LOG}",
            f"  use the database    INNSYNC_DATABASE_URL=sqlite:///{d / DATABASE} "
            f"INNSYNC_SECRET_KEY_FILE={d / 'secret.key'} innsync ...",
            f"traffic: about {self.options.rate:g} events a second {until}; then innsync "
            "catches up and both sides are compared",
            "",
        ):
            self.echo(line)

    async def _summaries(
        self,
        hotel: DemoHotel,
        traffic: TrafficGenerator,
        sim: httpx.Client,
        stop: asyncio.Event,
        started: float,
    ) -> None:
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.options.summary_seconds)
            if stop.is_set():
                return
            channex, ours = await asyncio.to_thread(self._views, hotel, sim)
            self.echo(summary_line(time.monotonic() - started, traffic.tally, channex, ours))

    def _views(self, hotel: DemoHotel, sim: httpx.Client) -> tuple[ChannexView, InnsyncView]:
        return (
            ChannexView.read(sim, hotel.channex_property_id),
            InnsyncView.read(self.sessions, hotel.property_id, hotel.connection_id),
        )

    async def _settle(self, hotel: DemoHotel, sim: httpx.Client, hurry: asyncio.Event) -> bool:
        deadline = time.monotonic() + self.options.settle_seconds
        next_progress = time.monotonic() + SETTLE_PROGRESS_SECONDS
        clean = 0
        while not hurry.is_set():
            work = await asyncio.to_thread(self._unfinished, hotel, sim)
            clean = 0 if work else clean + 1
            if clean >= SETTLE_CLEAN_LOOKS:
                self.echo("innsync has caught up")
                return True
            now = time.monotonic()
            if now > deadline:
                self.echo(f"gave up waiting; still to do: {_describe(work)}")
                return False
            if work and now >= next_progress:
                self.echo(f"  still to do: {_describe(work)}")
                next_progress = now + SETTLE_PROGRESS_SECONDS
            with suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), timeout=SETTLE_POLL_SECONDS)
        self.echo("stopped waiting (Ctrl-C)")
        return False

    def _unfinished(self, hotel: DemoHotel, sim: httpx.Client) -> dict[str, int]:
        revisions = sim.get("/_sim/bookings").json()["data"]
        return verify.unfinished_work(self.sessions, hotel, revisions)

    def _verify(
        self, hotel: DemoHotel, sim: httpx.Client, traffic: TrafficGenerator, settled: bool
    ) -> verify.Report:
        channex = ChannexView.read(sim, hotel.channex_property_id)
        # Channex takes no past dates: what it shows for today on is what can be compared.
        today = first_open_date(datetime.now(UTC), ZoneInfo(TIMEZONE))
        ari = verify.check_ari(
            self.sessions, hotel, sim.get("/_sim/ari").json()["data"], max(today, hotel.synced_from)
        )
        bookings = verify.check_bookings(
            self.sessions,
            hotel,
            sim.get("/_sim/bookings").json()["data"],
            traffic.tally.expected_overbooked,
        )
        logs = verify.check_logs([self.data_dir / INNSYNC_LOG, self.data_dir / SIMULATOR_LOG])
        return verify.Report(
            ari=ari,
            bookings=bookings,
            logs=logs,
            rate_limited=channex.rate_limited,
            ari_calls=channex.ari_calls,
            settled=settled,
            refused_traffic=traffic.tally.refused,
        )


def alert_lines(alerts: list[dict[str, Any]]) -> list[str]:
    """The alerts of the run, oldest first, as ``GET /api/v1/alerts`` lists them."""
    lines = [f"alerts: {len(alerts)} opened during the run"]
    for alert in sorted(alerts, key=lambda a: str(a["opened_at"])):
        resolved = alert["resolved_at"] or "still open"
        lines.append(
            f"  {alert['rule']} on {alert['subject_kind']} {alert['subject_id']}: "
            f"opened {alert['opened_at']}, resolved {resolved}"
        )
    return lines


def _describe(work: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in work.items()) or "nothing"


def _fresh_data_dir(wanted: Path | None) -> Path:
    if wanted is None:
        return Path(tempfile.mkdtemp(prefix="innsync-demo-"))
    wanted.mkdir(parents=True, exist_ok=True)
    if (wanted / DATABASE).exists():
        raise DemoError(f"{wanted} already holds a demo database; give a new or empty directory")
    return wanted


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        # As uvicorn binds: a port left in TIME_WAIT by an earlier run is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DemoError(f"port {port} is in use ({exc.strerror}); choose another") from exc
