"""innsync's engine and inbox against the Booking.com simulator served on a loopback port.

Real HTTP both ways it goes (the adapter calls the simulator; Booking.com never calls back,
§3.1), the connection stored encrypted in a real database with its token in the credential
store, and every XML document that crosses the wire kept so the test can validate it against
the OpenTravel 2015A schemas. The engine passes (sync worker, reconciler, processor,
acknowledgements) run one at a time on a clock the test moves.
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

from innsync.channels.booking_com import BookingComAdapter, BookingComConfig
from innsync.channels.booking_com.reservations import ResponseTokens
from innsync.connections.credentials import DatabaseAccountCredentials
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.db.personal import install_keys
from innsync.properties.schemas import PropertyCreate
from innsync.simulators.booking_com import SimulatorConfig, create_app
from innsync.xmlkit.parsing import parse_xml
from innsync.xmlkit.validation import opentravel_2015a
from tests.channels.live_xml import EngineSteps, create_mapped_hotel
from tests.servers import serving
from tests.simulators.conftest import SimClient
from tests.sync.engine_fixtures import Clock

CLIENT_ID = "live-client"
CLIENT_SECRET = "live-client-secret"
HOTEL_ID = "1234567"
ROOMS = ("123456701", "123456702", "123456703")
RATES = ("9001", "9002", "9003", "9004", "9005", "9006")
"""Two per room, in room order (the simulator's default hotel)."""
# §3.1 "load at least 12 months": 13 months and a few days of horizon.
HORIZON_DAYS = 400


@dataclass(frozen=True)
class Exchange:
    """One HTTP call the adapter made: what it sent and what came back."""

    method: str
    path: str
    status: int
    request_body: bytes
    response_body: bytes
    response_type: str


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the simulator, keeping every request and response body."""

    def __init__(self, exchanges: list[Exchange] | None = None) -> None:
        # No kept-alive connections: each step runs its own event loop.
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.exchanges: list[Exchange] = [] if exchanges is None else exchanges

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        self.exchanges.append(
            Exchange(
                request.method,
                request.url.path,
                response.status_code,
                request.content,
                body,
                response.headers.get("content-type", ""),
            )
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def xml_documents(self) -> list[bytes]:
        """Every XML body sent or received (an empty body, a JSON token answer or a plain-text
        refusal is not XML)."""
        found = [e.request_body for e in self.exchanges if e.request_body.startswith(b"<?xml")]
        found += [e.response_body for e in self.exchanges if e.response_body.startswith(b"<?xml")]
        return found

    def ari_calls(self, since: int = 0) -> list[Exchange]:
        return [
            e
            for e in self.exchanges[since:]
            if e.method == "POST"
            and e.path.endswith(("OTA_HotelAvailNotif", "OTA_HotelRateAmountNotif"))
        ]


def schema_failures(documents: list[bytes]) -> list[str]:
    """What the OpenTravel 2015A schemas say about each document (empty when all are valid)."""
    schemas = opentravel_2015a()
    failures = []
    for document in documents:
        failures += schemas.errors(parse_xml(document))
    return failures


@dataclass
class LiveBooking(EngineSteps):
    """One hotel (3 room types x 2 rate plans) on one Booking.com connection."""

    holder = "booking-e2e"

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
    response_tokens: ResponseTokens = field(default_factory=ResponseTokens)

    def adapter_for(self, http: httpx.AsyncClient) -> Any:
        def build(connection: Connection) -> BookingComAdapter:
            # The stored, encrypted config and the database account credentials, as the worker
            # builds it; each build is a new adapter, as after a restart.
            stored = json.loads(self.box.decrypt(connection.config_encrypted))
            accounts = DatabaseAccountCredentials(self.sessions, self.box, now=self.clock)
            return BookingComAdapter(
                BookingComConfig.model_validate(stored),
                http,
                accounts=accounts,
                now=self.clock,
                response_tokens=self.response_tokens,
            )

        return build

    def restart(self) -> None:
        """A new innsync process: nothing of the old one's memory, only the database."""
        self.response_tokens = ResponseTokens()
        self.transport = RecordingTransport(self.transport.exchanges)

    def book(
        self,
        room: int = 0,
        rate: int = 0,
        offset: int = 10,
        nights: int = 2,
        flaw: str | None = None,
    ) -> str:
        answer = self.sim.post(
            "/_sim/reservations",
            {
                "hotel_id": HOTEL_ID,
                "room_id": ROOMS[room],
                "rate_id": RATES[room * 2 + rate],
                "arrival": self.day(offset).isoformat(),
                "departure": self.day(offset + nights).isoformat(),
                "adults": 2,
                "flaw": flaw,
            },
        )
        assert answer.status_code == 201, answer.text
        reservation_id: str = answer.json()["data"][0]["reservation_id"]
        return reservation_id

    def queues(self) -> dict[str, Any]:
        found: dict[str, Any] = self.sim.get("/_sim/queues").json()
        return found


def _create_hotel(
    sessions: sessionmaker[Session], box: SecretBox, sim_url: str, options: dict[str, Any]
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], list[uuid.UUID], uuid.UUID]:
    hotel = create_mapped_hotel(
        sessions,
        box,
        tenant="Booking.com e2e",
        hotel=PropertyCreate(
            name="Canal House",
            timezone="Europe/Amsterdam",
            currency="EUR",
            horizon_days=HORIZON_DAYS,
        ),
        connection=ConnectionCreate(
            channel="booking_com",
            name="Booking.com",
            config={
                "hotel_id": HOTEL_ID,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auth_url": f"{sim_url}/token-based-authentication/exchange",
                "supply_url": sim_url,
                "reservations_url": sim_url,
                "target": "Test",
                **options,
            },
        ),
        rooms=ROOMS,
        rates=RATES,
    )
    return hotel[:5]


@contextmanager
def live_booking(
    engine: Engine,
    box: SecretBox,
    connection_options: dict[str, Any] | None = None,
    **sim_options: Any,
) -> Iterator[LiveBooking]:
    """The simulator serving on a loopback port and the hotel mapped to it; the connection's
    config takes ``connection_options``, the simulator's ``sim_options``. On a normal exit every
    XML document exchanged is validated against the OpenTravel 2015A schemas."""
    install_keys(box)  # the workers this spawns encrypt with it
    sessions = session_factory(engine)
    clock = Clock()
    app = create_app(
        SimulatorConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            seed=13,
            clock=clock,
            pump_interval_seconds=None,
            **sim_options,
        )
    )
    with ExitStack() as stack:
        sim_url = stack.enter_context(serving(app))
        tenant_id, property_id, rooms, plans, connection_id = _create_hotel(
            sessions, box, sim_url, connection_options or {}
        )
        live = LiveBooking(
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
        yield live
        # Zero messages of any end-to-end run fail schema validation (the evidence):
        # what the adapter sent and the simulator returned, and what the simulator received.
        documents = live.transport.xml_documents()
        assert schema_failures(documents) == []
        assert live.counters()["schema_failures"] == 0
        print(f"OpenTravel 2015A: {len(documents)} XML documents validated, 0 failures")  # noqa: T201
