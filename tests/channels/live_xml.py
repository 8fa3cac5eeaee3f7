"""What the live XML channel harnesses (Booking.com, Expedia, Agoda) share: the mapped hotel
they create and the engine passes they run against their simulator on the test's clock.

Each harness is a dataclass with the fields :class:`LiveHotel` names; it inherits the passes
from :class:`EngineSteps` and adds what is its channel's own (booking, the simulator's views).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.connections import service as connections
from innsync.connections.models import Connection
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.models import Property
from innsync.properties.schemas import PropertyCreate
from innsync.properties.service import property_today
from innsync.reservations.models import Reservation
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import create_tenant
from tests.channels.live_catalog import create_catalog
from tests.simulators.conftest import SimClient
from tests.sync.engine_fixtures import Clock

# Apply-and-acknowledge rounds one `process` call runs at most.
PROCESS_ROUNDS = 5
# Seconds the clock moves between sync passes: past each channel's pacing.
PASS_STEP_SECONDS = 6


class MappedHotel(NamedTuple):
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    webhook_token: str


def create_mapped_hotel(
    sessions: sessionmaker[Session],
    box: SecretBox,
    *,
    tenant: str,
    hotel: PropertyCreate,
    connection: ConnectionCreate,
    rooms: Sequence[str],
    rates: Sequence[str],
) -> MappedHotel:
    """A tenant with one property of the shared catalog, one connection, every room type and
    rate plan mapped to the channel's codes (``rates``: two per room, in room order)."""
    with transaction(sessions) as session:
        made, _ = create_tenant(session, tenant)
        prop = properties.create_property(session, made.id, hotel)
        room_types, plans = create_catalog(session, made.id, prop.id)
        created = connections.create_connection(session, box, made.id, prop.id, connection)
        connections.set_mappings(
            session,
            made.id,
            created.id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=ours, channel_code=theirs)
                    for ours, theirs in zip(room_types, rooms, strict=True)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=plan, channel_code=code)
                    for plan, code in zip(plans, rates, strict=True)
                ],
            ),
        )
        token = session.get_one(Connection, created.id).webhook_token
        return MappedHotel(made.id, prop.id, room_types, plans, created.id, str(token))


class LiveHotel(Protocol):
    """What a harness holds for :class:`EngineSteps` to run on."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def sim(self) -> SimClient: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def property_id(self) -> uuid.UUID: ...
    @property
    def transport(self) -> httpx.AsyncBaseTransport: ...

    def adapter_for(self, http: httpx.AsyncClient) -> Callable[[Connection], Any]: ...


Build = Callable[[Connection], Any]


def run_with_adapter(live: LiveHotel, step: Callable[[Build], Awaitable[Any]]) -> Any:
    """``step`` in an event loop of its own, given how to build the adapter over the harness's
    transport (as a worker process builds it from the stored config)."""

    async def run() -> Any:
        async with httpx.AsyncClient(transport=live.transport) as http:
            return await step(live.adapter_for(http))

    return asyncio.run(run())


class EngineSteps:
    """The engine's passes, one at a time on the harness's clock."""

    # The sync worker's lease holder name in this harness.
    holder = "live-e2e"

    def sync(self: LiveHotel, max_passes: int = 20) -> None:
        """Run the outbound worker until nothing is dirty."""
        holder = str(getattr(self, "holder", "live-e2e"))

        async def passes(build: Build) -> None:
            worker = SyncWorker(self.sessions, build, clock=self.clock, holder=holder)
            for _ in range(max_passes):
                await worker.run_once()
                with self.sessions() as session:
                    if not session.scalars(select(DirtyMark.id).limit(1)).first():
                        return
                self.clock.advance(PASS_STEP_SECONDS)
            raise AssertionError("availability or rates still dirty after the passes")

        run_with_adapter(self, passes)

    def reconcile(self: LiveHotel) -> int:
        """One reconciler pass at the test clock."""

        async def once(build: Build) -> int:
            return await pull_due(self.sessions, build, clock=self.clock)

        return int(run_with_adapter(self, once))

    def process(self: LiveHotel) -> int:
        """Apply what the inbox holds and send the acknowledgements that are due."""

        async def passes(build: Build) -> int:
            done = 0
            for _ in range(PROCESS_ROUNDS):
                step = await process_pending(self.sessions, build, clock=self.clock)
                step += await acknowledge_due(self.sessions, build, clock=self.clock)
                done += step
                if not step:
                    break
            return done

        return int(run_with_adapter(self, passes))

    def ari(self: LiveHotel, *entries: dict[str, Any]) -> None:
        with transaction(self.sessions) as session:
            write_ari(
                session,
                self.tenant_id,
                self.property_id,
                AriWrite.model_validate({"entries": list(entries)}),
                self.clock(),
            )

    def day(self: LiveHotel, offset: int) -> date:
        """The property's day on the test clock plus ``offset``: ARI is written in the
        property's dates, which differ from UTC's for hours every day."""
        with self.sessions() as session:
            prop = session.get_one(Property, self.property_id)
            return property_today(prop, self.clock()) + timedelta(days=offset)

    def counters(self: LiveHotel) -> dict[str, int]:
        """The simulator's own counts (``/_sim/counters``)."""
        found: dict[str, int] = self.sim.get("/_sim/counters").json()
        return found

    def reservations(self: LiveHotel) -> list[Reservation]:
        with self.sessions() as session:
            query = select(Reservation).where(Reservation.property_id == self.property_id)
            return list(session.scalars(query.order_by(Reservation.created_at)))

    def items(self: LiveHotel) -> list[InboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))


REPO = Path(__file__).resolve().parents[2]


def run_crash_worker(channel: str, engine: Engine, key: str, crash_at: str, offset: float) -> int:
    """``tests.channels.crash_worker`` for ``channel`` in its own process; its exit code
    (0, or minus SIGKILL where it killed itself at ``crash_at``)."""
    url = engine.url.render_as_string(hide_password=False)
    module = "tests.channels.crash_worker"
    finished = subprocess.run(
        [sys.executable, "-m", module, channel, url, key, crash_at, str(offset)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO / "src"), str(REPO)))},
        capture_output=True,
        timeout=120,
        check=False,
    )
    if finished.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(finished.stderr.decode()[-2000:])
    return finished.returncode
