"""A bulk ARI write of 1,000 entries x 750 days while other tenants write, SQLite and PostgreSQL.

The write goes through the API's own path (``inventory.bulk.write_ari_in_chunks``: checked
whole, then applied in bounded transactions with their dirty marks); meanwhile other tenants
each write one day of one plan, paced, as single API writes do (one transaction). Measured:
the bulk write's total time, its longest transaction (the write-lock hold on SQLite), and the
other tenants' single-write latency (p50, p99, max) while it runs. Threads in one process, as
``innsync serve`` runs its request handlers; nothing else of the product is started.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.server import settle_heap
from innsync.connections.models import Connection
from innsync.db.engine import session_factory, transaction
from innsync.inventory.bulk import write_ari_in_chunks
from innsync.inventory.calendar import write_ari
from innsync.inventory.models import RateCalendarRun
from innsync.inventory.schemas import AriEntry, AriWrite
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.models import Property
from innsync.properties.schemas import PropertyCreate, RatePlanCreate, RoomTypeCreate
from innsync.tenants.service import create_tenant
from innsync_bench.databases import postgres_database, postgres_version, sqlite_database
from innsync_bench.measures import percentile
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table

TITLE = "Bulk ARI write (1,000 entries x 750 days) and other tenants' writes during it"
# Targets of issue #18 / #19 item 4.
TARGET_TOTAL_SECONDS = 1.0
TARGET_HOLD_SECONDS = 0.100
TARGET_OTHERS_P99_SECONDS = 0.100
# Other tenants' single writes: one every OTHERS_PACE seconds from each of OTHERS_THREADS.
OTHERS_THREADS = 2
OTHERS_PACE = 0.02


@dataclass(frozen=True)
class Size:
    room_types: int
    plans_per_room: int
    days: int
    others: int

    @property
    def entries(self) -> int:
        return self.room_types * self.plans_per_room


FULL = Size(room_types=100, plans_per_room=10, days=750, others=8)
QUICK = Size(room_types=4, plans_per_room=5, days=60, others=2)


@dataclass
class Hotel:
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    plan_ids: list[uuid.UUID]
    api_key: str  # the tenant's admin key, for a run through the HTTP API (bench/stress_http.py)


def run(options: RunOptions) -> Outcome:
    size = QUICK if options.quick else FULL
    measured: dict[str, dict[str, Any]] = {}
    with sqlite_database(options.workdir, "bulk_write") as (_url, engine):
        options.progress("sqlite: bulk write")
        measured["sqlite"] = _measure(engine, size)
    with postgres_database(options.postgres_server, "bulk_write") as (_url, engine):
        options.progress("postgresql: bulk write")
        measured["postgresql"] = _measure(engine, size)
        measured["postgresql"]["version"] = postgres_version(engine)
    rows = [
        [
            backend,
            f"{figures['first']['total_s']:.2f} s / {figures['rewrite']['total_s']:.2f} s",
            f"{figures['first']['transactions']} / {figures['rewrite']['transactions']}",
            f"{1000 * max(figures['first']['longest_s'], figures['rewrite']['longest_s']):.0f} ms",
            f"{figures['others']['count']}",
            f"{1000 * figures['others']['p50_s']:.0f} / {1000 * figures['others']['p99_s']:.0f}"
            f" / {1000 * figures['others']['max_s']:.0f} ms",
            str(figures["others"]["errors"]),
        ]
        for backend, figures in measured.items()
    ]
    table = Table(
        "Bulk write: first write (new days) / rewrite (every day changed); others' single writes",
        [
            "database",
            "total",
            "transactions",
            "longest transaction",
            "others' writes",
            "others p50 / p99 / max",
            "others failed",
        ],
        rows,
    )
    return Outcome(
        sizes=(
            f"{size.entries} entries x {size.days} days ({size.entries * size.days:,} plan-days) "
            f"over {size.room_types} room types x {size.plans_per_room} plans, one pushing "
            f"connection; {size.others} other tenants writing one day each, "
            f"{OTHERS_THREADS} threads, one write per {OTHERS_PACE * 1000:.0f} ms per thread"
        ),
        tables=[table],
        findings=[_finding(backend, figures) for backend, figures in measured.items()],
        data={"backends": measured, "failed_checks": _failed(measured, size)},
    )


def _finding(backend: str, figures: dict[str, Any]) -> str:
    total = max(figures["first"]["total_s"], figures["rewrite"]["total_s"])
    longest = max(figures["first"]["longest_s"], figures["rewrite"]["longest_s"])
    p99 = figures["others"]["p99_s"]
    met = [
        f"total {total:.2f} s ({'met' if total <= TARGET_TOTAL_SECONDS else 'missed'}: "
        f"<= {TARGET_TOTAL_SECONDS:.0f} s)",
        f"longest transaction {1000 * longest:.0f} ms "
        f"({'met' if longest <= TARGET_HOLD_SECONDS else 'missed'}: <= 100 ms)",
        f"others' p99 {1000 * p99:.0f} ms "
        f"({'met' if p99 <= TARGET_OTHERS_P99_SECONDS else 'missed'}: <= 100 ms)",
        f"{figures['plan_days']:,} plan-days stored in {figures['rows']:,} calendar rows (runs)",
    ]
    return f"{backend}: " + ", ".join(met)


def _failed(measured: dict[str, dict[str, Any]], size: Size) -> list[str]:
    failed = []
    for backend, figures in measured.items():
        if figures["plan_days"] != size.entries * size.days:
            failed.append(
                f"{backend}: {figures['plan_days']} plan-days stored, not "
                f"{size.entries * size.days}"
            )
        # Each entry's one price over all its days is one run of its plan.
        if figures["rows"] != size.entries:
            failed.append(f"{backend}: {figures['rows']} calendar runs, not {size.entries}")
        if figures["marks"] != 2 * size.entries:
            failed.append(f"{backend}: {figures['marks']} dirty marks, not {2 * size.entries}")
        if figures["others"]["errors"]:
            failed.append(f"{backend}: {figures['others']['errors']} other tenants' writes failed")
    return failed


def _measure(engine: Engine, size: Size) -> dict[str, Any]:
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        hotel = seed_hotel(session, "bulk", size.room_types, size.plans_per_room, connected=True)
        others = [
            seed_hotel(session, f"other-{n}", 1, 1, connected=False) for n in range(size.others)
        ]
    today = properties.property_today(_property(sessions, hotel.property_id), now)
    # As `innsync serve` does before it takes requests: what exists now is out of the collector's
    # reach, so a full collection during the write walks only what the write itself made.
    settle_heap()
    first = _bulk(sessions, hotel, today, size.days, Decimal("100"), others)
    rewrite = _bulk(sessions, hotel, today, size.days, Decimal("120"), others)
    with engine.connect() as connection:
        plan_days, rows = stored_calendar(connection, hotel.plan_ids)
        marks = connection.scalar(select(func.count()).select_from(DirtyMark))
    return {
        "first": first["bulk"],
        "rewrite": rewrite["bulk"],
        "others": _merge_others(first["others"], rewrite["others"]),
        "plan_days": plan_days,
        "rows": rows,
        "marks": int(marks or 0),
    }


def stored_calendar(connection: DbConnection, plan_ids: list[uuid.UUID]) -> tuple[int, int]:
    """The plans' stored calendar: the plan-days its runs cover, and the runs (rows)."""
    spans = connection.execute(
        select(RateCalendarRun.start_date, RateCalendarRun.end_date).where(
            RateCalendarRun.rate_plan_id.in_(plan_ids)
        )
    ).all()
    return sum((end - start).days for start, end in spans), len(spans)


