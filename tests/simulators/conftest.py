"""Fixtures for the simulators: an injected clock and sleep, a webhook sink, an HTTP client."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from innsync.simulators.channex import SimulatorConfig, create_app

API_KEY = "test-key"
# A Monday, so weekday filters in the tests line up with dates written out by hand.
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
TODAY = START.date()


class FakeClock:
    """The simulator's clock; tests move it instead of sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RecordingSleep:
    """The simulator's sleep: remembers each requested delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Received:
    """One webhook POST as the receiver saw it."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """A webhook endpoint behind an httpx.MockTransport: no socket is opened."""

    received: list[Received] = field(default_factory=list)
    # Statuses to answer with, in order; once used up every POST gets 200.
    statuses: list[int] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(
            Received(str(request.url), dict(request.headers), json.loads(request.content))
        )
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, text=f"answered {status}")

    def events(self) -> list[str]:
        return [item.body["event"] for item in self.received]


class SimClient:
    """Synchronous HTTP calls into the app through httpx's ASGI transport."""

    def __init__(self, app: FastAPI, api_key: str | None = API_KEY) -> None:
        self.app = app
        self.api_key = api_key

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if self.api_key is not None and path.startswith("/api/"):
            sent.setdefault("user-api-key", self.api_key)

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
                return await client.request(
                    method, path, json=json_body, content=content, params=params, headers=sent
                )

        return anyio.run(call)

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.request("POST", path, json_body=body)

    def put(self, path: str, body: Any = None) -> httpx.Response:
        return self.request("PUT", path, json_body=body)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)


@dataclass
class Sim:
    """One simulator with its injected collaborators."""

    app: FastAPI
    client: SimClient
    clock: FakeClock
    sleep: RecordingSleep
    receiver: Receiver
    config: SimulatorConfig


SimFactory = Callable[..., Sim]


@pytest.fixture
def make_sim() -> SimFactory:
    """Build a simulator; keyword arguments override the test defaults of its config."""

    def build(**overrides: Any) -> Sim:
        clock, sleep, receiver = FakeClock(START), RecordingSleep(), Receiver()
        config = SimulatorConfig(
            api_keys=(API_KEY,),
            seed=7,
            clock=clock,
            sleep=sleep,
            webhook_transport=httpx.MockTransport(receiver.handle),
            pump_interval_seconds=None,
        )
        config = replace(config, **overrides)
        app = create_app(config)
        return Sim(app, SimClient(app), clock, sleep, receiver, config)

    return build


@pytest.fixture
def sim(make_sim: SimFactory) -> Sim:
    return make_sim()


@dataclass(frozen=True)
class Hotel:
    """A property with two room types and a rate plan on each (one per-person)."""

    property_id: str
    twin_id: str
    double_id: str
    twin_bar_id: str
    double_pp_id: str


def room_type_body(property_id: str, title: str, **extra: Any) -> dict[str, Any]:
    fields = {
        "property_id": property_id,
        "title": title,
        "count_of_rooms": 8,
        "occ_adults": 2,
        "occ_children": 0,
        "occ_infants": 0,
        "default_occupancy": 2,
        **extra,
    }
    return {"room_type": fields}


def create_hotel(client: SimClient, **property_fields: Any) -> Hotel:
    """Provision a hotel through the public API, as an adapter would."""
    prop = client.post(
        "/api/v1/properties",
        {"property": {"title": "Seaside", "currency": "EUR", **property_fields}},
    )
    assert prop.status_code == 201, prop.text
    property_id = prop.json()["data"]["id"]
    ids = []
    for title in ("Twin", "Double"):
        response = client.post("/api/v1/room_types", room_type_body(property_id, title))
        assert response.status_code == 201, response.text
        ids.append(response.json()["data"]["id"])
    twin_bar = client.post(
        "/api/v1/rate_plans",
        {
            "rate_plan": {
                "property_id": property_id,
                "room_type_id": ids[0],
                "title": "Twin BAR",
                "options": [{"occupancy": 2, "is_primary": True, "rate": 10000}],
            }
        },
    )
    double_pp = client.post(
        "/api/v1/rate_plans",
        {
            "rate_plan": {
                "property_id": property_id,
                "room_type_id": ids[1],
                "title": "Double per person",
                "sell_mode": "per_person",
                "options": [
                    {"occupancy": 2, "is_primary": True, "rate": 12000},
                    {"occupancy": 1, "is_primary": False, "rate": 9000},
                ],
            }
        },
    )
    assert twin_bar.status_code == double_pp.status_code == 201, (twin_bar.text, double_pp.text)
    return Hotel(
        property_id, ids[0], ids[1], twin_bar.json()["data"]["id"], double_pp.json()["data"]["id"]
    )


def day(offset: int) -> str:
    """The ISO stay date ``offset`` days after the simulator's today."""
    return (TODAY + timedelta(days=offset)).isoformat()


def as_date(text: str) -> date:
    return date.fromisoformat(text)
