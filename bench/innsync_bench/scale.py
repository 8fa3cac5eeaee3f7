"""scale: a full sync of 100, 1,000 and 10,000 properties on PostgreSQL with two workers.

Every property has 2 room types x 2 rate plans, 500 days of varied ARI and its own Channex
connection to one simulator process (at Channex's real limit). The connections are on one
operator channel account, as a PMS vendor's fleet is on its Channex account: the booking feed,
which covers the account, is read once for all of them (``inbox.account_feeds``). The hotels
are added to one private database as the sizes grow; for each size, two fresh ``innsync
worker`` processes are started, every connection's full sync is started in one go (the nightly
schedule's work when all properties fall due at once), and the clock runs until no dirty mark is
left. Requests are counted by the simulator; peak memory is each worker's VmHWM. Growth is
reported as the ratio of cost per property between consecutive sizes (1.0 = linear).

Setting up 10,000 hotels through the services takes a while, so the calendar of each new hotel
is copied in SQL from a template hotel written through ``write_ari`` (prices shifted per hotel),
which gives the same rows the API would have written.

PostgreSQL keeps the planner's statistics up to date through autovacuum, which analyzes a table
once a tenth of its rows changed. Where the server runs without it (this machine's CI
configuration), the bench analyzes instead at the two moments autovacuum would: once a size is
set up (the tables grew tenfold), and once every full sync is started (60,000 dirty marks
where there were none; counted in the time to converge). Without statistics the planner reads
every connection and every mark where an index gives the few it needs, on each of the
workers' passes, and the cost per property grows with the fleet for that reason alone. While a
size converges it also vacuums the dirty marks' table once a minute (autovacuum's own
cadence): the workers delete marks as fast as they send, and reading past the deleted rows
made each look for the marks left cost more the longer a size ran.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from innsync.connections.accounts import create_account, grant_account
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.connections.service import start_full_syncs
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import session_factory, transaction
from innsync.db.personal import install_keys
from innsync.inventory.models import RateCalendarRun
from innsync.outbox.models import DirtyMark
from innsync.tenants.service import create_tenant
from innsync_bench import profiling
from innsync_bench.channex_side import Simulator, channex_simulator, provision_many
from innsync_bench.databases import (
    analyze,
    autovacuum_on,
    postgres_database,
    postgres_version,
    vacuum,
)
from innsync_bench.hotels import Hotel, create_hotel, map_to_channex, seed_varied_ari
from innsync_bench.processes import (
    INNSYNC,
    cpu_seconds,
    innsync_env,
    machine_busy_seconds,
    peak_rss_bytes,
    running,
)
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table
from innsync_bench.simulator_server import API_KEY

TITLE = "full sync of 100 to 10,000 properties on PostgreSQL with two workers"
SIZES, QUICK_SIZES = (100, 1_000, 10_000), (4, 8)
# Issue #18: the cost per property may grow at most this much from one size to the next.
GROWTH_TARGET = 1.10
# The operator's Channex account every connection of the fleet is on.
ACCOUNT = "bench-channex"
WORKERS = 2
ROOMS, PLANS_PER_ROOM = 2, 2
# A size whose full sync has not converged after this long is reported as far as it got: an
# hour, because 10,000 properties at Channex's real limit take over half an hour on 2 cores.
CONVERGE_TIMEOUT_SECONDS = 3600.0
# Hotels created per transaction while setting up.
SETUP_BATCH = 200
# A size whose full sync, projected linearly from the previous size, would not converge within
# the cap is not attempted (setting it up alone would take a good part of that time again).
SKIP_PROJECTED_SECONDS = CONVERGE_TIMEOUT_SECONDS
PROFILE_SECONDS = 20.0
# How often the marks' table is vacuumed while a size converges, on a server without autovacuum
# (autovacuum_naptime's default).
VACUUM_SECONDS = 60.0
# How long a worker may take to start (imports, connecting): minutes on a loaded machine.
WORKER_START_SECONDS = 300.0


@dataclass
class Fleet:
    """Every hotel created so far, and the template whose calendar new hotels copy."""

    tenant_id: uuid.UUID
    template: Hotel | None = None
    hotels: list[Hotel] = field(default_factory=list)


def run(options: RunOptions) -> Outcome:
    sizes = QUICK_SIZES if options.quick else _sizes()
    key = generate_key()
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    measured: list[dict[str, Any]] = []
    with (
        postgres_database(options.postgres_server, "scale") as (url, engine),
        channex_simulator(
            options.workdir, log_size=12 * max(sizes) + 10_000, calls_per_minute=10
        ) as simulator,
    ):
        versions = {"postgresql": postgres_version(engine)}
        # Off: analyzed by the bench where autovacuum would have analyzed (see above).
        stand_in = not autovacuum_on(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            fleet = Fleet(create_tenant(session, "Bench")[0].id)
            create_account(
                session,
                box,
                "channex",
                ACCOUNT,
                {"base_url": simulator.api_url, "api_key": API_KEY},
            )
            grant_account(session, ACCOUNT, fleet.tenant_id)
        for size in sizes:
            if measured and _projected_seconds(measured[-1], size) > SKIP_PROJECTED_SECONDS:
                options.progress(f"scale: {size} properties projected too slow; stopping")
                break
            started = time.monotonic()
            _grow(options, sessions, box, simulator, fleet, size)
            if stand_in:
                analyze(engine)
            options.progress(
                f"scale: {size} properties ready in {time.monotonic() - started:.0f} s; syncing"
            )
            figures = _full_sync(
                options,
                sessions,
                engine,
                url,
                key,
                simulator,
                fleet,
                profile=not options.quick,
                stand_in=stand_in,
            )
            measured.append({"properties": size, **figures})
            if not figures["converged"]:
                break
    return _outcome(sizes, measured, versions, analyzed=stand_in)


def _sizes() -> tuple[int, ...]:
    """The sizes to run: ``INNSYNC_BENCH_SCALE_SIZES`` (e.g. ``100,1000``) or all of SIZES."""
    given = os.environ.get("INNSYNC_BENCH_SCALE_SIZES", "").strip()
    if not given:
        return SIZES
    return tuple(int(size) for size in given.split(",") if size.strip())


def _grow(
    options: RunOptions,
    sessions: sessionmaker[Session],
    box: SecretBox,
    simulator: Simulator,
    fleet: Fleet,
    size: int,
) -> None:
    """Add hotels until the fleet has ``size``; their marks are cleared (the sync starts later)."""
    missing = size - len(fleet.hotels)
    options.progress(f"scale: creating {missing} hotels in the simulator")
    channex_hotels = provision_many(simulator, missing, ROOMS, PLANS_PER_ROOM)
    for first in range(0, missing, SETUP_BATCH):
        with transaction(sessions) as session:
            for channex in channex_hotels[first : first + SETUP_BATCH]:
                hotel = create_hotel(
                    session,
                    box,
                    fleet.tenant_id,
                    f"Hotel {len(fleet.hotels)}",
                    rooms=ROOMS,
                    plans_per_room=PLANS_PER_ROOM,
                    connection=ConnectionCreate(
                        channel="channex",
                        name="Channex",
                        config={"account": ACCOUNT, "property_id": channex.property_id},
                    ),
                )
                if fleet.template is None:
                    seed_varied_ari(session, hotel)
                    fleet.template = hotel
                else:
                    _copy_calendar(session, fleet.template, hotel, len(fleet.hotels))
                map_to_channex(session, hotel, channex)
                # Mapping sends everything, which is a full sync: the nightly schedule must not
                # start another before the measured one.
                connection = session.get_one(Connection, hotel.connection_id)
                connection.last_full_sync_at = datetime.now(UTC)
                fleet.hotels.append(hotel)
        options.progress(f"scale: {len(fleet.hotels)} hotels in innsync")
    with transaction(sessions) as session:
        session.execute(delete(DirtyMark))


def _copy_calendar(session: Session, template: Hotel, hotel: Hotel, index: int) -> None:
    """The template's calendar runs for the new hotel's plans, prices shifted by the hotel (a
    shift of every price keeps the runs apart that were apart: the runs stay as folded)."""
    table = RateCalendarRun.__tablename__
    columns = [column.name for column in RateCalendarRun.__table__.columns]
    copied = ", ".join(columns)
    chosen = ", ".join(
        {"rate_plan_id": ":new_id", "price": "price + :bump"}.get(name, name) for name in columns
    )
    for ours, theirs in zip(template.all_plan_ids, hotel.all_plan_ids, strict=True):
        session.execute(
            text(
                f"INSERT INTO {table} ({copied}) SELECT {chosen} FROM {table} "  # noqa: S608  (names from the model)
                "WHERE rate_plan_id = :template_id"
            ),
            {"new_id": theirs, "template_id": ours, "bump": index % 40},
        )


@contextmanager
def _workers(options: RunOptions, url: str, key: str, size: int) -> Iterator[list[int]]:
    """``WORKERS`` fresh ``innsync worker`` processes; yields their pids once they run."""
    with ExitStack() as stack:
        started = []
        for number in range(WORKERS):
            log = options.workdir / f"worker-{size}-{number}.log"
            process = stack.enter_context(
                running([*INNSYNC, "worker"], log, env=innsync_env(url, key))
            )
            started.append((log, process.pid))
        for log, pid in started:
            _wait_for_line(log, "worker running", pid)
        yield [pid for _, pid in started]


def _wait_for_line(log: Path, line: str, pid: int) -> None:
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        if log.exists() and line in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"worker {pid} did not start: {log.read_text(errors='replace')[-2000:]}")


def _full_sync(
    options: RunOptions,
    sessions: sessionmaker[Session],
    engine: Engine,
    url: str,
    key: str,
    simulator: Simulator,
    fleet: Fleet,
    *,
    profile: bool,
    stand_in: bool,
) -> dict[str, Any]:
    size = len(fleet.hotels)
    simulator_cpu = cpu_seconds(simulator.pid)
    with _workers(options, url, key, size) as pids:
        machine_busy = machine_busy_seconds()
        started_wall = datetime.now(UTC)
        started = time.monotonic()
        with transaction(sessions) as session:
            start_full_syncs(session, session.scalars(select(Connection)).all())
        if stand_in:
            analyze(engine, DirtyMark.__tablename__)
        start_seconds = time.monotonic() - started
        total_marks = _marks(sessions)
        sampler, profile_out = None, options.workdir / f"profile-scale-{size}.txt"
        if profile and not options.quick:
            sampler = profiling.start(pids[0], PROFILE_SECONDS, profile_out)
        last_report = last_vacuum = started
        converged = False
        while time.monotonic() - started < CONVERGE_TIMEOUT_SECONDS:
            if not _any_marks(sessions):
                converged = True
                break
            if stand_in and time.monotonic() - last_vacuum > VACUUM_SECONDS:
                last_vacuum = time.monotonic()
                vacuum(engine, DirtyMark.__tablename__)
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                options.progress(
                    f"scale: {size} properties, {_marks(sessions)}/{total_marks} marks left "
                    f"after {last_report - started:.0f} s"
                )
            time.sleep(0.25)
        seconds = time.monotonic() - started
        synced = size - _connections_with_marks(sessions)
        rss = [peak_rss_bytes(pid) for pid in pids]
        worker_cpu = sum(cpu_seconds(pid) for pid in pids)
        machine_busy = machine_busy_seconds() - machine_busy
        profile_lines = (
            profiling.summarise(sampler, profile_out, focus="innsync") if sampler else []
        )
    log = simulator.requests()
    since = started_wall.timestamp()
    window = [row for row in log if datetime.fromisoformat(row["at"]).timestamp() >= since]
    ari = [r for r in window if r["endpoint_class"] in ("availability", "restrictions")]
    return {
        "converged": converged,
        "synced_properties": synced,
        "seconds": seconds,
        "start_seconds": start_seconds,
        "requests": len(window),
        "ari_requests": len(ari),
        "ari_bytes": sum(r["body_bytes"] for r in ari),
        "rate_limited": sum(r["status"] == 429 for r in window),
        "worker_peak_rss_bytes": rss,
        "worker_cpu_seconds": worker_cpu,
        "simulator_cpu_seconds": cpu_seconds(simulator.pid) - simulator_cpu,
        # Every process on the machine while the size converged: the workers, the simulator,
        # PostgreSQL (on this machine) and this process's polling.
        "machine_cpu_seconds": machine_busy,
        "profile": profile_lines,
    }


def _projected_seconds(previous: dict[str, Any], size: int) -> float:
    per_property = previous["seconds"] / max(previous["synced_properties"], 1)
    return float(per_property * size)


def _per_property(figures: dict[str, Any], name: str) -> str:
    """Milliseconds of CPU per synced property; ``others``: the machine's less the workers'
    and the simulator's."""
    if name == "others":
        seconds = (
            figures["machine_cpu_seconds"]
            - figures["worker_cpu_seconds"]
            - figures["simulator_cpu_seconds"]
        )
    else:
        seconds = figures[name]
    return f"{1000 * seconds / max(figures['synced_properties'], 1):.0f}"


