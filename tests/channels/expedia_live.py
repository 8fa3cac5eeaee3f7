"""innsync's engine and inbox against the EQC simulator served on a loopback port.

Real HTTP (the adapter posts AR, BR and BC to the simulator; EQC never calls back), the
connection stored encrypted in a real database, every exchange kept. The engine passes (sync
worker, reconciler, processor, acknowledgements) run one at a time on a clock the test moves.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.expedia import ExpediaAdapter, ExpediaConfig
from innsync.channels.types import RevisionPage
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.db.personal import install_keys
from innsync.properties.schemas import PropertyCreate
from innsync.simulators.expedia import SimulatorConfig, create_app
from innsync.simulators.expedia.config import HotelSetup, RoomSetup
from tests.channels.booking_com_live import Exchange, RecordingTransport
from tests.channels.live_xml import Build, EngineSteps, create_mapped_hotel, run_with_adapter
from tests.servers import serving
from tests.simulators.conftest import SimClient
from tests.sync.engine_fixtures import Clock

USERNAME = "innsync-live"
PASSWORD = "ECLPASS"
HOTEL_ID = "211"
ROOMS = ("20000", "23000", "26000")
RATES = ("21000", "22000", "24000", "25000", "27000", "28000")
"""Two per room, in room order."""
LIVE_HOTEL = HotelSetup(
    HOTEL_ID,
    tuple(RoomSetup(room, RATES[2 * n : 2 * n + 2]) for n, room in enumerate(ROOMS)),
)
HORIZON_DAYS = 500


def ar_calls(exchanges: list[Exchange], since: int = 0) -> list[Exchange]:
    return [e for e in exchanges[since:] if e.method == "POST" and e.path.endswith("/ar")]


@dataclass
class LiveExpedia(EngineSteps):
    """One hotel (3 room types x 2 rate plans) on one EQC connection."""

    holder = "expedia-e2e"

    sessions: sessionmaker[Session]
    box: SecretBox
    clock: Clock
    sim: SimClient
    sim_url: str
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    transport: RecordingTransport = field(default_factory=RecordingTransport)

    def adapter_for(self, http: httpx.AsyncClient) -> Any:
        def build(connection: Connection) -> ExpediaAdapter:
            stored = json.loads(self.box.decrypt(connection.config_encrypted))
            return ExpediaAdapter(ExpediaConfig.model_validate(stored), http, now=self.clock)

        return build

    def pull_without_storing(self) -> RevisionPage:
        """One BR through the adapter whose answer goes nowhere (a process that dies next)."""

        async def pull(build: Build) -> RevisionPage:
            with self.sessions() as session:
                connection = session.get_one(Connection, self.connection_id)
            page: RevisionPage = await build(connection).pull_revisions(None)
            return page

        page: RevisionPage = run_with_adapter(self, pull)
        return page

    def book(
        self, room: int = 0, rate: int = 0, offset: int = 10, nights: int = 2, count: int = 1
    ) -> list[str]:
        answer = self.sim.post(
            "/_sim/bookings",
            {
                "hotel_id": HOTEL_ID,
                "room_id": ROOMS[room],
                "rate_id": RATES[room * 2 + rate],
                "arrival": self.day(offset).isoformat(),
                "nights": nights,
                "count": count,
            },
        )
        assert answer.status_code == 201, answer.text
        return [row["booking_id"] for row in answer.json()["data"]]

    def bookings(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.sim.get("/_sim/bookings").json()["data"]
        return found


def _create_hotel(
    sessions: sessionmaker[Session], box: SecretBox, sim_url: str, options: dict[str, Any]
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], list[uuid.UUID], uuid.UUID]:
    hotel = create_mapped_hotel(
        sessions,
        box,
        tenant="Expedia e2e",
        hotel=PropertyCreate(
            name="Harbour Inn",
            timezone="America/Toronto",
            currency="USD",
            horizon_days=HORIZON_DAYS,
        ),
        connection=ConnectionCreate(
            channel="expedia",
            name="Expedia",
            config={
                "hotel_id": HOTEL_ID,
                "username": USERNAME,
                "password": PASSWORD,
                "ar_url": f"{sim_url}/connect/ar",
                "br_url": f"{sim_url}/connect/br",
                "bc_url": f"{sim_url}/connect/bc",
                "parr_url": f"{sim_url}/connect/parr",
                "currency": "USD",
                **options,
            },
        ),
        rooms=ROOMS,
        rates=RATES,
    )
    return hotel[:5]


@contextmanager
def live_expedia(
    engine: Engine,
    box: SecretBox,
    connection_options: dict[str, Any] | None = None,
    **sim_options: Any,
) -> Iterator[LiveExpedia]:
    """The simulator on a loopback port and the hotel mapped to it."""
    install_keys(box)  # the workers this spawns encrypt with it
    sessions = session_factory(engine)
    clock = Clock()
    settings: dict[str, Any] = {"hotels": (LIVE_HOTEL,), "seed": 13, "pump_interval_seconds": None}
    app = create_app(SimulatorConfig(clock=clock, **{**settings, **sim_options}))
    with ExitStack() as stack:
        sim_url = stack.enter_context(serving(app))
        tenant_id, property_id, rooms, plans, connection_id = _create_hotel(
            sessions, box, sim_url, connection_options or {}
        )
        yield LiveExpedia(
            sessions,
            box,
            clock,
            SimClient(app, api_key=None),
            sim_url,
            tenant_id,
            property_id,
            rooms,
            plans,
            connection_id,
        )
