"""innsync and the Channex simulator, each on its own loopback port, talking real HTTP.

The simulator posts its webhooks to innsync's ``/hooks/{token}``; innsync's adapters call the
simulator's API. The inbound passes (processor, reconciler, acknowledgements) and the sync worker
are run by the test, one pass at a time, so each step can be checked.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app as create_innsync_app
from innsync.channels.channex import ChannexAdapter, ChannexConfig
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
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from innsync.outbox.models import DirtyMark
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from innsync.simulators.channex import SimulatorConfig
from innsync.simulators.channex import create_app as create_simulator_app
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import issue_key
from tests.channels.test_channex_sync_e2e import ChannexSide, create_channex_side
from tests.servers import serving
from tests.simulators.conftest import SimClient
from tests.sync.engine_fixtures import create_hotel_rows

KEY = "live-channex-key"
WEBHOOK_SECRET = "live-webhook-secret"


@dataclass
class LiveChannex:
    """One hotel on one Channex connection, with both services running."""

    sessions: sessionmaker[Session]
    box: SecretBox
    sim: SimClient
    channex: ChannexSide
    innsync_url: str
    sim_url: str
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    api_key: str
    sim_clock: SimClock
    worker_holder: str = "live-test"
    _log_mark: int = field(default=0, init=False)

    def adapter_for(self, http: httpx.AsyncClient) -> Any:
        def build(connection: Connection) -> ChannexAdapter:
            stored = json.loads(self.box.decrypt(connection.config_encrypted))
            return ChannexAdapter(ChannexConfig.model_validate(stored), http)

        return build

    def inbound(self, rounds: int = 5) -> None:
        """Run processor, reconciler and acknowledgement passes until none finds work."""

        async def passes() -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                build = self.adapter_for(http)
                for _ in range(rounds):
                    done = await process_pending(self.sessions, build)
                    done += await acknowledge_due(self.sessions, build)
                    if not done:
                        return

        asyncio.run(passes())

    def reconcile(self, *, at: datetime | None = None) -> int:
        """One reconciler pass (``at`` moves its clock, e.g. past the feed's cadence)."""

        async def once() -> int:
            async with httpx.AsyncClient(timeout=30) as http:
                return await pull_due(
                    self.sessions, self.adapter_for(http), clock=lambda: at or datetime.now(UTC)
                )

        return asyncio.run(once())

    def sync(self, max_passes: int = 10) -> None:
        """Run the outbound worker until nothing is dirty."""

        async def passes() -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                build = self.adapter_for(http)
                worker = SyncWorker(self.sessions, build, holder=self.worker_holder)
                for _ in range(max_passes):
                    await worker.run_once()
                    with self.sessions() as session:
                        if not session.scalars(select(DirtyMark.id).limit(1)).first():
                            return
                raise AssertionError("availability or rates still dirty after the passes")

        asyncio.run(passes())

    # The simulator's side.

    def book(self, room: int = 0, plan: int | None = 0, nights: int = 2, **extra: Any) -> str:
        """An OTA booking on the simulator; returns its booking id."""
        arrival = self.sim_clock().date() + timedelta(days=extra.pop("offset", 10))
        body = {
            "property_id": self.channex.property_id,
            "room_type_id": self.channex.room_type_ids[room],
            "rate_plan_id": None if plan is None else self.channex.rate_plan_ids[room * 2 + plan],
            "arrival_date": arrival.isoformat(),
            "departure_date": (arrival + timedelta(days=nights)).isoformat(),
            **extra,
        }
        answer = self.sim.post("/_sim/bookings", body)
        assert answer.status_code == 201, answer.text
        self.sim_clock.advance(1)
        booking_id: str = answer.json()["data"][0]["attributes"]["booking_id"]
        return booking_id

    def modify(self, booking_id: str, **change: Any) -> None:
        answer = self.sim.post(f"/_sim/bookings/{booking_id}/modify", change)
        assert answer.status_code == 201, answer.text
        self.sim_clock.advance(1)

    def cancel(self, booking_id: str) -> None:
        answer = self.sim.post(f"/_sim/bookings/{booking_id}/cancel", {})
        assert answer.status_code == 201, answer.text
        self.sim_clock.advance(1)

    def sim_revisions(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.sim.get("/_sim/bookings").json()["data"]
        return rows

    def mark_log(self) -> None:
        """Later calls to :meth:`calls` see only requests made after this."""
        self._log_mark = len(self.sim.get("/_sim/requests").json()["data"])

    def calls(self, method: str | None = None, endpoint_class: str | None = None) -> list[Any]:
        rows = self.sim.get("/_sim/requests").json()["data"][self._log_mark :]
        return [
            row
            for row in rows
            if (method is None or row["method"] == method)
            and (endpoint_class is None or row["endpoint_class"] == endpoint_class)
        ]

    # innsync's side.

    def reservations(self) -> list[Reservation]:
        with self.sessions() as session:
            query = select(Reservation).where(Reservation.property_id == self.property_id)
            return list(session.scalars(query.order_by(Reservation.created_at)))

    def items_token(self) -> str:
        """The connection's webhook token (the last part of its /hooks URL)."""
        with self.sessions() as session:
            return session.get_one(Connection, self.connection_id).webhook_token

    def items(self) -> list[InboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.innsync_url,
            headers={"authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )


@dataclass
class SimClock:
    """The simulator's clock: wall time plus what a test moved it on by."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@contextmanager
def live_channex(engine: Engine, box: SecretBox, **sim_options: Any) -> Iterator[LiveChannex]:
    """Both services serving, the hotel created on both sides, mapped, webhooks registered."""
    sessions = session_factory(engine)
    sim_clock = SimClock()
    sim_app = create_simulator_app(
        SimulatorConfig(
            api_keys=(KEY,), seed=11, clock=sim_clock, pump_interval_seconds=None, **sim_options
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
        sim = SimClient(sim_app, api_key=KEY)
        channex = create_channex_side(sim)
        rows = create_hotel_rows(
            sessions,
            box,
            ConnectionCreate(
                channel="channex",
                name="Channex",
                config={
                    "base_url": f"{sim_url}/api/v1",
                    "api_key": KEY,
                    "property_id": channex.property_id,
                    "webhook_secret": WEBHOOK_SECRET,
                },
            ),
            horizon_days=365,
        )
        with transaction(sessions) as session:
            connections.set_mappings(
                session,
                rows.tenant_id,
                rows.connection_id,
                MappingsWrite(
                    room_types=[
                        RoomTypeMappingIn(room_type_id=ours, channel_code=theirs)
                        for ours, theirs in zip(
                            rows.room_type_ids, channex.room_type_ids, strict=True
                        )
                    ],
                    rate_plans=[
                        RatePlanMappingIn(rate_plan_id=ours, channel_code=theirs)
                        for ours, theirs in zip(
                            rows.rate_plan_ids, channex.rate_plan_ids, strict=True
                        )
                    ],
                ),
            )
            token = session.get_one(Connection, rows.connection_id).webhook_token
            api_key = _api_key(session, rows.tenant_id)
        live = LiveChannex(
            sessions,
            box,
            sim,
            channex,
            innsync_url,
            sim_url,
            rows.tenant_id,
            rows.property_id,
            rows.room_type_ids,
            rows.rate_plan_ids,
            rows.connection_id,
            api_key,
            sim_clock,
        )

        # Through the API, as an operator would: the URL is the one the API was called on.
        with live.api() as api:
            registered = api.post(f"/api/v1/connections/{rows.connection_id}/webhooks/register")
        assert registered.status_code == 200, registered.text
        assert registered.json()["callback_url"] == f"{innsync_url}/hooks/{token}"
        yield live


def _api_key(session: Session, tenant_id: uuid.UUID) -> str:
    return issue_key(session, tenant_id, "live test", ["admin"]).secret