def _any_marks(sessions: sessionmaker[Session]) -> bool:
    """Is any dirty mark left? Polled four times a second: it stops at the first mark, where a
    count would read every one (60,000 at 10,000 properties), in the machine being measured."""
    with sessions() as session:
        return bool(session.scalar(select(select(DirtyMark.id).limit(1).exists())))


def _marks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DirtyMark)) or 0)


def _connections_with_marks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count(func.distinct(DirtyMark.connection_id)))) or 0)


def _outcome(
    sizes: tuple[int, ...],
    measured: list[dict[str, Any]],
    versions: dict[str, str],
    *,
    analyzed: bool,
) -> Outcome:
    rows, findings = [], []
    previous: dict[str, Any] | None = None
    for figures in measured:
        size = figures["properties"]
        per_property = figures["seconds"] / max(figures["synced_properties"], 1)
        figures["seconds_per_property"] = per_property
        growth = "—"
        if previous is not None:
            ratio = per_property / previous["seconds_per_property"]
            figures["growth_vs_previous"] = ratio
            growth = f"{ratio:.2f}"
        peak = max(figures["worker_peak_rss_bytes"]) / 2**20
        rows.append(
            [
                f"{size:,}" + ("" if figures["converged"] else " (stopped)"),
                f"{figures['seconds']:.1f}"
                + ("" if figures["converged"] else f" ({figures['synced_properties']:,} synced)"),
                f"{1000 * per_property:.0f}",
                growth,
                f"{figures['ari_requests']:,} ({figures['ari_requests'] / size:.2f}/property)",
                f"{figures['requests']:,}",
                str(figures["rate_limited"]),
                f"{peak:.0f}",
                f"{figures['worker_cpu_seconds']:.0f}",
            ]
        )
        previous = figures
    if len(measured) < len(sizes) or not measured[-1]["converged"]:
        last = measured[-1]
        how = (
            f"did not converge within {CONVERGE_TIMEOUT_SECONDS:.0f} s "
            f"({last['synced_properties']:,} synced)"
            if not last["converged"]
            else f"was the largest size run: the next, projected linearly, would take over "
            f"{SKIP_PROJECTED_SECONDS / 60:.0f} min"
        )
        findings.append(
            f"Stopped at {last['properties']:,} properties, which {how}. At the measured "
            f"{1000 * last['seconds_per_property']:.0f} ms per property, {sizes[-1]:,} "
            f"properties would take about {sizes[-1] * last['seconds_per_property'] / 60:.0f} "
            "min with two workers on this machine."
        )
    growths = [f["growth_vs_previous"] for f in measured if "growth_vs_previous" in f]
    if growths:
        worst = max(growths)
        findings.append(
            f"Cost per property grows by x{worst:.2f} at worst between sizes "
            f"(target ≤ x{GROWTH_TARGET:.2f}, issue #18): "
            + ("met" if worst <= GROWTH_TARGET else "missed")
            + "."
        )
    if analyzed:
        findings.append(
            "This PostgreSQL server runs with autovacuum off, so the bench ran ANALYZE where "
            "autovacuum would have: after setting up each size, and after starting the full "
            "syncs (the dirty marks' table; counted in the time to converge); and VACUUM of "
            "the dirty marks' table once a minute while a size converged."
        )
    if measured:
        findings.append(
            "Worker CPU per property: "
            + ", ".join(
                f"{1000 * f['worker_cpu_seconds'] / max(f['synced_properties'], 1):.0f} ms "
                f"at {f['properties']:,}"
                for f in measured
            )
            + "; starting every full sync (one transaction, counted in the time to converge): "
            + ", ".join(f"{f['start_seconds']:.1f} s" for f in measured)
            + ". All requests include each connection's own turn (its OTA list), when it is "
            "created and then every hour, and the account's feed read every minute, so they "
            "grow with the time a size takes."
        )
    if any("machine_cpu_seconds" in f for f in measured):
        findings.append(
            "CPU per property of the whole machine while a size converged (workers, simulator, "
            "PostgreSQL; the time to converge follows it once the cores are busy): "
            + ", ".join(
                f"{_per_property(f, 'machine_cpu_seconds')} ms at {f['properties']:,} "
                f"(simulator {_per_property(f, 'simulator_cpu_seconds')}, other than the "
                f"workers and the simulator {_per_property(f, 'others')})"
                for f in measured
                if "machine_cpu_seconds" in f
            )
            + "."
        )
    for figures in measured:
        if figures["profile"]:
            findings.append(
                f"Worker profile at {figures['properties']:,} properties: "
                + "; ".join(figures["profile"])
                + "."
            )
    table = Table(
        "Full sync on PostgreSQL, two `innsync worker` processes",
        [
            "properties",
            "time to converge (s)",
            "ms per property",
            "growth per property vs previous size",
            "ARI requests",
            "all requests",
            "429s",
            "peak RSS per worker (MiB)",
            "worker CPU (s)",
        ],
        rows,
    )
    return Outcome(
        sizes=(
            ", ".join(f"{size:,}" for size in sizes)
            + f" properties of {ROOMS} room types x {PLANS_PER_ROOM} rate plans, 500 days of "
            f"varied ARI each; {WORKERS} worker processes; one simulator process at Channex's "
            f"real limit; a size not converged within {CONVERGE_TIMEOUT_SECONDS:.0f} s stops "
            "the run"
        ),
        tables=[table],
        findings=findings,
        data={"sizes": measured},
        versions=versions,
    )
