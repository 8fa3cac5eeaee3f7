"""innsync and the Beds24 simulator, each on its own loopback port, talking real HTTP.

The simulator posts its booking webhooks, with the custom header, to innsync's ``/hooks/{token}``;
innsync's adapters call the simulator's API, every call recorded and later checked against
Beds24's OpenAPI file. The sync worker and the inbound passes are run by the test, one pass at a
time; the simulator, the adapters and the worker read one clock the test moves.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app as create_innsync_app
from innsync.channels.beds24 import Beds24Adapter, Beds24Config
from innsync.channels.beds24.credits import CreditMeters
from innsync.connections import service as connections
from innsync.connections.configs import effective_config
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.connections.schemas import (
    ConnectionCreate,
    ConnectionUpdate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import PUSH_PENDING, BookingPush, DirtyMark
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from innsync.simulators.beds24 import SimulatorConfig
from innsync.simulators.beds24 import create_app as create_simulator_app
from innsync.simulators.beds24.config import PropertySpec, RoomSpec
from innsync.sync.bookings import push_due_bookings
from innsync.sync.models import DeadLetter
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import issue_key
from tests.channels.beds24_openapi import RecordingTransport
from tests.servers import serving
from tests.simulators.conftest import SimClient
from tests.sync.engine_fixtures import create_hotel_rows

WEBHOOK_HEADER = "x-innsync-webhook-secret"
WEBHOOK_SECRET = "live-beds24-webhook-secret"
ACCOUNT = "owner-4711"
HORIZON_DAYS = 500
ROOM_CODES = ("201", "202")
PLAN_CODES = ("201-BAR", "201-NRF", "202-BAR", "202-NRF")
PROPERTIES = (
    PropertySpec(101, "Harbour", (RoomSpec(201, "DBL", qty=8), RoomSpec(202, "SGL", qty=9))),
    PropertySpec(102, "Harbour Annex", (RoomSpec(203, "DBL", qty=8), RoomSpec(204, "SGL", qty=9))),
)


@dataclass
class SimClock:
    """Wall time (whole seconds) plus what a test moved it on by; shared by every side."""

    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return self.start + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Hotel:
    """One innsync property on one Beds24 connection."""

    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    api_key: str = ""


@dataclass
class LiveBeds24:
    sessions: sessionmaker[Session]
    box: SecretBox
    sim: SimClient
    sim_url: str
    innsync_url: str
    clock: SimClock
    hotels: list[Hotel]
    transport: RecordingTransport
    meters: CreditMeters = field(default_factory=CreditMeters)

    @property
    def hotel(self) -> Hotel:
        return self.hotels[0]

    def adapter_for(self, http: httpx.AsyncClient) -> Any:
        def build(connection: Connection) -> Beds24Adapter:
            config = Beds24Config.model_validate(effective_config(connection, self.box))
            store = DatabaseCredentialStore(self.sessions, self.box, connection.id, now=self.clock)
            return Beds24Adapter(
                config,
                http,
                credentials=store,
                now=self.clock,
                meters=self.meters,
            )

        return build

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=30)

    def sync(self, max_passes: int = 30, step_seconds: float = 6.0) -> None:
        """Run the outbound worker until nothing is dirty, moving the clock between passes."""

        async def passes() -> None:
            async with self._http() as http:
                worker = SyncWorker(
                    self.sessions, self.adapter_for(http), clock=self.clock, holder="beds24-live"
                )
                for _ in range(max_passes):
                    await worker.run_once()
                    if not self.dirty():
                        return
                    self.clock.advance(step_seconds)
                raise AssertionError(f"{self.dirty()} dirty marks left after {max_passes} passes")

        asyncio.run(passes())

    def push_bookings(self, max_passes: int = 10, step_seconds: float = 60.0) -> int:
        """Run the booking-push pass until no push is pending, moving the clock past each
        backoff; returns how many pushes were tried."""

        async def passes() -> int:
            tried = 0
            async with self._http() as http:
                for _ in range(max_passes):
                    tried += await push_due_bookings(
                        self.sessions, self.adapter_for(http), clock=self.clock
                    )
                    if not self.pending_pushes():
                        return tried
                    self.clock.advance(step_seconds)
            raise AssertionError(f"{self.pending_pushes()} pushes pending after {max_passes}")

        return asyncio.run(passes())

    def connection(self, hotel: Hotel | None = None) -> Connection:
        return self.connection_by_id((hotel or self.hotel).connection_id)

    def connection_by_id(self, connection_id: uuid.UUID) -> Connection:
        with self.sessions() as session:
            found = session.get_one(Connection, connection_id)
            session.expunge(found)
            return found

    def pending_pushes(self) -> int:
        with self.sessions() as session:
            query = select(BookingPush.id).where(BookingPush.state == PUSH_PENDING)
            return len(list(session.scalars(query)))

    def api(self, hotel: Hotel | None = None) -> httpx.Client:
        """innsync's API as the hotel's PMS calls it."""
        key = (hotel or self.hotel).api_key
        return httpx.Client(
            base_url=self.innsync_url, headers={"authorization": f"Bearer {key}"}, timeout=30
        )

    def dirty(self) -> int:
        with self.sessions() as session:
            return len(list(session.scalars(select(DirtyMark.id))))

    def inbound(self, rounds: int = 5) -> None:
        async def passes() -> None:
            async with self._http() as http:
                for _ in range(rounds):
                    if not await process_pending(
                        self.sessions, self.adapter_for(http), clock=self.clock
                    ):
                        return

        asyncio.run(passes())

    def reconcile(self) -> int:
        async def once() -> int:
            async with self._http() as http:
                return await pull_due(self.sessions, self.adapter_for(http), clock=self.clock)

        return asyncio.run(once())

    def ari(self, *entries: dict[str, Any], hotel: Hotel | None = None) -> None:
        target = hotel or self.hotel
        with transaction(self.sessions) as session:
            write_ari(
                session,
                target.tenant_id,
                target.property_id,
                AriWrite.model_validate({"entries": list(entries)}),
                self.clock(),
            )

    def day(self, offset: int) -> date:
        return self.clock().date() + timedelta(days=offset)

    # The simulator's side.

    def book(self, room: int, first: int, nights: int) -> int:
        body = {
            "roomId": room,
            "arrival": self.day(first).isoformat(),
            "departure": self.day(first + nights).isoformat(),
        }
        answer = self.sim.post("/_sim/bookings", body)
        assert answer.status_code == 200, answer.text
        self.clock.advance(1)
        booking_id: int = answer.json()["data"][0]["id"]
        return booking_id

    def modify(self, booking_id: int, **change: Any) -> None:
        answer = self.sim.post(f"/_sim/bookings/{booking_id}/modify", change)
        assert answer.status_code == 200, answer.text
        self.clock.advance(1)

    def cancel(self, booking_id: int) -> None:
        answer = self.sim.post(f"/_sim/bookings/{booking_id}/cancel", {})
        assert answer.status_code == 200, answer.text
        self.clock.advance(1)

    def calendar_posts(self) -> list[Any]:
        return [
            e
            for e in self.transport.exchanges
            if e.request.method == "POST" and e.request.url.path == "/v2/inventory/rooms/calendar"
        ]

    def calls(self, endpoint: str) -> int:
        """The calls innsync's worker and inbox made (the API's set-up calls are not counted)."""
        method, _, path = endpoint.partition(" ")
        return sum(
            1
            for e in self.transport.exchanges
            if e.request.method == method and e.request.url.path == f"/v2{path}"
        )

    # innsync's side.

    def reservations(self) -> list[Reservation]:
        with self.sessions() as session:
            query = select(Reservation).where(Reservation.property_id == self.hotel.property_id)
            return list(session.scalars(query.order_by(Reservation.created_at)))

    def items(self) -> list[InboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))

    def dead_letters(self) -> list[DeadLetter]:
        with self.sessions() as session:
            return list(session.scalars(select(DeadLetter)))


def _connection_config(sim_url: str, property_id: int, rooms: tuple[str, str]) -> dict[str, Any]:
    return {
        "base_url": f"{sim_url}/v2",
        "refresh_token": "sim-refresh-token",
        "account_id": ACCOUNT,
        "property_id": property_id,
        "currency": "EUR",
        # §2.6: each room's two plans are its price1 and price2; the BAR plan's restrictions
        # are the room's.
        "rate_plan_slots": {
            f"{room}-{plan}": slot for room in rooms for plan, slot in (("BAR", 1), ("NRF", 2))
        },
        "restriction_plans": {room: f"{room}-BAR" for room in rooms},
        "webhook_header": WEBHOOK_HEADER,
        "webhook_secret": WEBHOOK_SECRET,
        "pull_poll_seconds": 60,
    }


@contextmanager
def live_beds24(
    engine: Engine, box: SecretBox, *, hotels: int = 1, **sim_options: Any
) -> Iterator[LiveBeds24]:
    sessions = session_factory(engine)
    clock = SimClock()
    holder: dict[str, str] = {}
    innsync_app = create_innsync_app(
        Settings(database_url="sqlite://", background_loops=False),
        engine=engine,
        sessions=sessions,
        secret_box=box,
        run_loops=False,
    )
    with ExitStack() as stack:
        innsync_url = stack.enter_context(serving(innsync_app))
        made: list[Hotel] = []
        # The simulator needs the webhook URL, which needs the connection: the connection is
        # made first with a placeholder base URL, then given the simulator's.
        for index in range(hotels):
            prop = PROPERTIES[index]
            rooms = (str(prop.rooms[0].id), str(prop.rooms[1].id))
            rows = create_hotel_rows(
                sessions,
                box,
                ConnectionCreate(
                    channel="beds24",
                    name=f"Beds24 {prop.id}",
                    config=_connection_config("http://pending", prop.id, rooms),
                ),
                horizon_days=HORIZON_DAYS,
            )
            made.append(
                Hotel(
                    rows.tenant_id,
                    rows.property_id,
                    rows.room_type_ids,
                    rows.rate_plan_ids,
                    rows.connection_id,
                )
            )
            with transaction(sessions) as session:
                plan_codes = [
                    f"{rooms[0]}-BAR",
                    f"{rooms[0]}-NRF",
                    f"{rooms[1]}-BAR",
                    f"{rooms[1]}-NRF",
                ]
                connections.set_mappings(
                    session,
                    rows.tenant_id,
                    rows.connection_id,
                    MappingsWrite(
                        room_types=[
                            RoomTypeMappingIn(room_type_id=ours, channel_code=theirs)
                            for ours, theirs in zip(rows.room_type_ids, rooms, strict=True)
                        ],
                        rate_plans=[
                            RatePlanMappingIn(rate_plan_id=ours, channel_code=theirs)
                            for ours, theirs in zip(rows.rate_plan_ids, plan_codes, strict=True)
                        ],
                    ),
                )
                holder[str(rows.connection_id)] = issue_key(
                    session, rows.tenant_id, "live", ["admin"]
                ).secret
        sim_app = create_simulator_app(
            SimulatorConfig(
                properties=PROPERTIES,
                seed=11,
                clock=clock,
                webhook_delay_seconds=0.0,
                pump_interval_seconds=None,
                **sim_options,
            )
        )
        sim_url = stack.enter_context(serving(sim_app))
        for hotel in made:
            with transaction(sessions) as session:
                connections.update_connection(
                    session,
                    box,
                    hotel.tenant_id,
                    hotel.connection_id,
                    ConnectionUpdate(config={"base_url": f"{sim_url}/v2"}),
                )
        # Through innsync's API, as an operator would: Beds24's property webhook is set to the
        # connection's /hooks URL with the secret custom header (POST /properties, §2.7).
        for hotel in made:
            with httpx.Client(
                base_url=innsync_url,
                headers={"authorization": f"Bearer {holder[str(hotel.connection_id)]}"},
                timeout=30,
            ) as api:
                registered = api.post(
                    f"/api/v1/connections/{hotel.connection_id}/webhooks/register"
                )
            assert registered.status_code == 200, registered.text
        for hotel in made:
            hotel.api_key = holder[str(hotel.connection_id)]
        transport = RecordingTransport(
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        )
        yield LiveBeds24(
            sessions,
            box,
            SimClient(sim_app, api_key=None),
            sim_url,
            innsync_url,
            clock,
            made,
            transport,
        )
