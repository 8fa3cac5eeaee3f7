"""Abuse of innsync's HTTP front door against a real ``innsync serve`` (issue #19, items 2 to 4).

Reproduces what a careless or hostile client does, one phase after another, while a prober
measures ``/healthz`` and a sampler reads the server's memory and open files from /proc:

1. ``idle``: the prober alone (the baseline).
2. ``big_chunked_uploads``: several 1 GB chunked uploads to ``/hooks/x`` in parallel.
3. ``stalled_uploads``: thousands of uploads that send their headers and 1 KB, then stall.
4. ``stalled_headers``: connections that never finish their headers (slowloris).
5. ``slow_drip``: one upload sending a byte every 2 seconds.
6. ``bulk_ari_write``: one tenant's 1,000 entries x 750 days ARI write over the API while a
   second tenant makes single-day ARI writes (paced as ``innsync bench bulk_write``'s others).

Prints a summary and writes ``bench/results/stress_http.json`` (the format of ``innsync bench``,
so ``docs/benchmarks.md``'s generated block shows it too). Run from the repository root:

    .venv/bin/python bench/stress_http.py           # the figures in docs/benchmarks.md
    .venv/bin/python bench/stress_http.py --quick   # reduced sizes and time-outs, ~30 s

The server runs with the production defaults of the limits (``--quick`` shortens the time-outs);
the figures to read are: peak RSS (bounded: the uploads never grow it by their size), open file
descriptors (bounded by the caps and released by the time-outs), ``/healthz`` p99, and during
the bulk write its time and status and the other tenant's write p50/p99 and 5xx (503 apart).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import Engine

from innsync.crypto import generate_key
from innsync.db.engine import build_engine, session_factory, transaction
from innsync.properties.models import Property
from innsync.properties.service import property_today
from innsync.settings import Settings
from innsync_bench import bulk_write
from innsync_bench.databases import sqlite_database
from innsync_bench.measures import percentile
from innsync_bench.processes import INNSYNC, free_port, innsync_env, peak_rss_bytes, running
from innsync_bench.registry import names as scenario_names
from innsync_bench.results import (
    Outcome,
    Result,
    Table,
    machine,
    refresh_docs,
    versions,
    write_result,
)

NAME = "stress_http"
TITLE = "abuse of the HTTP front door: huge, stalled and slow uploads; /healthz meanwhile"
ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
CHUNK = 64 * 1024
# The abusive clients connect from here, the /healthz prober from 127.0.0.1: an attacker and an
# orchestrator are different hosts (any 127.x address reaches the loopback server on Linux).
ATTACKER = "127.0.0.2"


@dataclass(frozen=True)
class Sizes:
    uploads: int  # parallel chunked uploads
    upload_bytes: int  # what each would send if nobody stopped it
    stalled: int  # stalled uploads
    slowloris: int  # connections that never finish their headers
    drip_interval: float  # seconds between the slow upload's bytes
    body_timeout: float
    header_timeout: float
    bulk: bulk_write.Size  # the bulk ARI write's entries and days (``others`` is unused here)


FULL = Sizes(
    4, 1024 * MB, 3000, 1000, 2.0, Settings().http_body_timeout_seconds, 10.0, bulk_write.FULL
)
# Bigger than ``bulk_write --quick``'s write, so that a few of the other tenant's writes overlap it.
QUICK = Sizes(2, 64 * MB, 300, 100, 0.5, 2.0, 2.0, bulk_write.Size(20, 10, 180, 0))


@dataclass(frozen=True)
class BulkTenants:
    """The bulk ARI write phase's two tenants, seeded before the server starts."""

    bulk: bulk_write.Hotel
    other: bulk_write.Hotel
    today: date


def seed_bulk_tenants(engine: Engine, size: bulk_write.Size) -> BulkTenants:
    """A tenant with ``size``'s plans pushing to a channel, and a second tenant with one plan."""
    with transaction(session_factory(engine)) as session:
        bulk = bulk_write.seed_hotel(
            session, "bulk", size.room_types, size.plans_per_room, connected=True
        )
        other = bulk_write.seed_hotel(session, "other", 1, 1, connected=False)
        today = property_today(session.get_one(Property, bulk.property_id), datetime.now(UTC))
    return BulkTenants(bulk, other, today)


def stored_calendar(url: str, tenants: BulkTenants) -> tuple[int, int]:
    """The bulk tenant's stored plan-days (all ``entries x days`` of them after a 200) and the
    calendar rows (runs of equal days) holding them."""
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            return bulk_write.stored_calendar(connection, tenants.bulk.plan_ids)
    finally:
        engine.dispose()


