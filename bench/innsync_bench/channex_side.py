"""The Channex side of a benchmark: a simulator process and hotels created through its API."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from innsync_bench.processes import free_port, running
from innsync_bench.simulator_server import API_KEY

# Concurrent provisioning calls: enough to keep the simulator busy, few enough not to queue.
PROVISION_CONCURRENCY = 16


@dataclass(frozen=True)
class ChannexHotel:
    """Ids Channex gave a property, its room types and, per room type, its rate plans."""

    property_id: str
    room_type_ids: list[str]
    rate_plan_ids: list[list[str]]


@dataclass(frozen=True)
class Simulator:
    """A running simulator process."""

    root: str
    pid: int

    @property
    def api_url(self) -> str:
        return f"{self.root}/api/v1"

    def connection_config(self, hotel: ChannexHotel) -> dict[str, Any]:
        return {"base_url": self.api_url, "api_key": API_KEY, "property_id": hotel.property_id}

    def requests(self) -> list[dict[str, Any]]:
        """The simulator's request log (method, path, class, property ids, bytes, status, at)."""
        rows: list[dict[str, Any]] = httpx.get(f"{self.root}/_sim/requests", timeout=120).json()[
            "data"
        ]
        return rows

    def ari_writes(self) -> list[dict[str, Any]]:
        """Accepted ARI writes with their arrival time and values (``--record-ari`` only)."""
        rows: list[dict[str, Any]] = httpx.get(f"{self.root}/_bench/ari", timeout=120).json()[
            "data"
        ]
        return rows


@contextmanager
def channex_simulator(
    workdir: Path, *, calls_per_minute: int = 10, log_size: int = 10_000, record_ari: bool = False
) -> Iterator[Simulator]:
    """Start ``innsync_bench.simulator_server`` on a free loopback port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "innsync_bench.simulator_server",
        "--port",
        str(port),
        "--calls-per-minute",
        str(calls_per_minute),
        "--log-size",
        str(log_size),
    ] + (["--record-ari"] if record_ari else [])
    root = f"http://127.0.0.1:{port}"
    with running(command, workdir / f"simulator-{port}.log", ready_url=f"{root}/_sim/faults") as p:
        yield Simulator(root, p.pid)


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"the simulator refused {path}: {response.text[:500]}")
    created: str = response.json()["data"]["id"]
    return created


async def provision(
    client: httpx.AsyncClient, title: str, rooms: int, plans_per_room: int
) -> ChannexHotel:
    """Create a property with ``rooms`` room types of ``plans_per_room`` per-room plans each."""
    property_id = await _post(
        client,
        "/properties",
        {"property": {"title": title, "currency": "EUR", "timezone": "Europe/Lisbon"}},
    )
    room_type_ids: list[str] = []
    plan_ids: list[list[str]] = []
    for room in range(rooms):
        room_type_id = await _post(
            client,
            "/room_types",
            {
                "room_type": {
                    "property_id": property_id,
                    "title": f"Room {room}",
                    "count_of_rooms": 12,
                    "occ_adults": 2,
                    "occ_children": 0,
                    "occ_infants": 0,
                    "default_occupancy": 2,
                }
            },
        )
        room_type_ids.append(room_type_id)
        plan_ids.append(
            [
                await _post(
                    client,
                    "/rate_plans",
                    {
                        "rate_plan": {
                            "property_id": property_id,
                            "room_type_id": room_type_id,
                            "title": f"Room {room} plan {plan}",
                            "options": [{"occupancy": 2, "is_primary": True, "rate": 10000}],
                        }
                    },
                )
                for plan in range(plans_per_room)
            ]
        )
    return ChannexHotel(property_id, room_type_ids, plan_ids)


def provision_many(
    simulator: Simulator, count: int, rooms: int, plans_per_room: int
) -> list[ChannexHotel]:
    """``count`` hotels of the same shape, created concurrently."""

    async def create_all() -> list[ChannexHotel]:
        gate = asyncio.Semaphore(PROVISION_CONCURRENCY)
        limits = httpx.Limits(max_connections=PROVISION_CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=simulator.api_url,
            headers={"user-api-key": API_KEY},
            limits=limits,
            timeout=60,
        ) as client:

            async def one(index: int) -> ChannexHotel:
                async with gate:
                    return await provision(client, f"Hotel {index}", rooms, plans_per_room)

            return list(await asyncio.gather(*(one(n) for n in range(count))))

    return asyncio.run(create_all())