def _property(sessions: sessionmaker[Session], property_id: uuid.UUID) -> Property:
    with sessions() as session:
        return session.get_one(Property, property_id)


def seed_hotel(session: Session, name: str, rooms: int, plans: int, *, connected: bool) -> Hotel:
    """A tenant with one property of ``rooms`` x ``plans`` plans, pushing to a channel if
    ``connected``; its admin key in ``api_key``."""
    tenant, key = create_tenant(session, name)
    prop = properties.create_property(
        session,
        tenant.id,
        PropertyCreate(name=name, timezone="Europe/Lisbon", currency="EUR", horizon_days=750),
    )
    plan_ids: list[uuid.UUID] = []
    for room in range(rooms):
        room_type = properties.create_room_type(
            session,
            tenant.id,
            prop.id,
            RoomTypeCreate(
                code=f"R{room}",
                name=f"Room {room}",
                sellable_units=10,
                max_adults=2,
                max_occupancy=2,
                default_occupancy=2,
            ),
        )
        plan_ids.extend(
            properties.create_rate_plan(
                session,
                tenant.id,
                prop.id,
                RatePlanCreate(room_type_id=room_type.id, code=f"R{room}-P{plan}", name="Plan"),
            ).id
            for plan in range(plans)
        )
    if connected:
        # A pushing connection, so every changed entry writes its dirty mark (no channel is
        # called: the bench measures the write, not the worker).
        session.add(
            Connection(
                tenant_id=tenant.id,
                property_id=prop.id,
                channel="fake",
                name="fake",
                config_encrypted="",
                push_enabled=True,
                state="connected",
                webhook_token=uuid.uuid4().hex,
                bucket_key=f"bench-{uuid.uuid4().hex}",
            )
        )
    session.flush()
    return Hotel(tenant.id, prop.id, plan_ids, key.secret)


