"""A Channex-connected hotel for API tests: the in-process simulator and a tenant's site.

The fixtures over it (``sim_app``, ``sim``, ``api``) are in this folder's ``conftest.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from innsync.simulators.channex import SimulatorConfig, create_app
from tests.api.helpers import Caller, ok
from tests.simulators.conftest import START as SIM_START
from tests.simulators.conftest import FakeClock, RecordingSleep, SimClient

KEY = "api-provisioning-key"
BASE_URL = "http://channex.sim/api/v1"


def new_sim_app() -> FastAPI:
    return create_app(
        SimulatorConfig(
            api_keys=(KEY,),
            seed=3,
            clock=FakeClock(SIM_START),
            sleep=RecordingSleep(),
            pump_interval_seconds=None,
        )
    )


@dataclass
class Site:
    """A tenant's hotel of 2 room types x 2 rate plans (one per person), and its connection."""

    caller: Caller
    property_id: str
    room_type_ids: dict[str, str]
    rate_plan_ids: dict[str, str]
    connection_id: str


def make_site(api: TestClient, caller: Caller, key: str = KEY, *, tested: bool = True) -> Site:
    headers = caller.headers
    prop = ok(
        api.post(
            "/api/v1/properties",
            json={"name": "Harbour", "timezone": "Europe/Lisbon", "currency": "EUR"},
            headers=headers,
        ),
        201,
    )
    rooms: dict[str, str] = {}
    for code, name, adults in (("DBL", "Double", 2), ("TRP", "Triple", 3)):
        rooms[code] = ok(
            api.post(
                f"/api/v1/properties/{prop['id']}/room-types",
                json={
                    "code": code,
                    "name": name,
                    "sellable_units": 4,
                    "max_adults": adults,
                    "max_occupancy": adults,
                    "default_occupancy": 2,
                },
                headers=headers,
            ),
            201,
        )["id"]
    plans: dict[str, str] = {}
    for code, name, room, extra in (
        ("BAR", "Best available", "DBL", {}),
        ("PP", "Triple per person", "TRP", {"pricing": "per_person", "occupancies": [1, 2, 3]}),
    ):
        plans[code] = ok(
            api.post(
                f"/api/v1/properties/{prop['id']}/rate-plans",
                json={"room_type_id": rooms[room], "code": code, "name": name, **extra},
                headers=headers,
            ),
            201,
        )["id"]
    connection = ok(
        api.post(
            f"/api/v1/properties/{prop['id']}/connections",
            params={} if tested else {"test": "false"},
            json={
                "channel": "channex",
                "name": "Channex",
                "config": {"base_url": BASE_URL, "api_key": key},
            },
            headers=headers,
        ),
        201,
    )
    return Site(caller, prop["id"], rooms, plans, connection["id"])


def listed(sim: SimClient, path: str) -> list[dict[str, Any]]:
    body = sim.get(path, {"pagination[limit]": "100"}).json()
    return [item["attributes"] for item in body["data"]]


def sim_writes(sim: SimClient) -> int:
    log = sim.get("/_sim/requests").json()["data"]
    return sum(1 for row in log if row["method"] in ("POST", "PUT", "DELETE"))
