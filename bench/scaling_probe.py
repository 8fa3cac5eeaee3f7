"""A scaled-down measurement for docs/scaling.md: per-property costs of the outbound engine.

``python bench/scaling_probe.py [--properties 200] [--changes 400]``

On a private PostgreSQL database (``bench_scaling_<random>``, dropped at the end), creates
``--properties`` benchmark hotels (2 room types x 2 plans, 500 days of varied ARI, as in
``innsync bench scale``), each connected to an in-process fake channel (no HTTP: only
innsync's own work is measured), then:

1. full sync: one ``SyncWorker`` in this process drains every mark; its CPU time (this
   process: the worker's Python) per property, and requests per property;
2. steady state: ``--changes`` one-date price changes, one per property in turn, each followed
   by a worker pass; CPU per change and requests per change;
3. storage: rows and bytes (``pg_total_relation_size``, indexes included) per property of the
   tables that grow with properties.

It prints one JSON document. The database server's own CPU is not in these figures (it runs
in its own processes); ``innsync bench scale`` bounds it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from innsync.channels.fake import FakeChannel
from innsync.connections import service as connections
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import session_factory, transaction
from innsync.db.personal import install_keys
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import DirtyMark
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import create_tenant
from innsync_bench.databases import postgres_database
from innsync_bench.hotels import Hotel, create_hotel, seed_varied_ari
from innsync_bench.registry import DEFAULT_POSTGRES_SERVER

TABLES = (
    "rate_calendar_runs",
    "inventory_ledger",
    "acked_rates",
    "acked_availability",
    "sync_log",
    "reservations",
    "events",
    "dirty_marks",
)


class Clock:
    """Real time, moved on by hand past rate-limit windows (the limiter is not measured)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--properties", type=int, default=200)
    parser.add_argument("--changes", type=int, default=400)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES_SERVER)
    args = parser.parse_args()
    box = SecretBox([generate_key()])
    install_keys(box)
    with postgres_database(args.postgres, "scaling") as (_url, engine):
        sessions = session_factory(engine)
        channels: dict[Any, FakeChannel] = {}
        hotels: list[Hotel] = []
        with transaction(sessions) as session:
            tenant_id = create_tenant(session, "Probe")[0].id
        for number in range(args.properties):
            with transaction(sessions) as session:
                hotel = create_hotel(
                    session,
                    box,
                    tenant_id,
                    f"Hotel {number}",
                    rooms=2,
                    plans_per_room=2,
                    connection=ConnectionCreate(channel="fake", name="Fake"),
                )
                seed_varied_ari(session, hotel)
                connections.set_mappings(
                    session,
                    tenant_id,
                    hotel.connection_id,
                    MappingsWrite(
                        room_types=[
                            RoomTypeMappingIn(room_type_id=rt, channel_code=f"R{n}")
                            for n, rt in enumerate(hotel.room_type_ids)
                        ],
                        rate_plans=[
                            RatePlanMappingIn(rate_plan_id=p, channel_code=f"P{n}")
                            for n, p in enumerate(hotel.all_plan_ids)
                        ],
                    ),
                )
            hotels.append(hotel)
            channels[hotel.connection_id] = FakeChannel()
        clock = Clock()
        worker = SyncWorker(
            sessions, lambda connection: channels[connection.id], clock=clock, holder="probe"
        )

        def requests() -> int:
            return sum(len(channel.requests) for channel in channels.values())

        def pending() -> int:
            with sessions() as session:
                return int(session.scalar(select(func.count()).select_from(DirtyMark)) or 0)

        async def drain() -> None:
            while pending():
                if not await worker.run_once():
                    clock.offset += timedelta(seconds=61)  # past any budget window

        cpu, wall = time.process_time(), time.monotonic()
        asyncio.run(drain())
        full_sync = {
            "cpu_seconds_per_property": (time.process_time() - cpu) / len(hotels),
            "wall_seconds_per_property": (time.monotonic() - wall) / len(hotels),
            "requests_per_property": requests() / len(hotels),
        }
        before = requests()
        cpu = time.process_time()

        async def changes() -> None:
            for number in range(args.changes):
                hotel = hotels[number % len(hotels)]
                clock.offset += timedelta(seconds=61)
                with transaction(sessions) as session:
                    day = (clock() + timedelta(days=20 + number // len(hotels))).date()
                    write_ari(
                        session,
                        hotel.tenant_id,
                        hotel.property_id,
                        AriWrite.model_validate(
                            {
                                "entries": [
                                    {
                                        "rate_plan_id": str(hotel.all_plan_ids[0]),
                                        "date_from": day.isoformat(),
                                        "date_to": day.isoformat(),
                                        "price": f"{200 + number % 97}.00",
                                    }
                                ]
                            }
                        ),
                        clock(),
                    )
                await worker.run_once()

        asyncio.run(changes())
        steady = {
            "cpu_seconds_per_change": (time.process_time() - cpu) / args.changes,
            "requests_per_change": (requests() - before) / args.changes,
        }
        storage = {}
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            for table in TABLES:
                rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608  (fixed names)
                size = connection.execute(
                    text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table}
                ).scalar_one()
                storage[table] = {
                    "rows_per_property": rows / len(hotels),
                    "bytes_per_property": size / len(hotels),
                }
    print(  # noqa: T201  (a script's output)
        json.dumps(
            {
                "properties": len(hotels),
                "changes": args.changes,
                "full_sync": full_sync,
                "steady_state": steady,
                "storage": storage,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
