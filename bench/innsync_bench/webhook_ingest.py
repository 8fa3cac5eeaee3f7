"""webhook_ingest: durable webhook acknowledgements per second and their latency.

``innsync serve`` (one uvicorn process, background loops off so only ingress is measured) takes
fake-channel webhooks at ``/hooks/{token}``; each is verified and committed to the inbox before
its 200. The load comes from another process (``innsync_bench.webhook_load``) over many
keep-alive connections: first as fast as answers come (the sustained rate at saturation), then
paced at a rate the server can hold (latency without queueing). Afterwards every acknowledged
body is looked up in ``inbox_items`` by its SHA-256 dedupe key: none may be missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from innsync.connections import service as connections
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import session_factory, transaction
from innsync.db.personal import install_keys
from innsync.inbox.models import InboxItem
from innsync.properties import service as properties
from innsync.properties.schemas import PropertyCreate
from innsync.tenants.service import create_tenant
from innsync_bench import profiling
from innsync_bench.databases import postgres_database, postgres_version, sqlite_database
from innsync_bench.measures import percentile
from innsync_bench.processes import INNSYNC, cpu_seconds, free_port, innsync_env, running
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table

TITLE = "durable webhook acknowledgements per second and latency, SQLite and PostgreSQL"
BACKENDS = ("sqlite", "postgresql")
# Keep-alive connections of the load generator (a channel's delivery workers).
CONCURRENCY = 64
SECONDS, QUICK_SECONDS = 20.0, 1.5
# Paced phase: this share of the saturated rate, at most the target rate.
PACED_SHARE = 0.5
TARGET_PER_SECOND = 2000
TARGET_P99_SECONDS = 0.050


def run(options: RunOptions) -> Outcome:
    seconds = QUICK_SECONDS if options.quick else SECONDS
    measured: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    for backend in BACKENDS:
        with _database(options, backend) as (url, engine):
            if backend == "postgresql":
                versions["postgresql"] = postgres_version(engine)
            measured.append(_measure(options, backend, url, engine, seconds))
    rows, findings = [], []
    for figures in measured:
        for phase in ("saturated", "paced"):
            load = figures[phase]
            rows.append(
                [
                    figures["backend"],
                    phase if phase == "saturated" else f"paced at {load['offered']:.0f}/s",
                    f"{load['acked']:,}",
                    f"{load['per_second']:.0f}",
                    f"{1000 * load['p50']:.1f}",
                    f"{1000 * load['p99']:.1f}",
                    str(load["failures"] or "none"),
                    f"{load['generator_cpu_share']:.0%}",
                    (
                        f"{load['server_cpu_ms_per_ack']:.1f} ({load['server_cpu_share']:.0%})"
                        if "server_cpu_share" in load
                        else "—"
                    ),
                    str(figures["missing"]),
                ]
            )
        findings.append(_verdict(figures))
    table = Table(
        "Webhook ingress (verified, committed to the inbox, then 200)",
        [
            "database",
            "load",
            "acknowledged",
            "acks/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "load generator CPU",
            "server CPU ms per ack (share of a core)",
            "acked but missing from inbox",
        ],
        rows,
    )
    return Outcome(
        sizes=(
            f"{seconds:.0f} s saturated with {CONCURRENCY} keep-alive connections, then "
            f"{seconds / 2:.0f} s paced at {PACED_SHARE:.0%} of the saturated rate; one "
            "uvicorn process (`innsync serve`, background loops off); ~600-byte fake-channel "
            "revisions, each unique; SQLite file (WAL) and a private PostgreSQL database on "
            "the same machine"
        ),
        tables=[table],
        findings=findings,
        data={"backends": measured},
        versions=versions,
    )


@contextmanager
def _database(options: RunOptions, backend: str) -> Iterator[tuple[str, Engine]]:
    if backend == "sqlite":
        with sqlite_database(options.workdir, "webhooks") as opened:
            yield opened
    else:
        with postgres_database(options.postgres_server, "webhooks") as opened:
            yield opened


def _setup(engine: Engine, box: SecretBox) -> tuple[uuid.UUID, str, str]:
    """A fake-channel connection taking webhooks: its id, URL path and shared secret."""
    secret = uuid.uuid4().hex
    with transaction(session_factory(engine)) as session:
        tenant, _ = create_tenant(session, "Bench")
        prop = properties.create_property(
            session, tenant.id, PropertyCreate(name="Harbour", timezone="UTC", currency="EUR")
        )
        connection = connections.create_connection(
            session,
            box,
            tenant.id,
            prop.id,
            ConnectionCreate(channel="fake", name="Fake", config={"webhook_secret": secret}),
        )
        return connection.id, connections.WEBHOOK_PREFIX + connection.webhook_token, secret


def _measure(
    options: RunOptions, backend: str, url: str, engine: Engine, seconds: float
) -> dict[str, Any]:
    key = generate_key()
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    connection_id, path, secret = _setup(engine, box)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = innsync_env(url, key, background_loops="false")
    with running(
        [*INNSYNC, "serve", "--port", str(port), "--no-migrate"],
        options.workdir / f"serve-{backend}.log",
        env=env,
        ready_url=f"{base}/healthz",
    ) as server:
        options.progress(f"webhook_ingest: {backend}, saturated for {seconds:.0f} s")
        if not options.quick:
            _load(options, base + path, secret, 1.0, 0.0, f"{backend}-warmup")
        cpu_before = cpu_seconds(server.pid)
        saturated = _load(options, base + path, secret, seconds, 0.0, f"{backend}-saturated")
        server_cpu = cpu_seconds(server.pid) - cpu_before
        # CPU the server spent per acknowledgement, and the share of one core it got: below
        # 100 % the server waited (on the database, or for a core taken by other work).
        saturated["server_cpu_ms_per_ack"] = 1000 * server_cpu / max(saturated["acked"], 1)
        saturated["server_cpu_share"] = server_cpu / saturated["seconds"]
        offered = min(TARGET_PER_SECOND, PACED_SHARE * saturated["per_second"])
        options.progress(f"webhook_ingest: {backend}, paced at {offered:.0f}/s")
        paced = _load(options, base + path, secret, seconds / 2, offered, f"{backend}-paced")
        paced["offered"] = offered
        profile: list[str] = []
        if not options.quick and (
            saturated["per_second"] < TARGET_PER_SECOND or paced["p99"] > TARGET_P99_SECONDS
        ):
            options.progress(f"webhook_ingest: {backend}, profiling the server under load")
            out = options.workdir / f"profile-{backend}.txt"
            sampler = profiling.start(server.pid, seconds / 2, out)
            _load(options, base + path, secret, seconds / 2, 0.0, f"{backend}-profiled")
            profile = profiling.summarise(sampler, out, focus="innsync")
    acked = set(saturated.pop("acked_keys")) | set(paced.pop("acked_keys"))
    with session_factory(engine)() as session:
        stored = set(
            session.scalars(
                select(InboxItem.dedupe_key).where(InboxItem.connection_id == connection_id)
            )
        )
    missing = len({f"sha256:{digest}" for digest in acked} - stored)
    return {
        "backend": backend,
        "saturated": saturated,
        "paced": paced,
        "acked_total": len(acked),
        "missing": missing,
        "profile": profile,
    }


def _load(
    options: RunOptions, url: str, secret: str, seconds: float, rate: float, name: str
) -> dict[str, Any]:
    """Run the load generator process and reduce its figures."""
    out = options.workdir / f"load-{name}.json"
    subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "innsync_bench.webhook_load",
            "--url",
            url,
            "--secret",
            secret,
            "--seconds",
            str(seconds),
            "--concurrency",
            str(CONCURRENCY),
            "--rate",
            str(rate),
            "--out",
            str(out),
        ],
        check=True,
    )
    raw = json.loads(Path(out).read_text())
    latencies = raw["latencies"]
    return {
        "seconds": raw["seconds"],
        "acked": len(raw["acked"]),
        "acked_keys": raw["acked"],
        "per_second": len(raw["acked"]) / raw["seconds"],
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "failures": raw["failures"],
        "generator_cpu_share": raw["cpu_seconds"] / raw["seconds"],
    }


def _verdict(figures: dict[str, Any]) -> str:
    saturated, paced = figures["saturated"], figures["paced"]
    rate_gap = saturated["per_second"] / TARGET_PER_SECOND
    parts = [
        f"{figures['backend']}: {saturated['per_second']:.0f} acks/s at saturation "
        f"({rate_gap:.0%} of the {TARGET_PER_SECOND}/s target"
        + (
            ", met"
            if rate_gap >= 1
            else f", short by {TARGET_PER_SECOND - saturated['per_second']:.0f}/s"
        )
        + f"); p99 {1000 * paced['p99']:.1f} ms when paced at {paced['offered']:.0f}/s and "
        f"{1000 * saturated['p99']:.1f} ms saturated (target ≤ {1000 * TARGET_P99_SECONDS:.0f} "
        f"ms); {figures['acked_total']:,} acknowledged, {figures['missing']} missing from the "
        f"inbox. Saturated, the server spent {saturated['server_cpu_ms_per_ack']:.1f} ms of CPU "
        f"per acknowledgement and used {saturated['server_cpu_share']:.0%} of one core."
    ]
    if figures["profile"]:
        parts.append(" Server profile under saturation: " + "; ".join(figures["profile"]) + ".")
    return "".join(parts)