@dataclass
class BulkFigures:
    """What the bulk write phase saw from the clients' side."""

    status: str = "-"
    seconds: float = 0.0
    other_ms: list[float] = field(default_factory=list)  # the writes that overlapped the bulk one
    other_statuses: list[str] = field(default_factory=list)  # every write's, baseline included


async def bulk_ari_write(base_url: str, tenants: BulkTenants, size: bulk_write.Size) -> BulkFigures:
    """The bulk write over the API while the other tenant writes one day every 20 ms."""
    figures = BulkFigures()
    request = bulk_write.bulk_request(tenants.bulk, tenants.today, size.days, Decimal("100"))
    body = request.model_dump_json(exclude_unset=True).encode()
    finished = asyncio.Event()
    spans: list[tuple[float, float]] = []

    def client(hotel: bulk_write.Hotel) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {hotel.api_key}", "content-type": "application/json"}
        return httpx.AsyncClient(base_url=f"{base_url}/api/v1", headers=headers, timeout=600)

    async def other_writes(api: httpx.AsyncClient) -> None:
        other, turn = tenants.other, 0
        while not finished.is_set():
            stay = (tenants.today + timedelta(days=turn % 300)).isoformat()
            entry = {"rate_plan_id": str(other.plan_ids[0]), "date_from": stay, "date_to": stay}
            started = time.perf_counter()
            try:
                answer = await api.post(
                    f"/properties/{other.property_id}/ari",
                    json={"entries": [{**entry, "price": str(80 + turn % 50)}]},
                )
                status = str(answer.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            spans.append((started, time.perf_counter()))
            figures.other_statuses.append(status)
            turn += 1
            await asyncio.sleep(bulk_write.OTHERS_PACE)

    async with client(tenants.bulk) as bulk_api, client(tenants.other) as other_api:
        others = asyncio.ensure_future(other_writes(other_api))
        await asyncio.sleep(0.5)  # the other tenant's baseline before the bulk write starts
        started = time.perf_counter()
        try:
            answer = await bulk_api.post(
                f"/properties/{tenants.bulk.property_id}/ari", content=body
            )
            figures.status = str(answer.status_code)
        except httpx.HTTPError as exc:
            figures.status = type(exc).__name__
        ended = time.perf_counter()
        figures.seconds = ended - started
        finished.set()
        await others
    figures.other_ms = [
        (end - begin) * 1000 for begin, end in spans if end > started and begin < ended
    ]
    return figures


@dataclass
class Phase:
    """What one phase saw: the prober's answers, the server's resources, the clients' fates."""

    name: str
    seconds: float = 0.0
    healthz_ms: list[float] = field(default_factory=list)
    healthz_failures: int = 0
    max_rss: int = 0
    max_fds: int = 0
    fds_after: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    notes: dict[str, float] = field(default_factory=dict)


class Watcher:
    """Samples the server's RSS and open files, and probes /healthz, on threads of their own."""

    def __init__(self, pid: int, base_url: str) -> None:
        self.pid, self.base_url = pid, base_url
        self.phase = Phase("start")
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._sample, daemon=True),
            threading.Thread(target=self._probe, daemon=True),
        ]

    def __enter__(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    def sample(self) -> None:
        phase = self.phase
        phase.max_rss = max(phase.max_rss, self.rss())
        phase.max_fds = max(phase.max_fds, self.fds())

    def _probe(self) -> None:
        # A new connection per probe, as an orchestrator's liveness check makes it; a raw
        # socket, so the figure is the server's and not a client library's set-up.
        port = int(self.base_url.rsplit(":", 1)[1])
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        while not self._stop.wait(0.1):
            phase = self.phase
            started = time.perf_counter()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30.0) as sock:
                    sock.sendall(request)
                    answer = b""
                    while chunk := sock.recv(65536):
                        answer += chunk
                ok = answer.startswith(b"HTTP/1.1 200 ")
            except OSError:
                ok = False
            phase.healthz_ms.append((time.perf_counter() - started) * 1000)
            phase.healthz_failures += 0 if ok else 1


async def _status_of(reader: asyncio.StreamReader, limit: float) -> str:
    """The status code the server answered with, ``closed`` without one, ``held`` past limit."""
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=limit)
    except TimeoutError:
        return "held"
    except (ConnectionError, OSError):
        return "closed"
    parts = line.split()
    return parts[1].decode() if len(parts) >= 2 else "closed"


