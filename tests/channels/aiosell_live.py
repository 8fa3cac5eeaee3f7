"""innsync and the Aiosell simulator, each on its own loopback port, talking real HTTP.

innsync's adapter pushes inventory, rates and restrictions to the simulator; the simulator posts
its reservations (book, modify, cancel, §1.10) to innsync's ``/hooks/{token}`` with Basic auth.
The sync worker and the inbox processor are run by the test, one pass at a time. Both sides
share one clock: wall time plus what the test moved it on by.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app as create_innsync_app
from innsync.channels.aiosell import AiosellAdapter, AiosellConfig
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
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from innsync.inventory.calendar import write_ari
from innsync.inventory.models import InventoryLedgerDay
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import DirtyMark
from innsync.properties.models import RatePlan as RatePlanModel
from innsync.properties.models import RoomType as RoomTypeModel
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from innsync.simulators.aiosell import create_app as create_simulator_app
from innsync.simulators.aiosell.config import HotelMapping, RoomMapping, SimulatorConfig
from innsync.simulators.aiosell.state import SimulatorState
from innsync.sync.worker import SyncWorker
from tests.channels.channex_live import SimClock
from tests.servers import serving
from tests.sync.engine_fixtures import create_hotel_rows

HOTEL = "SANDBOX-PMS"
PARTNER = "sample-pms"
USER = "sample-pms"
PASSWORD = "aiosell-live-password"
HOOK_USER = "innsync-hook"
HOOK_PASSWORD = "aiosell-hook-password"
HORIZON_DAYS = 500
# innsync's codes (tests/sync/engine_fixtures.py) and the Aiosell codes they are mapped to.
ROOM_CODES = {"DBL": "EXECUTIVE", "SGL": "SUITE"}
PLAN_CODES = {
    "DBL-BAR": "EXECUTIVE-BAR",
    "DBL-NRF": "EXECUTIVE-NRF",
    "SGL-BAR": "SUITE-BAR",
    "SGL-NRF": "SUITE-NRF",
}


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the simulator, keeping the path and JSON body of every call it carries."""

    def __init__(self) -> None:
        # No kept-alive connections: each test step runs its own event loop.
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.bodies: list[tuple[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append((request.url.path, json.loads(request.content or b"null")))
        return await self._inner.handle_async_request(request)


@dataclass
class LiveAiosell:
    """One hotel (two rooms, two rate plans each) on one Aiosell connection, both sides up."""

    sessions: sessionmaker[Session]
    box: SecretBox
    sim: httpx.Client
    sim_state: SimulatorState
    innsync_url: str
    token: str
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    clock: SimClock
    transport: RecordingTransport

    def adapter(self, connection: Connection, http: httpx.AsyncClient) -> AiosellAdapter:
        # The stored, encrypted config, as the worker's and the processor's factories read it.
        stored = json.loads(self.box.decrypt(connection.config_encrypted))
        return AiosellAdapter(AiosellConfig.model_validate(stored), http, now=self.clock)

    # The PMS side.

    def day(self, offset: int) -> str:
        return (self.clock().date() + timedelta(days=offset)).isoformat()

    def ari(self, *entries: dict[str, Any]) -> None:
        with transaction(self.sessions) as session:
            write_ari(
                session,
                self.tenant_id,
                self.property_id,
                AriWrite.model_validate({"entries": list(entries)}),
                self.clock(),
            )

    def sync(self, max_passes: int = 30) -> None:
        """Run the outbound worker until nothing is dirty, moving the clock between passes."""

        async def passes() -> None:
            async with httpx.AsyncClient(transport=self.transport) as http:
                worker = SyncWorker(
                    self.sessions,
                    lambda connection: self.adapter(connection, http),
                    clock=self.clock,
                    holder="aiosell-live",
                )
                for _ in range(max_passes):
                    await worker.run_once()
                    with self.sessions() as session:
                        if not session.scalars(select(DirtyMark.id).limit(1)).first():
                            return
                    self.clock.advance(2)
                raise AssertionError("availability or rates still dirty after the passes")

        asyncio.run(passes())

    def inbound(self, rounds: int = 5) -> None:
        """Run processor passes until one finds nothing to do."""

        async def passes() -> None:
            async with httpx.AsyncClient(transport=self.transport) as http:
                for _ in range(rounds):
                    if not await process_pending(
                        self.sessions, lambda connection: self.adapter(connection, http)
                    ):
                        return

        asyncio.run(passes())

    def reconcile(self) -> int:
        """One reconciler pass, a pull interval later on the shared clock."""
        self.clock.advance(901)

        async def once() -> int:
            async with httpx.AsyncClient(transport=self.transport) as http:
                return await pull_due(
                    self.sessions,
                    lambda connection: self.adapter(connection, http),
                    clock=self.clock,
                )

        return asyncio.run(once())

    def update_calls(self) -> list[tuple[str, Any]]:
        """(path, body) of every update call innsync made (inventory, rates, restrictions)."""
        return [(path, body) for path, body in self.transport.bodies if "/update" in path]

    def reservations(self) -> list[Reservation]:
        with self.sessions() as session:
            query = select(Reservation).where(Reservation.property_id == self.property_id)
            return list(session.scalars(query.order_by(Reservation.created_at)))

    def items(self) -> list[InboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))

    def sold_nights(self) -> int:
        with self.sessions() as session:
            sold = session.scalar(
                select(func.coalesce(func.sum(InventoryLedgerDay.sold), 0)).where(
                    InventoryLedgerDay.room_type_id.in_(self.room_type_ids)
                )
            )
            return int(sold or 0)

    def event_kinds(self) -> list[str]:
        with self.sessions() as session:
            query = select(Event.kind).where(Event.tenant_id == self.tenant_id).order_by(Event.id)
            return list(session.scalars(query))

    # The simulator's side (its /_sim/ control plane).

    def faults(self, **settings: Any) -> None:
        answer = self.sim.post("/_sim/faults", json=settings)
        assert answer.status_code == 200, answer.text

    def book(self, checkin: date, nights: int = 2, room: str = "EXECUTIVE", **extra: Any) -> str:
        answer = self.sim.post(
            "/_sim/reservations",
            json={
                "hotel_code": HOTEL,
                "room_code": room,
                "rateplan_code": f"{room}-BAR",
                "checkin": checkin.isoformat(),
                "nights": nights,
                **extra,
            },
        )
        assert answer.status_code == 201, answer.text
        self.clock.advance(1)
        booking_id: str = answer.json()["data"][0]["bookingId"]
        return booking_id

    def modify(self, booking_id: str, **change: Any) -> None:
        answer = self.sim.post(f"/_sim/reservations/{booking_id}/modify", json=change)
        assert answer.status_code == 201, answer.text
        self.clock.advance(1)

    def cancel(self, booking_id: str) -> None:
        answer = self.sim.post(f"/_sim/reservations/{booking_id}/cancel", json={})
        assert answer.status_code == 201, answer.text
        self.clock.advance(1)

    def release_held(self, seconds: float = 3600) -> None:
        """Let deliveries held back by the reorder fault (or waiting to retry) go out."""
        self.clock.advance(seconds)
        answer = self.sim.post("/_sim/tick", json={})
        assert answer.status_code == 200, answer.text

    def deliveries(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.sim.get("/_sim/webhooks/deliveries").json()["data"]
        return rows


def sim_hotels() -> tuple[HotelMapping, ...]:
    rooms = tuple(
        RoomMapping(room, tuple(plan for plan in PLAN_CODES.values() if plan.startswith(room)))
        for room in ROOM_CODES.values()
    )
    return (HotelMapping(HOTEL, rooms, currency="EUR"),)


@contextmanager
def live_aiosell(engine: Engine, box: SecretBox, **sim_options: Any) -> Iterator[LiveAiosell]:
    """Both services serving, the hotel created and mapped, the simulator's PMS URL set."""
    sessions = session_factory(engine)
    clock = SimClock()
    sim_app = create_simulator_app(
        SimulatorConfig(
            partner=PARTNER,
            username=USER,
            password=PASSWORD,
            hotels=sim_hotels(),
            seed=12,
            clock=clock,
            pump_interval_seconds=None,
            webhook_username=HOOK_USER,
            webhook_password=HOOK_PASSWORD,
            **sim_options,
        )
    )
    innsync_app = create_innsync_app(
        Settings(database_url="sqlite://", background_loops=False),
        engine=engine,
        sessions=sessions,
        secret_box=box,
        run_loops=False,
    )
    with ExitStack() as stack:
        sim_url = stack.enter_context(serving(sim_app))
        innsync_url = stack.enter_context(serving(innsync_app))
        rows = create_hotel_rows(
            sessions,
            box,
            ConnectionCreate(
                channel="aiosell",
                name="Aiosell",
                config={
                    "base_url": f"{sim_url}/api/v2/cm",
                    "partner": PARTNER,
                    "hotel_code": HOTEL,
                    "username": USER,
                    "password": PASSWORD,
                    "currency": "EUR",
                    # The simulator writes bookedOn in UTC.
                    "timezone": "UTC",
                    "webhook_username": HOOK_USER,
                    "webhook_password": HOOK_PASSWORD,
                },
            ),
            horizon_days=HORIZON_DAYS,
        )
        with transaction(sessions) as session:
            codes = {
                rt.id: rt.code
                for rt in session.scalars(
                    select(RoomTypeModel).where(RoomTypeModel.property_id == rows.property_id)
                )
            }
            plan_codes = {
                rp.id: rp.code
                for rp in session.scalars(
                    select(RatePlanModel).where(RatePlanModel.property_id == rows.property_id)
                )
            }
            connections.set_mappings(
                session,
                rows.tenant_id,
                rows.connection_id,
                MappingsWrite(
                    room_types=[
                        RoomTypeMappingIn(room_type_id=ours, channel_code=ROOM_CODES[codes[ours]])
                        for ours in rows.room_type_ids
                    ],
                    rate_plans=[
                        RatePlanMappingIn(
                            rate_plan_id=ours, channel_code=PLAN_CODES[plan_codes[ours]]
                        )
                        for ours in rows.rate_plan_ids
                    ],
                ),
            )
            token = session.get_one(Connection, rows.connection_id).webhook_token
        state: SimulatorState = sim_app.state.simulator
        # The PMS URL is known only now (the token comes with the connection).
        state.config = dataclasses.replace(state.config, webhook_url=f"{innsync_url}/hooks/{token}")
        sim = stack.enter_context(httpx.Client(base_url=sim_url, timeout=30))
        yield LiveAiosell(
            sessions,
            box,
            sim,
            state,
            innsync_url,
            token,
            rows.tenant_id,
            rows.property_id,
            rows.room_type_ids,
            rows.rate_plan_ids,
            rows.connection_id,
            clock,
            RecordingTransport(),
        )
