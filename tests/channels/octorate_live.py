"""innsync and the Octorate simulator, each on its own loopback port, talking real HTTP.

Hotels connect through the simulator's authorization page (the OAuth dance, as a browser makes
it); innsync's adapters call the simulator's API; the simulator posts its webhooks to innsync's
``/hooks/{token}``. The marketplace passes (pull, booking push, status check, inbox) are run by
the test one at a time; the simulator, the adapters and the passes read one clock the test moves.
"""

from __future__ import annotations

import asyncio
import os
import re
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app as create_innsync_app
from innsync.channels.octorate import OctorateAdapter, OctorateApp, OctorateConfig
from innsync.connections import service as connections
from innsync.connections.configs import effective_config
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate, ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.inbox.processor import process_pending
from innsync.marketplace.confirmations import check_due_confirmations
from innsync.marketplace.pulls import pull_one
from innsync.marketplace.schemas import AriSourceWrite
from innsync.marketplace.sources import set_ari_source
from innsync.outbox.models import PUSH_PENDING, BookingPush
from innsync.properties import service as properties
from innsync.properties.schemas import PropertyCreate
from innsync.settings import Settings, get_settings
from innsync.simulators.octorate import SimulatorConfig
from innsync.simulators.octorate import create_app as create_simulator_app
from innsync.simulators.octorate.config import AccommodationSpec, OwnerSpec, RateSpec, RoomSpec
from innsync.sync.bookings import push_due_bookings
from innsync.tenants.service import create_tenant
from tests.channels.beds24_live import SimClock
from tests.servers import serving

CLIENT_ID = "live-marketplace"
CLIENT_SECRET = "live-marketplace-secret"
OWNER, PASSWORD = "owner", "owner-password"
HORIZON_DAYS = 365
# A tighter quota than Octorate's 100 on both sides, so innsync's limiter has to hold calls back
# within one test (each operation then has 10 per 5 minutes per hotel).
QUOTA_CALLS = 20
HOUR = timedelta(hours=1)


def _accommodation(n: int) -> AccommodationSpec:
    """Hotel ``n``: 60n (rooms 60n1, 60n2; rates 60n11, 60n12 on the first, 60n21)."""
    room, rate = 6000 + 10 * n, 60000 + 100 * n
    double = RoomSpec(
        room + 1,
        "Double",
        20,
        (RateSpec(rate + 11, "Standard", "120.00"), RateSpec(rate + 12, "Flexible", "135.00")),
    )
    single = RoomSpec(room + 2, "Single", 20, (RateSpec(rate + 21, "Standard", "80.00"),), 1)
    return AccommodationSpec(600 + n, f"Lakeside {n}", (double, single))


ACCOMMODATIONS = tuple(_accommodation(n) for n in range(1, 6))


@dataclass
class Hotel:
    """One innsync property whose ARI comes from one Octorate accommodation."""

    property_id: uuid.UUID
    connection_id: uuid.UUID
    accommodation_id: int


