"""innsync's engine and inbox against the Agoda simulator over real HTTP, both ways.

The simulator serves on a loopback port for the whole module (its state reset per test); each
test's innsync app serves the connection's ``/hooks/{token}``, where the simulator pushes its
BookingHints. The connection is stored encrypted in a real database; the engine passes (sync
worker, reconciler, processor) run one at a time on a clock the test moves.
"""

from __future__ import annotations

import asyncio
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
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app as create_innsync_app
from innsync.channels.agoda import AgodaAdapter, AgodaConfig
from innsync.connections import service as connections
from innsync.connections.models import Connection
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.db.personal import install_keys
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.schemas import PropertyCreate
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from innsync.simulators.agoda import SimulatorConfig, create_app
from innsync.simulators.agoda.state import SimulatorState
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import create_tenant
from tests.channels.booking_com_live import Exchange, RecordingTransport
from tests.channels.live_catalog import create_catalog
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
class LiveAgoda:
    """One property (3 room types x 2 rate plans) on one Agoda connection."""

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

    def _run(self, step: Any) -> Any:
        async def run() -> Any:
            async with httpx.AsyncClient(transport=self.transport) as http:
                return await step(self.adapter_for(http))

        return asyncio.run(run())

    def sync(self, max_passes: int = 20) -> None:
        """Run the outbound worker until nothing is dirty."""

        async def passes(build: Any) -> None:
            worker = SyncWorker(self.sessions, build, clock=self.clock, holder="agoda-e2e")
            for _ in range(max_passes):
                await worker.run_once()
                with self.sessions() as session:
                    if not session.scalars(select(DirtyMark.id).limit(1)).first():
                        return
                self.clock.advance(6)
            raise AssertionError("availability or rates still dirty after the passes")

        self._run(passes)

    def reconcile(self) -> int:
        """One reconciler pass at the test clock."""
        return int(self._run(lambda build: pull_due(self.sessions, build, clock=self.clock)))

    def process(self) -> int:
        """Apply what the inbox holds (hints fetch their details here)."""

        async def passes(build: Any) -> int:
            done = 0
            for _ in range(5):
                step = await process_pending(self.sessions, build, clock=self.clock)
                step += await acknowledge_due(self.sessions, build, clock=self.clock)
                done += step
                if not step:
                    break
            return done

        return int(self._run(passes))

    def tick(self) -> dict[str, int]:
        """The simulator's timed events: hints due are pushed to innsync's hook URL."""
        answer: dict[str, int] = self.sim.post("/_sim/tick", {}).json()
        return answer

    def ari(self, *entries: dict[str, Any]) -> None:
        with transaction(self.sessions) as session:
            write_ari(
                session,
                self.tenant_id,
                self.property_id,
                AriWrite.model_validate({"entries": list(entries)}),
                self.clock(),
            )

    def day(self, offset: int) -> date:
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

    def counters(self) -> dict[str, int]:
        found: dict[str, int] = self.sim.get("/_sim/counters").json()
        return found

    def reservations(self) -> list[Reservation]:
        with self.sessions() as session:
            query = select(Reservation).where(Reservation.property_id == self.property_id)
            return list(session.scalars(query.order_by(Reservation.created_at)))

    def items(self) -> list[InboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))


def _create_hotel(
    sessions: sessionmaker[Session], box: SecretBox, sim_url: str, options: dict[str, Any]
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], list[uuid.UUID], uuid.UUID, str]:
    with transaction(sessions) as session:
        tenant, _ = create_tenant(session, "Agoda e2e")
        prop = properties.create_property(
            session,
            tenant.id,
            PropertyCreate(
                name="Riverside",
                timezone="Asia/Bangkok",
                currency="USD",
                horizon_days=HORIZON_DAYS,
            ),
        )
        room_types, plans = create_catalog(session, tenant.id, prop.id)
        created = connections.create_connection(
            session,
            box,
            tenant.id,
            prop.id,
            ConnectionCreate(
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
        )
        connections.set_mappings(
            session,
            tenant.id,
            created.id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=ours, channel_code=theirs)
                    for ours, theirs in zip(room_types, ROOMS, strict=True)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=plan, channel_code=code)
                    for plan, code in zip(plans, RATES, strict=True)
                ],
            ),
        )
        token = session.get_one(Connection, created.id).webhook_token
        return tenant.id, prop.id, room_types, plans, created.id, str(token)


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
