"""The admin's ARI calendar page: server time to render a month of 20 room types x 10 plans.

The hotel is the benchmarks' usual one (``hotels.py``: varied prices and restrictions over the
horizon, a block and direct bookings) with a fake connection mapping every room type and plan,
so each cell also shows what the channel holds. The page is requested in-process through
Starlette's TestClient (no network, no browser), signed in as the hotel's owner. The server time
is measured around the ASGI app itself, from the request reaching it to the last byte of the
rendered HTML it sends (routing, session lookup, queries, rendering), so the test client's own
work on a 700 KiB answer is not counted; the process's CPU per request, client included, is
reported beside it. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import sessionmaker
from starlette.types import Message, Receive, Scope, Send

from innsync.api.app import create_app
from innsync.api.server import settle_heap
from innsync.connections import service as connections
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import transaction
from innsync.db.personal import install_keys
from innsync.settings import Settings
from innsync.tenants.service import create_tenant
from innsync.tenants.users import Passwords, create_user
from innsync_bench.databases import postgres_database, postgres_version, sqlite_database
from innsync_bench.hotels import Hotel, create_hotel, seed_varied_ari
from innsync_bench.measures import percentile
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table

TITLE = "Admin ARI calendar: server time to render a month of 20 room types x 10 plans"
TARGET_SECONDS = 0.300
EMAIL = "owner@bench.example"
# The cheapest Argon2: signing in once is not what is measured.
PASSWORDS = Passwords(1, 1024, 1)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Size:
    room_types: int
    plans_per_room: int
    renders: int


FULL = Size(room_types=20, plans_per_room=10, renders=30)
QUICK = Size(room_types=2, plans_per_room=2, renders=3)


def run(options: RunOptions) -> Outcome:
    size = QUICK if options.quick else FULL
    measured: dict[str, dict[str, Any]] = {}
    with sqlite_database(options.workdir, "admin_calendar") as (_url, engine):
        options.progress("sqlite: building the hotel")
        measured["sqlite"] = _measure(engine, size, options)
    with postgres_database(options.postgres_server, "admin_calendar") as (_url, engine):
        options.progress("postgresql: building the hotel")
        measured["postgresql"] = _measure(engine, size, options)
        measured["postgresql"]["version"] = postgres_version(engine)
    rows = [
        [
            backend,
            str(figures["renders"]),
            f"{1000 * figures['median_s']:.0f} ms",
            f"{1000 * figures['p95_s']:.0f} ms",
            f"{1000 * figures['max_s']:.0f} ms",
            f"{1000 * figures['cpu_median_s']:.0f} / {1000 * figures['cpu_p95_s']:.0f} ms",
            str(figures["queries"]),
            f"{figures['html_bytes'] / 1024:.0f} KiB",
        ]
        for backend, figures in measured.items()
    ]
    table = Table(
        "One month of the calendar page, rendered in-process (TestClient), signed in: server "
        "time from the request's arrival to the answer's last byte; CPU of the whole process "
        "(test client included)",
        [
            "database",
            "renders",
            "median",
            "p95",
            "max",
            "process CPU median / p95",
            "queries per render",
            "page size",
        ],
        rows,
    )
    return Outcome(
        sizes=(
            f"{size.room_types} room types x {size.plans_per_room} rate plans "
            f"({size.room_types * size.plans_per_room} plan rows) over the current month, "
            f"varied ARI, a block and direct bookings, one mapped connection; "
            f"{size.renders} renders after one warm-up"
        ),
        tables=[table],
        findings=[_finding(backend, figures) for backend, figures in measured.items()],
        data={"backends": measured, "failed_checks": _failed(measured, size)},
    )


def _finding(backend: str, figures: dict[str, Any]) -> str:
    median, p95 = figures["median_s"], figures["p95_s"]
    verdict = "met" if p95 <= TARGET_SECONDS else "missed"
    return (
        f"{backend}: server time median {1000 * median:.0f} ms, p95 {1000 * p95:.0f} ms "
        f"({verdict}: p95 <= {1000 * TARGET_SECONDS:.0f} ms); process CPU per render (test "
        f"client included) median "
        f"{1000 * figures['cpu_median_s']:.0f} ms, p95 {1000 * figures['cpu_p95_s']:.0f} ms; "
        f"{figures['queries']} queries per render"
    )


def _failed(measured: dict[str, dict[str, Any]], size: Size) -> list[str]:
    failed = []
    for backend, figures in measured.items():
        if figures["plan_rows"] != size.room_types * size.plans_per_room:
            failed.append(f"{backend}: {figures['plan_rows']} plan rows on the page")
        if figures["statuses"] != [200]:
            failed.append(f"{backend}: answered {figures['statuses']}")
    return failed


def _build(engine: Engine, size: Size, box: SecretBox, password: str) -> Hotel:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with transaction(sessions) as session:
        tenant, _key = create_tenant(session, "Calendar bench")
        hotel = create_hotel(
            session,
            box,
            tenant.id,
            "Calendar hotel",
            rooms=size.room_types,
            plans_per_room=size.plans_per_room,
            connection=ConnectionCreate(channel="fake", name="Fake channel"),
        )
        seed_varied_ari(session, hotel)
        connections.set_mappings(
            session,
            tenant.id,
            hotel.connection_id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=room, channel_code=f"RT{n}")
                    for n, room in enumerate(hotel.room_type_ids)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=plan, channel_code=f"RP{n}")
                    for n, plan in enumerate(hotel.all_plan_ids)
                ],
            ),
        )
        create_user(session, PASSWORDS, tenant.id, EMAIL, password, "owner")
    return hotel


def _measure(engine: Engine, size: Size, options: RunOptions) -> dict[str, Any]:
    key = generate_key()
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    password = secrets.token_urlsafe(16)
    hotel = _build(engine, size, box, password)
    settings = Settings(
        database_url="sqlite://",
        secret_keys=key,  # else a key file would be created in the working directory
        background_loops=False,
        admin_cookie_secure=False,
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        password_hash_parallelism=1,
    )
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    app = create_app(settings, engine=engine, sessions=sessions, secret_box=box, run_loops=False)
    server_seconds: list[float] = []

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        """The app, timed from the request's arrival to its answer's last byte."""
        began = time.perf_counter()

        async def sending(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                server_seconds.append(time.perf_counter() - began)

        await app(scope, receive, sending)

    statements: list[str] = []

    def record(*args: object) -> None:
        # Data queries only: BEGIN (SQLite's, per read) is transaction control.
        if not str(args[2]).startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(str(args[2]))

    options.progress(f"{engine.dialect.name}: rendering the month {size.renders} times")
    path = f"/admin/calendar/{hotel.property_id}"
    with TestClient(timed) as client:
        login = client.get("/admin/login")
        token = CSRF.search(login.text)
        client.post(
            "/admin/login",
            data={
                "csrf_token": token.group(1) if token else "",
                "email": EMAIL,
                "password": password,
            },
        )
        warm = client.get(path)  # templates compiled, connections pooled
        event.listen(engine, "before_cursor_execute", record)
        try:
            client.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        cpu, statuses = [], {warm.status_code}
        settle_heap()  # as `innsync serve` does before it takes requests
        server_seconds.clear()
        for _ in range(size.renders):
            began_cpu = time.process_time()
            answer = client.get(path)
            # The process's CPU time over the request, the test client's work included: an
            # upper bound on what the render costs, whatever else the machine is doing.
            cpu.append(time.process_time() - began_cpu)
            statuses.add(answer.status_code)
        seconds = server_seconds[:]
    return {
        "renders": len(seconds),
        "median_s": percentile(seconds, 0.5),
        "p95_s": percentile(seconds, 0.95),
        "max_s": max(seconds),
        "cpu_median_s": percentile(cpu, 0.5),
        "cpu_p95_s": percentile(cpu, 0.95),
        "queries": len(statements),
        "plan_rows": warm.text.count('<tr class="cal-plan">'),
        "html_bytes": len(warm.content),
        "statuses": sorted(statuses),
    }
