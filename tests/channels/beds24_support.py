"""The Beds24 adapter against the in-process Beds24 simulator, every exchange recorded.

Both sides read one manual clock. Every request the adapter sends and every answer the
simulator gives passes through a :class:`RecordingTransport`, so a test can check them against
Beds24's OpenAPI file (``beds24_openapi``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from innsync.channels.beds24 import Beds24Adapter, Beds24Config
from innsync.channels.beds24.credits import CreditMeters
from innsync.channels.credentials import CredentialStore, InMemoryCredentialStore
from innsync.simulators.beds24 import SimulatorConfig, create_app
from tests.channels.beds24_openapi import RecordingTransport

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
BASE_URL = "http://beds24.sim/v2"
SIM_URL = "http://beds24.sim/_sim"
WEBHOOK_URL = "https://innsync.example/hooks/beds24"
WEBHOOK_HEADER = "x-innsync-webhook-secret"
WEBHOOK_SECRET = "beds24-webhook-secret"
PROPERTY_ID = 101
ROOMS = ("201", "202")


class ManualClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def _no_sleep(seconds: float) -> None:
    del seconds


class Deliveries:
    """The webhook endpoint the simulator posts to: keeps each raw request."""

    def __init__(self) -> None:
        self.received: list[httpx.Request] = []
        self.status = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.status)


@dataclass
class Beds24Pair:
    """A simulator, the recorded transport to it, and adapters built against it."""

    clock: ManualClock = field(default_factory=ManualClock)
    sim_options: dict[str, Any] = field(default_factory=dict)
    meters: CreditMeters = field(default_factory=CreditMeters)
    deliveries: Deliveries = field(default_factory=Deliveries)

    def __post_init__(self) -> None:
        options: dict[str, Any] = {
            "seed": 7,
            "clock": self.clock,
            "sleep": _no_sleep,
            "webhook_url": WEBHOOK_URL,
            "webhook_custom_header": f"{WEBHOOK_HEADER}: {WEBHOOK_SECRET}",
            "webhook_delay_seconds": 0.0,
            "webhook_transport": httpx.MockTransport(self.deliveries.handle),
            "pump_interval_seconds": None,
            **self.sim_options,
        }
        self.sim_config = SimulatorConfig(**options)
        self.app = create_app(self.sim_config)
        self.transport = RecordingTransport(httpx.ASGITransport(app=self.app))
        self.http = httpx.AsyncClient(transport=self.transport)
        self.config = Beds24Config(
            base_url=BASE_URL,
            refresh_token=SecretStr("sim-refresh-token"),
            property_id=PROPERTY_ID,
            currency="EUR",
            webhook_header=WEBHOOK_HEADER,
            webhook_secret=SecretStr(WEBHOOK_SECRET),
        )

    def adapter(self, credentials: CredentialStore | None = None, **changes: Any) -> Beds24Adapter:
        config = self.config.model_copy(update=changes) if changes else self.config
        return Beds24Adapter(
            config,
            self.http,
            credentials=credentials or InMemoryCredentialStore(),
            now=self.clock,
            meters=self.meters,
        )

    async def sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, SIM_URL + path, json=body)
        response.raise_for_status()
        return response.json()

    async def api_requests(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (await self.sim("GET", "/requests?bodies=1"))["data"]
        return rows

    def endpoints(self) -> list[str]:
        """The API calls the adapter made, in order (``POST /inventory/rooms/calendar``)."""
        return [
            f"{e.request.method} {e.request.url.path.removeprefix('/v2')}"
            for e in self.transport.exchanges
        ]

    async def close(self) -> None:
        await self.http.aclose()
