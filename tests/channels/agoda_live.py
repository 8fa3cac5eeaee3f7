"""innsync's engine and inbox against the Agoda simulator over real HTTP, both ways.

The simulator serves on a loopback port for the whole module (its state reset per test); each
test's innsync app serves the connection's ``/hooks/{token}``, where the simulator pushes its
BookingHints. The connection is stored encrypted in a real database; the engine passes (sync
worker, reconciler, processor) run one at a time on a clock the test moves.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app as create_innsync_app
from innsync.channels.agoda import AgodaAdapter, AgodaConfig
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.db.personal import install_keys
from innsync.properties.schemas import PropertyCreate
from innsync.settings import Settings
from innsync.simulators.agoda import SimulatorConfig, create_app
from innsync.simulators.agoda.state import SimulatorState
from tests.channels.booking_com_live import Exchange, RecordingTransport
from tests.channels.live_xml import EngineSteps, create_mapped_hotel
from tests.servers import serving
from tests.simulators.conftest import SimClient
from tests.sync.engine_fixtures import Clock

API_KEY = "live-agoda-key"
HINT_SECRET = "live-hint-secret"
PROPERTY_ID = "226110"
ROOMS = ("8179851", "8179852", "8179853")
RATES = ("937901", "937902", "937903", "937904", "937905", "937906")
"""Two per room, in room order (the simulator's default property)."""
# §3.3: SetARI takes 730 days ahead: the property's horizon is all of it.
HORIZON_DAYS = 730


def calls_of(transport: RecordingTransport, request_type: str, since: int = 0) -> list[Exchange]:
    """The calls whose ``<request type>`` is ``request_type`` ("10" SetARI, "3", "4")."""
    marker = f'type="{request_type}"'.encode()
    return [e for e in transport.exchanges[since:] if marker in e.request_body[:200]]


@dataclass
class SimServer:
    """The simulator serving for the module, with the clock both sides read."""

    app: FastAPI
    url: str
    clock: Clock
    client: SimClient

    @property
    def state(self) -> SimulatorState:
        state: SimulatorState = self.app.state.simulator
        return state


@contextmanager
def sim_server() -> Iterator[SimServer]:
    clock = Clock()
    app = create_app(
        SimulatorConfig(
            api_key=API_KEY,
            seed=14,
            clock=clock,
            pump_interval_seconds=None,
            hint_secret=HINT_SECRET,
        )
    )
    with serving(app) as url:
        yield SimServer(app, url, clock, SimClient(app, api_key=None))


@dataclass
class LiveAgoda(EngineSteps):
    """One property (3 room types x 2 rate plans) on one Agoda connection."""

    holder = "agoda-e2e"

    sessions: sessionmaker[Session]
    box: SecretBox
    server: SimServer
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    hook_url: str
    transport: RecordingTransport = field(default_factory=RecordingTransport)

    @property
    def clock(self) -> Clock:
        return self.server.clock

    @property
    def sim(self) -> SimClient:
        return self.server.client

    def adapter_for(self, http: httpx.AsyncClient) -> Any:
        def build(connection: Connection) -> AgodaAdapter:
            # The stored, encrypted config, as the worker builds it.
            stored = json.loads(self.box.decrypt(connection.config_encrypted))
            return AgodaAdapter(AgodaConfig.model_validate(stored), http, now=self.clock)

        return build

    def restart(self) -> None:
        """A new innsync process: nothing of the old one's memory, only the database."""
        self.transport = RecordingTransport(self.transport.exchanges)

    def tick(self) -> dict[str, int]:
        """The simulator's timed events: hints due are pushed to innsync's hook URL."""
        answer: dict[str, int] = self.sim.post("/_sim/tick", {}).json()
        return answer

    def day(self, offset: int) -> date:
        """The day in the simulated property's zone (Agoda dates are local), plus ``offset``."""
        return self.clock().astimezone(self.server.state.zone).date() + timedelta(days=offset)

    def book(
        self, room: int = 0, rate: int = 0, offset: int = 10, nights: int = 2, **extra: Any
    ) -> str:
        answer = self.sim.post(
            "/_sim/bookings",
            {
                "property_id": PROPERTY_ID,
                "room_id": ROOMS[room],
                "rateplan_id": RATES[room * 2 + rate],
                "arrival": self.day(offset).isoformat(),
                "departure": self.day(offset + nights).isoformat(),
                "adults": 2,
                **extra,
            },
        )
        assert answer.status_code == 201, answer.text
        booking_id: str = answer.json()["data"]["booking_id"]
        return booking_id

    def bookings(self) -> dict[str, Any]:
        found: dict[str, Any] = self.sim.get("/_sim/bookings").json()
        return found


def _create_hotel(
    sessions: sessionmaker[Session], box: SecretBox, sim_url: str, options: dict[str, Any]
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], list[uuid.UUID], uuid.UUID, str]:
    return create_mapped_hotel(
        sessions,
        box,
        tenant="Agoda e2e",
        hotel=PropertyCreate(
            name="Riverside",
            timezone="Asia/Bangkok",
            currency="USD",
            horizon_days=HORIZON_DAYS,
        ),
        connection=ConnectionCreate(
            channel="agoda",
            name="Agoda",
            config={
                "property_id": PROPERTY_ID,
                "api_key": API_KEY,
                "base_url": sim_url,
                "hint_secret": HINT_SECRET,
                **options,
            },
        ),
        rooms=ROOMS,
        rates=RATES,
    )


@contextmanager
def live_agoda(
    engine: Engine,
    box: SecretBox,
    server: SimServer,
    connection_options: dict[str, Any] | None = None,
    **sim_options: Any,
) -> Iterator[LiveAgoda]:
    """The module's simulator reset, this test's innsync serving its hook URL, the hotel mapped;
    the connection's config takes ``connection_options``, the simulator's ``sim_options``."""
    install_keys(box)  # the workers this spawns encrypt with it
    sessions = session_factory(engine)
    state = server.state
    server.clock.now = Clock().now
    innsync_app = create_innsync_app(
        Settings(database_url="sqlite://", background_loops=False),
        engine=engine,
        sessions=sessions,
        secret_box=box,
        run_loops=False,
    )
    with ExitStack() as stack:
        innsync_url = stack.enter_context(serving(innsync_app))
        tenant_id, property_id, rooms, plans, connection_id, token = _create_hotel(
            sessions, box, server.url, connection_options or {}
        )
        hook_url = f"{innsync_url}/hooks/{token}"
        original = state.config
        state.config = dataclasses.replace(original, hint_url=hook_url, **sim_options)
        state.reset()
        try:
            yield LiveAgoda(
                sessions,
                box,
                server,
                tenant_id,
                property_id,
                rooms,
                plans,
                connection_id,
                hook_url,
            )
        finally:
            state.config = original
            state.reset()