def bulk_request(hotel: Hotel, today: date, days: int, price: Decimal) -> AriWrite:
    """One entry per plan of ``hotel``, ``days`` days from ``today``: the bulk write measured."""
    last = today + timedelta(days=days - 1)
    return AriWrite(
        entries=[
            AriEntry(
                rate_plan_id=plan_id,
                date_from=today,
                date_to=last,
                price=price,
                min_stay_arrival=2 if price > 100 else 1,
            )
            for plan_id in hotel.plan_ids
        ]
    )


def _bulk(
    sessions: sessionmaker[Session],
    hotel: Hotel,
    today: date,
    days: int,
    price: Decimal,
    others: list[Hotel],
) -> dict[str, Any]:
    """One bulk write with the other tenants writing throughout; their latencies and its own."""
    request = bulk_request(hotel, today, days, price)
    holds: list[float] = []
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=_other_writes,
            args=(sessions, others[n::OTHERS_THREADS], today, stop, latencies, errors),
        )
        for n in range(min(OTHERS_THREADS, len(others)))
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # the others' baseline before the bulk write starts
    began = time.perf_counter()
    write_ari_in_chunks(
        sessions,
        hotel.tenant_id,
        hotel.property_id,
        request,
        on_commit=lambda _part, held: holds.append(held),
    )
    total = time.perf_counter() - began
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "bulk": {"total_s": total, "transactions": len(holds), "longest_s": max(holds)},
        "others": {"latencies": latencies, "errors": errors},
    }


def _other_writes(
    sessions: sessionmaker[Session],
    hotels: list[Hotel],
    today: date,
    stop: threading.Event,
    latencies: list[float],
    errors: list[str],
) -> None:
    """Single-day writes of other tenants, each in one transaction as the API does them."""
    turn = 0
    while not stop.is_set():
        hotel = hotels[turn % len(hotels)]
        stay = today + timedelta(days=turn % 300)
        request = AriWrite(
            entries=[
                AriEntry(
                    rate_plan_id=hotel.plan_ids[0],
                    date_from=stay,
                    date_to=stay,
                    price=Decimal(80 + turn % 50),
                )
            ]
        )
        began = time.perf_counter()
        try:
            with transaction(sessions) as session:
                write_ari(session, hotel.tenant_id, hotel.property_id, request)
        except Exception as exc:  # noqa: BLE001  (a failed write is a figure, not a crash)
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        latencies.append(time.perf_counter() - began)
        turn += 1
        stop.wait(OTHERS_PACE)


def _merge_others(*runs: dict[str, Any]) -> dict[str, Any]:
    latencies = sorted(value for run in runs for value in run["latencies"])
    errors = [error for run in runs for error in run["errors"]]
    return {
        "count": len(latencies),
        "p50_s": percentile(latencies, 0.50) if latencies else 0.0,
        "p99_s": percentile(latencies, 0.99) if latencies else 0.0,
        "max_s": latencies[-1] if latencies else 0.0,
        "errors": len(errors),
        "first_errors": errors[:3],
    }