@dataclass
class LiveOctorate:
    sessions: sessionmaker[Session]
    box: SecretBox
    sim_url: str
    innsync_url: str
    clock: SimClock
    tenant_id: uuid.UUID
    api_key: str
    hotels: list[Hotel]

    # The simulator's side.

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        # A tick delivers every due webhook to innsync before it answers.
        answer = httpx.request(method, f"{self.sim_url}{path}", json=body, timeout=300)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def tick(self) -> Any:
        return self.sim("POST", "/_sim/tick")

    def requests_logged(self) -> int:
        return len(self.sim("GET", "/_sim/requests")["data"])

    # innsync's side.

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.innsync_url,
            headers={"authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )

    def adapter_for(self, http: httpx.AsyncClient) -> Callable[[Connection], OctorateAdapter]:
        app = OctorateApp(CLIENT_ID, SecretStr(CLIENT_SECRET), f"{self.sim_url}/connect", "")

        def build(connection: Connection) -> OctorateAdapter:
            config = OctorateConfig.model_validate(effective_config(connection, self.box))
            store = DatabaseCredentialStore(self.sessions, self.box, connection.id, now=self.clock)
            return OctorateAdapter(config, app, http, credentials=store, now=self.clock)

        return build

    def connection(self, hotel: Hotel) -> Connection:
        with self.sessions() as session:
            found = session.get_one(Connection, hotel.connection_id)
            session.expunge(found)
            return found

    def run(self, work: Callable[[Callable[[Connection], OctorateAdapter]], Any]) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(timeout=30) as http:
                return await work(self.adapter_for(http))

        return asyncio.run(go())

    def pull(self, hotel: Hotel) -> Any:
        return self.run(
            lambda build: pull_one(
                self.sessions, build(self.connection(hotel)), hotel.property_id, HOUR,
                clock=self.clock,
            )
        )  # fmt: skip

    def push(self) -> int:
        return int(
            self.run(lambda build: push_due_bookings(self.sessions, build, clock=self.clock))
        )

    def check(self) -> int:
        return int(
            self.run(
                lambda build: check_due_confirmations(
                    self.sessions, build, timedelta(seconds=120), clock=self.clock
                )
            )
        )

    def inbound(self) -> int:
        return int(self.run(lambda build: process_pending(self.sessions, build, clock=self.clock)))

    def pending_pushes(self) -> int:
        return self.count(BookingPush, BookingPush.state == PUSH_PENDING)

    def count(self, model: Any, *where: Any) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def day(self, offset: int) -> date:
        return self.clock().date() + timedelta(days=offset)

    # The connect step, as the hotel's browser goes through it.

    def start_url(self, hotel: Hotel) -> str:
        with self.api() as api:
            answer = api.get(
                f"/api/v1/connections/{hotel.connection_id}/oauth/start", follow_redirects=False
            )
        assert answer.status_code == 307, answer.text
        return answer.headers["location"]

    def approve(self, authorize_url: str) -> str:
        """The owner signs in on the simulator's page and approves: the callback URL."""
        page = httpx.get(authorize_url, timeout=30)
        assert page.status_code == 200, page.text
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
        form = {**fields, "username": OWNER, "password": PASSWORD, "decision": "approve"}
        sent = httpx.post(f"{self.sim_url}/octobook/identity/oauth.xhtml", data=form, timeout=30)
        assert sent.status_code == 302, sent.text
        return sent.headers["location"]

    def callback(self, url: str) -> httpx.Response:
        return httpx.get(url, timeout=30)

    def connect(self, hotel: Hotel) -> None:
        answer = self.callback(self.approve(self.start_url(hotel)))
        assert answer.status_code == 200, answer.text


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


@contextmanager
def live_octorate(
    engine: Engine,
    box: SecretBox,
    monkeypatch: pytest.MonkeyPatch,
    *,
    hotels: int = 1,
    connect: bool = True,
    **sim_options: Any,
) -> Iterator[LiveOctorate]:
    sessions = session_factory(engine)
    clock = SimClock()
    with ExitStack() as stack:
        simulator = create_simulator_app(
            SimulatorConfig(
                accommodations=ACCOMMODATIONS,
                owners=(OwnerSpec(OWNER, PASSWORD, tuple(a.id for a in ACCOMMODATIONS)),),
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                clock=clock,
                pump_interval_seconds=None,
                quota_calls=QUOTA_CALLS,
                hotel_decision_delay_seconds=0.0,
                generator_days=HORIZON_DAYS,
                **sim_options,
            )
        )
        sim_url = stack.enter_context(serving(simulator))
        # The adapter kind reads the app from innsync's settings (never from a connection).
        for name, value in (
            ("INNSYNC_OCTORATE_CLIENT_ID", CLIENT_ID),
            ("INNSYNC_OCTORATE_CLIENT_SECRET", CLIENT_SECRET),
            ("INNSYNC_OCTORATE_API_ROOT", f"{sim_url}/connect"),
            ("INNSYNC_OCTORATE_AUTHORIZE_URL", f"{sim_url}/octobook/identity/oauth.xhtml"),
        ):
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        stack.callback(get_settings.cache_clear)
        innsync_app = create_innsync_app(
            Settings(database_url="sqlite://", background_loops=False, auth_failure_limit=0),
            engine=engine,
            sessions=sessions,
            secret_box=box,
            run_loops=False,
        )
        innsync_url = stack.enter_context(serving(innsync_app))
        made: list[Hotel] = []
        with transaction(sessions) as session:
            tenant, issued = create_tenant(session, "Marketplace")
            for spec in ACCOMMODATIONS[:hotels]:
                prop = properties.create_property(
                    session,
                    tenant.id,
                    PropertyCreate(
                        name=spec.name,
                        timezone="Europe/Rome",
                        currency="EUR",
                        horizon_days=HORIZON_DAYS,
                    ),
                )
                connection = connections.create_connection(
                    session,
                    box,
                    tenant.id,
                    prop.id,
                    ConnectionCreate(
                        channel="octorate",
                        name=spec.name,
                        config={"accommodation_id": spec.id, "quota_calls": QUOTA_CALLS},
                    ),
                )
                made.append(Hotel(prop.id, connection.id, spec.id))
        live = LiveOctorate(
            sessions, box, sim_url, innsync_url, clock, tenant.id, issued.secret, made
        )
        if connect:
            for hotel in made:
                live.connect(hotel)
                with transaction(sessions) as session:
                    set_ari_source(
                        session,
                        tenant.id,
                        hotel.property_id,
                        AriSourceWrite(connection_id=hotel.connection_id),
                        clock(),
                    )
        yield live


def run_push_worker(live: LiveOctorate, engine: Engine, key: str, crash_at: str) -> int:
    """``tests.channels.octorate_push_worker`` in its own process, its clock standing where the
    test's stands; its exit code (0, or minus SIGKILL where it killed itself at ``crash_at``).

    The process is forked from this one rather than started afresh: a new interpreter spends
    seconds importing innsync on a loaded machine, and the child builds its own engine, HTTP
    client and adapters from the arguments alone, as the module's ``python -m`` does."""
    from tests.channels import octorate_push_worker

    url = engine.url.render_as_string(hide_password=False)
    now = live.clock()
    pid = os.fork()
    if pid == 0:  # the worker: nothing of the test's state is used, and it never returns
        code = 1
        try:
            asyncio.run(octorate_push_worker.main(url, key, crash_at, now))
            code = 0
        except BaseException:  # noqa: BLE001  (the child must never return into pytest)
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WEXITSTATUS(status) != 0:
        raise AssertionError(f"the push worker failed (exit {os.WEXITSTATUS(status)})")
    return 0


def update_config(live: LiveOctorate, hotel: Hotel, **config: Any) -> None:
    with transaction(live.sessions) as session:
        connections.update_connection(
            session, live.box, live.tenant_id, hotel.connection_id, ConnectionUpdate(config=config)
        )