async def _until_closed(reader: asyncio.StreamReader, limit: float) -> bool:
    try:
        async with asyncio.timeout(limit):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except (ConnectionError, OSError):
        pass
    return True


async def big_upload(port: int, total: int) -> tuple[str, int]:
    """A chunked upload of ``total`` bytes to a webhook URL; returns (status, bytes sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    writer.write(b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    answered = asyncio.ensure_future(_status_of(reader, 600))
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
    sent = 0
    try:
        while sent < total and not answered.done():
            writer.write(chunk)
            await writer.drain()
            sent += CHUNK
        if not answered.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    status = await answered
    writer.close()
    return status, sent


async def stalled_upload(port: int, limit: float) -> str:
    """Headers announcing 1 MB, then 1 KB of it, then nothing; returns how it ended."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        writer.write(
            b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1024
        )
        await writer.drain()
    except (ConnectionError, OSError):
        return "refused"
    status = await _status_of(reader, limit)
    writer.close()
    return status


async def stalled_headers(port: int, limit: float) -> str:
    """A request line and one header, never the blank line; returns how it ended."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
    except (ConnectionError, OSError):
        return "refused"
    closed = await _until_closed(reader, limit)
    writer.close()
    return "closed" if closed else "held"


async def slow_drip(port: int, interval: float, limit: float) -> tuple[str, float]:
    """One byte every ``interval`` seconds of a 1,000-byte body; returns (status, seconds held)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
    writer.write(b"POST /hooks/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    answered = asyncio.ensure_future(_status_of(reader, limit))
    try:
        while not answered.done() and time.monotonic() - started < limit:
            writer.write(b"x")
            await writer.drain()
            await asyncio.wait([answered], timeout=interval)
    except (ConnectionError, OSError):
        pass
    status = await answered
    writer.close()
    return status, time.monotonic() - started


def _count(statuses: list[str]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for status in statuses:
        counted[status] = counted.get(status, 0) + 1
    return dict(sorted(counted.items()))


async def _settle(watcher: Watcher, baseline_fds: int, limit: float) -> float:
    """Seconds until the server's open files are back near the baseline (or ``limit``)."""
    started = time.monotonic()
    while time.monotonic() - started < limit and watcher.fds() > baseline_fds + 5:
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def run_phases(
    watcher: Watcher, port: int, sizes: Sizes, tenants: BulkTenants
) -> list[Phase]:
    phases: list[Phase] = []
    baseline_fds = watcher.fds()
    wait_limit = sizes.body_timeout + sizes.header_timeout + 30

    async def phase(name: str, work: asyncio.Future[None] | None, seconds: float = 0.0) -> Phase:
        current = watcher.phase = Phase(name)
        started = time.monotonic()
        if work is None:
            await asyncio.sleep(seconds)
        else:
            await work
        watcher.sample()
        # VmHWM: the highest RSS since the server started, so no peak between samples is lost.
        current.notes["vmhwm_mb"] = round(peak_rss_bytes(watcher.pid) / MB)
        current.notes["settle_seconds"] = round(await _settle(watcher, baseline_fds, 60), 1)
        current.seconds = time.monotonic() - started
        current.fds_after = watcher.fds()
        phases.append(current)
        return current

    await phase("idle", None, 3.0)

    uploads: list[tuple[str, int]] = []

    async def chunked() -> None:
        uploads.extend(
            await asyncio.gather(
                *(big_upload(port, sizes.upload_bytes) for _ in range(sizes.uploads))
            )
        )

    done = await phase("big_chunked_uploads", asyncio.ensure_future(chunked()))
    done.outcomes = _count([status for status, _ in uploads])
    done.notes["max_bytes_sent_mb"] = round(max(sent for _, sent in uploads) / MB, 1)
    done.notes["offered_mb_each"] = sizes.upload_bytes / MB

    stalled: list[str] = []

    async def stall() -> None:
        stalled.extend(
            await asyncio.gather(*(stalled_upload(port, wait_limit) for _ in range(sizes.stalled)))
        )

    done = await phase("stalled_uploads", asyncio.ensure_future(stall()))
    done.outcomes = _count(stalled)

    loris: list[str] = []

    async def slowloris() -> None:
        loris.extend(
            await asyncio.gather(
                *(stalled_headers(port, wait_limit) for _ in range(sizes.slowloris))
            )
        )

    done = await phase("stalled_headers", asyncio.ensure_future(slowloris()))
    done.outcomes = _count(loris)

    drip: list[tuple[str, float]] = []

    async def dripping() -> None:
        drip.append(await slow_drip(port, sizes.drip_interval, wait_limit))

    done = await phase("slow_drip", asyncio.ensure_future(dripping()))
    done.outcomes = _count([status for status, _ in drip])
    done.notes["held_seconds"] = round(drip[0][1], 1)

    bulk: list[BulkFigures] = []

    async def bulk_load() -> None:
        bulk.append(await bulk_ari_write(watcher.base_url, tenants, sizes.bulk))

    done = await phase("bulk_ari_write", asyncio.ensure_future(bulk_load()))
    figures = bulk[0]
    done.outcomes = {
        f"bulk {figures.status}": 1,
        **{f"other {k}": v for k, v in _count(figures.other_statuses).items()},
    }
    done.notes.update(
        bulk_seconds=round(figures.seconds, 2),
        other_writes=len(figures.other_statuses),
        other_overlapping=len(figures.other_ms),
        other_p50_ms=round(percentile(figures.other_ms, 0.5), 1) if figures.other_ms else 0.0,
        other_p99_ms=round(percentile(figures.other_ms, 0.99), 1) if figures.other_ms else 0.0,
        other_503=figures.other_statuses.count("503"),
        other_5xx=sum(1 for s in figures.other_statuses if s.startswith("5") and s != "503"),
    )
    return phases


def _ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction):.0f}" if values else "-"


