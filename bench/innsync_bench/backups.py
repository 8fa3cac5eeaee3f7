"""backups: time and peak memory of backup, restore and verify of a large hotel group.

100 properties, each with 2 room types x 2 rate plans and 500 days of varied ARI (200,000
plan-days), and 50,000 direct reservations with their rooms and an exact inventory ledger,
on SQLite and on a private PostgreSQL database. Each database is backed up into a local store,
restored into a new database of the same kind and verified (restored into a scratch SQLite file
and compared with the manifest); PostgreSQL once more with ``pg_dump`` where it is installed
(restored by ``psql``, verified in a scratch PostgreSQL database). Memory is the growth of this
process's resident set over the step (sampled every 20 ms), so what a step keeps in memory, not
what the process had before; a dump tool's own memory is not in it.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from innsync.backups.archive import PORTABLE
from innsync.backups.cipher import BackupKey, generate_backup_key
from innsync.backups.format import TableSpec
from innsync.backups.restore import backed_up_tables, checksum_tables
from innsync.backups.service import create_backup, restore_backup, verify_backup
from innsync.backups.store import LocalStore
from innsync.db.engine import session_factory, transaction
from innsync.inventory.calendar import write_ari
from innsync.inventory.models import InventoryLedgerDay
from innsync.inventory.schemas import MAX_ARI_ENTRIES, AriWrite
from innsync.properties import service as properties
from innsync.properties.schemas import PropertyCreate, RatePlanCreate, RoomTypeCreate
from innsync.reservations.models import Reservation, ReservationRoom
from innsync.tenants.service import create_tenant
from innsync_bench.databases import postgres_database, postgres_version, sqlite_database
from innsync_bench.hotels import HORIZON_DAYS, TIMEZONE, Hotel, varied_ari_entries
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table, versions

TITLE = "backup, restore and verify time and peak memory, 100 properties x 500 days + 50k bookings"
PROPERTIES, RESERVATIONS, DAYS = 100, 50_000, HORIZON_DAYS
QUICK_PROPERTIES, QUICK_RESERVATIONS, QUICK_DAYS = 2, 400, 30
ROOM_TYPES, PLANS = 2, 2
# Rows written per INSERT while seeding.
SEED_BATCH = 2000
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    properties: int
    reservations: int
    days: int


def run(options: RunOptions) -> Outcome:
    size = (
        Size(QUICK_PROPERTIES, QUICK_RESERVATIONS, QUICK_DAYS)
        if options.quick
        else Size(PROPERTIES, RESERVATIONS, DAYS)
    )
    measured: list[dict[str, Any]] = []
    failed: list[str] = []
    found_versions = versions()
    for backend in ("sqlite", "postgresql"):
        with _databases(options, backend) as (source, target):
            if backend == "postgresql":
                found_versions["postgresql"] = postgres_version(source)
            options.progress(f"{backend}: seeding {size}")
            _seed(source, size)
            # PostgreSQL a second time with pg_dump (where installed), into the same target:
            # the forced restore replaces the portable restore's rows.
            for native in (False, True) if backend == "postgresql" else (False,):
                label = backend + (" native" if native else "")
                options.progress(f"{label}: backup, restore, verify")
                figures, problems = _measure(
                    source, target, options.workdir / label.replace(" ", "-"), native=native
                )
                figures["backend"] = backend + (
                    f" ({figures['data_format']})" if figures["data_format"] != PORTABLE else ""
                )
                measured.append(figures)
                failed += [f"{label}: {problem}" for problem in problems]
    table = Table(
        "Backup, restore (same kind of database) and verify (portable: into a scratch SQLite "
        "file; pg_dump: into a scratch PostgreSQL database)",
        [
            "database",
            "rows",
            "backup s",
            "backup peak MiB",
            "file MiB",
            "restore s",
            "restore peak MiB",
            "verify s",
            "verify peak MiB",
        ],
        [
            [
                m["backend"],
                f"{m['rows']:,}",
                f"{m['backup_seconds']:.1f}",
                f"{m['backup_peak_mib']:.0f}",
                f"{m['file_mib']:.1f}",
                f"{m['restore_seconds']:.1f}",
                f"{m['restore_peak_mib']:.0f}",
                f"{m['verify_seconds']:.1f}",
                f"{m['verify_peak_mib']:.0f}",
            ]
            for m in measured
        ],
    )
    findings = [
        "restored tables equal the source's (rows and checksums) on every database"
        if not failed
        else "CHECKS FAILED: " + "; ".join(failed)
    ]
    return Outcome(
        sizes=(
            f"{size.properties} properties x {ROOM_TYPES} room types x {PLANS} plans x "
            f"{size.days} days of ARI, {size.reservations:,} reservations; local store; "
            "SQLite file (WAL) and a private PostgreSQL database on the same machine"
        ),
        tables=[table],
        findings=findings,
        data={"backends": measured, "failed_checks": failed},
        versions=found_versions,
    )


@contextmanager
def _databases(options: RunOptions, backend: str) -> Iterator[tuple[Engine, Engine]]:
    if backend == "sqlite":
        with (
            sqlite_database(options.workdir, "backup-source") as (_, source),
            sqlite_database(options.workdir, "backup-target") as (_, target),
        ):
            yield source, target
    else:
        with (
            postgres_database(options.postgres_server, "backup_source") as (_, source),
            postgres_database(options.postgres_server, "backup_target") as (_, target),
        ):
            yield source, target


def _seed(engine: Engine, size: Size) -> None:
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        tenant, _ = create_tenant(session, "Bench hotels")
        hotels = [
            _hotel(session, tenant.id, index, size.days, now) for index in range(size.properties)
        ]
    today = now.date()
    sold: Counter[tuple[uuid.UUID, Any]] = Counter()
    reservations: list[dict[str, Any]] = []
    rooms: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for number in range(size.reservations):
            hotel = hotels[number % len(hotels)]
            room = number % ROOM_TYPES
            nights = 1 + number % 4
            arrival = today + timedelta(days=1 + (number * 7) % max(size.days - 10, 1))
            reservation_id = uuid.uuid4()
            reservations.append(
                {
                    "id": reservation_id,
                    "tenant_id": tenant.id,
                    "property_id": hotel.property_id,
                    "source": "direct",
                    "status": "confirmed",
                    "arrival": arrival,
                    "departure": arrival + timedelta(days=nights),
                    "currency": "EUR",
                    "total_amount": 120 * nights,
                    "notes": f"booking {number}",
                }
            )
            rooms.append(
                {
                    "id": uuid.uuid4(),
                    "reservation_id": reservation_id,
                    "position": 0,
                    "room_type_id": hotel.room_type_ids[room],
                    "adults": 2,
                    "amount": 120 * nights,
                    "nightly_prices": {
                        (arrival + timedelta(days=n)).isoformat(): "120.00" for n in range(nights)
                    },
                }
            )
            for night in range(nights):
                sold[(hotel.room_type_ids[room], arrival + timedelta(days=night))] += 1
            if len(reservations) == SEED_BATCH:
                connection.execute(insert(Reservation), reservations)
                connection.execute(insert(ReservationRoom), rooms)
                reservations, rooms = [], []
        if reservations:
            connection.execute(insert(Reservation), reservations)
            connection.execute(insert(ReservationRoom), rooms)
        ledger = [
            {"room_type_id": room_type, "stay_date": night, "sold": count}
            for (room_type, night), count in sold.items()
        ]
        for first in range(0, len(ledger), SEED_BATCH):
            connection.execute(insert(InventoryLedgerDay), ledger[first : first + SEED_BATCH])


def _hotel(session: Session, tenant_id: uuid.UUID, index: int, days: int, now: datetime) -> Hotel:
    prop = properties.create_property(
        session,
        tenant_id,
        PropertyCreate(name=f"Hotel {index}", timezone=TIMEZONE, currency="EUR", horizon_days=500),
    )
    room_types, plans = [], []
    for room in range(ROOM_TYPES):
        room_type = properties.create_room_type(
            session,
            tenant_id,
            prop.id,
            RoomTypeCreate(
                code=f"R{room}",
                name=f"Room {room}",
                sellable_units=400,
                max_adults=2,
                max_occupancy=2,
                default_occupancy=2,
            ),
        )
        room_types.append(room_type.id)
        plans.append(
            [
                properties.create_rate_plan(
                    session,
                    tenant_id,
                    prop.id,
                    RatePlanCreate(room_type_id=room_type.id, code=f"R{room}P{plan}", name="Plan"),
                ).id
                for plan in range(PLANS)
            ]
        )
    hotel = Hotel(tenant_id, prop.id, room_types, plans, uuid.uuid4())
    today = properties.property_today(prop, now)
    last = (today + timedelta(days=days - 1)).isoformat()
    entries = [
        {**entry, "date_to": min(entry["date_to"], last)}
        for entry in varied_ari_entries(hotel, today)
        if entry["date_from"] <= last
    ]
    for first in range(0, len(entries), MAX_ARI_ENTRIES):
        chunk = AriWrite.model_validate({"entries": entries[first : first + MAX_ARI_ENTRIES]})
        write_ari(session, tenant_id, prop.id, chunk, now)
    return hotel


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _step(work: Callable[[], T]) -> tuple[T, float, float]:
    """The result, seconds, and peak growth of the resident set (MiB) of one step."""
    before = _resident_bytes()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _resident_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    peak = max(peak, _resident_bytes())
    return result, seconds, (peak - before) / 2**20


def _measure(
    source: Engine, target: Engine, folder: Path, *, native: bool
) -> tuple[dict[str, Any], list[str]]:
    store = LocalStore(folder)
    key = BackupKey(generate_backup_key())
    manifest, backup_seconds, backup_peak = _step(
        lambda: create_backup(
            source, store, key, actor="bench", scratch_dir=folder.parent, native=native
        )
    )
    _, restore_seconds, restore_peak = _step(
        lambda: restore_backup(target, store, manifest.name, key, actor="bench", force=native)
    )
    _, verify_seconds, verify_peak = _step(
        lambda: verify_backup(
            source, store, manifest.name, key, actor="bench", scratch_dir=folder.parent
        )
    )
    specs = [TableSpec.of(table) for table in backed_up_tables()]
    with source.connect() as left, target.connect() as right:
        problems = [
            f"{spec.name} differs after restore"
            for spec in specs
            if checksum_tables(left, [spec]) != checksum_tables(right, [spec])
        ]
    figures = {
        "rows": manifest.total_rows,
        "data_format": manifest.data_format,
        "file_mib": manifest.data_bytes / 2**20,
        "backup_seconds": backup_seconds,
        "backup_peak_mib": backup_peak,
        "restore_seconds": restore_seconds,
        "restore_peak_mib": restore_peak,
        "verify_seconds": verify_seconds,
        "verify_peak_mib": verify_peak,
        "tables": {table.name: table.rows for table in manifest.tables},
    }
    return figures, problems
