"""Shared pieces of the Aiosell simulator tests: a built simulator, Basic auth, a PMS receiver."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpx
from fastapi import FastAPI

from innsync.simulators.aiosell import SimulatorConfig, create_app
from tests.simulators.conftest import START, FakeClock, RecordingSleep

PARTNER = "sample-pms"
USERNAME = "sample-pms"
PASSWORD = "pa55-word-for-tests"
HOTEL = "SANDBOX-PMS"
PMS_URL = "https://pms.example/update_reservation"


def basic(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


@dataclass
class PmsReceiver:
    """The PMS URL behind an httpx.MockTransport: records each POST, answers in Aiosell's way."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # Statuses to answer with, in order; once used up every POST gets 200.
    statuses: list[int] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        self.headers.append(dict(request.headers))
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(
            status,
            json={"success": status == 200, "message": "Reservation Updated Successfully"},
        )


@dataclass
class AiosellSim:
    app: FastAPI
    clock: FakeClock
    sleep: RecordingSleep
    receiver: PmsReceiver
    config: SimulatorConfig

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: str | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        headers = {}
        if path.startswith("/api/"):
            headers["authorization"] = auth if auth is not None else basic(USERNAME, PASSWORD)

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
                return await client.request(
                    method, path, json=body, content=content, headers=headers
                )

        return anyio.run(call)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, body, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)


def build(**overrides: Any) -> AiosellSim:
    clock, sleep, receiver = FakeClock(START), RecordingSleep(), PmsReceiver()
    config = SimulatorConfig(
        password=PASSWORD,
        seed=7,
        clock=clock,
        sleep=sleep,
        webhook_url=PMS_URL,
        webhook_transport=httpx.MockTransport(receiver.handle),
        pump_interval_seconds=None,
    )
    config = replace(config, **overrides)
    return AiosellSim(create_app(config), clock, sleep, receiver, config)


AiosellFactory = Callable[..., AiosellSim]


def inventory_body(available: int = 4, **room: Any) -> dict[str, Any]:
    return {
        "hotelCode": HOTEL,
        "updates": [
            {
                "startDate": "2030-03-01",
                "endDate": "2030-03-03",
                "rooms": [{"roomCode": "EXECUTIVE", "available": available, **room}],
            }
        ],
    }


def rates_body(**rate: Any) -> dict[str, Any]:
    item = {"roomCode": "EXECUTIVE", "rateplanCode": "EXECUTIVE-S-101", "rate": 3500.0, **rate}
    return {
        "hotelCode": HOTEL,
        "updates": [{"startDate": "2030-03-01", "endDate": "2030-03-02", "rates": [item]}],
    }