def _bulk_finding(phase: Phase, size: bulk_write.Size) -> str:
    notes = phase.notes
    return (
        f"Bulk ARI write of {size.entries:,} entries x {size.days} days over the API: "
        f"{', '.join(k for k in phase.outcomes if k.startswith('bulk'))} in "
        f"{notes['bulk_seconds']:.2f} s ({notes['calendar_plan_days']:,.0f} plan-days stored in "
        f"{notes['calendar_rows']:,.0f} calendar rows). The "
        f"other tenant's single-day writes overlapping it: {notes['other_overlapping']:.0f}, "
        f"p50 {notes['other_p50_ms']:.0f} ms, p99 {notes['other_p99_ms']:.0f} ms; of all its "
        f"{notes['other_writes']:.0f} writes, {notes['other_5xx']:.0f} 5xx other than 503 and "
        f"{notes['other_503']:.0f} 503 (database busy). /healthz p99 "
        f"{_ms(phase.healthz_ms, 0.99)} ms; server RSS {phase.max_rss / MB:.0f} MB at most "
        f"during it (VmHWM {notes['vmhwm_mb']:.0f} MB)."
    )


def build_outcome(phases: list[Phase], sizes: Sizes, peak_rss: int, settings: Settings) -> Outcome:
    rows = [
        [
            p.name,
            f"{p.seconds:.1f}",
            f"{p.max_rss / MB:.0f} / {p.notes['vmhwm_mb']:.0f}",
            str(p.max_fds),
            str(p.fds_after),
            _ms(p.healthz_ms, 0.5),
            _ms(p.healthz_ms, 0.99),
            f"{p.healthz_failures}/{len(p.healthz_ms)}",
            ", ".join(f"{k}: {v}" for k, v in p.outcomes.items()) or "-",
        ]
        for p in phases
    ]
    idle = phases[0]
    loaded = [ms for p in phases[1:] for ms in p.healthz_ms]
    by_name = {p.name: p for p in phases}
    findings = [
        f"Peak RSS {peak_rss / MB:.0f} MB over the whole run (idle {idle.max_rss / MB:.0f} MB) "
        f"while {sizes.uploads} uploads offered {sizes.upload_bytes // MB} MB each: each was "
        f"refused after at most {by_name['big_chunked_uploads'].notes['max_bytes_sent_mb']} MB "
        f"(limit {settings.max_request_bytes // MB} MB).",
        f"Open files peaked at {max(p.max_fds for p in phases)} (idle {idle.max_fds}) with "
        f"{sizes.stalled} stalled uploads and {sizes.slowloris} stalled header sends; "
        f"back to {phases[-1].fds_after} at the end.",
        f"/healthz under load: p50 {_ms(loaded, 0.5)} ms, p99 {_ms(loaded, 0.99)} ms, "
        f"{sum(p.healthz_failures for p in phases[1:])} failed of {len(loaded)} "
        f"(idle p99 {_ms(idle.healthz_ms, 0.99)} ms).",
        f"The slow drip (a byte every {sizes.drip_interval:g} s) was answered "
        f"{', '.join(by_name['slow_drip'].outcomes)} after "
        f"{by_name['slow_drip'].notes['held_seconds']} s (body time-out "
        f"{sizes.body_timeout:g} s).",
        _bulk_finding(by_name["bulk_ari_write"], sizes.bulk),
    ]
    return Outcome(
        sizes=(
            f"{sizes.uploads} x {sizes.upload_bytes // MB} MB chunked uploads, "
            f"{sizes.stalled} stalled uploads, {sizes.slowloris} stalled header sends, one slow "
            f"drip, one tenant's bulk ARI write of {sizes.bulk.entries:,} entries x "
            f"{sizes.bulk.days} days with a second tenant's single-day writes; limits: "
            f"body {settings.max_request_bytes // MB} MB, body time-out "
            f"{sizes.body_timeout:g} s, header time-out {sizes.header_timeout:g} s, "
            f"{settings.http_max_concurrency} connections, "
            f"{settings.http_connections_per_address} connections and "
            f"{settings.http_uploads_per_address} uploads per address; abusive clients from "
            f"{ATTACKER}, the prober from 127.0.0.1; SQLite; one `innsync serve` process"
        ),
        tables=[
            Table(
                "Per phase: the server's peak RSS and open files, /healthz latency (a new "
                "connection per probe, every 0.1 s), and how the abusive requests ended "
                "(HTTP status, `closed` without an answer)",
                [
                    "phase",
                    "s",
                    "RSS MB (sampled / VmHWM)",
                    "peak fds",
                    "fds after",
                    "/healthz p50 ms",
                    "/healthz p99 ms",
                    "/healthz failed",
                    "abusive requests ended",
                ],
                rows,
            )
        ],
        findings=findings,
        data={
            "peak_rss_bytes": peak_rss,
            "healthz_p99_ms_under_load": percentile(loaded, 0.99) if loaded else None,
            "phases": [
                {
                    "name": p.name,
                    "seconds": round(p.seconds, 2),
                    "max_rss_bytes": p.max_rss,
                    "max_fds": p.max_fds,
                    "fds_after": p.fds_after,
                    "healthz_p50_ms": percentile(p.healthz_ms, 0.5) if p.healthz_ms else None,
                    "healthz_p99_ms": percentile(p.healthz_ms, 0.99) if p.healthz_ms else None,
                    "healthz_failures": p.healthz_failures,
                    "healthz_probes": len(p.healthz_ms),
                    "outcomes": p.outcomes,
                    "notes": p.notes,
                }
                for p in phases
            ],
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="reduced sizes and time-outs")
    parser.add_argument("--no-docs", action="store_true", help="do not refresh the docs page")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    # Thousands of client sockets: lift this process's soft limit on open files to the hard one.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    with tempfile.TemporaryDirectory(prefix="stress_http_") as scratch:
        workdir = Path(scratch)
        port = free_port()
        with sqlite_database(workdir, "stress") as (url, engine):
            tenants = seed_bulk_tenants(engine, sizes.bulk)
        env = innsync_env(
            url,
            generate_key(),
            http_body_timeout_seconds=str(sizes.body_timeout),
            http_header_timeout_seconds=str(sizes.header_timeout),
        )
        settings = Settings(
            http_body_timeout_seconds=sizes.body_timeout,
            http_header_timeout_seconds=sizes.header_timeout,
        )
        base = f"http://127.0.0.1:{port}"
        command = (*INNSYNC, "serve", "--port", str(port))
        with running(
            command, workdir / "serve.log", env=env, ready_url=f"{base}/healthz"
        ) as server:
            with Watcher(server.pid, base) as watcher:
                phases = asyncio.run(run_phases(watcher, port, sizes, tenants))
            peak = peak_rss_bytes(server.pid)
        plan_days, rows = stored_calendar(url, tenants)
        phases[-1].notes["calendar_plan_days"] = plan_days
        phases[-1].notes["calendar_rows"] = rows

    outcome = build_outcome(phases, sizes, peak, settings)
    result = Result(
        name=NAME,
        title=TITLE,
        measured_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        is_quick=args.quick,
        command="python bench/stress_http.py" + (" --quick" if args.quick else ""),
        machine=machine(),
        versions=versions(),
        outcome=outcome,
    )
    results_dir = ROOT / "bench" / "results"
    write_result(result, results_dir)
    if not args.no_docs:
        refresh_docs(ROOT / "docs" / "benchmarks.md", results_dir, [*scenario_names(), NAME])
    print(outcome.sizes)
    for table in outcome.tables:
        print(" | ".join(table.columns))
        for row in table.rows:
            print(" | ".join(row))
    for finding in outcome.findings:
        print("-", finding)
    return 0


if __name__ == "__main__":
    sys.exit(main())
