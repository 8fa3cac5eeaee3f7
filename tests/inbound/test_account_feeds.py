"""A feed that covers a channel account is read once for every connection on the account.

Two tenants' hotels are on the operator's Channex account; a third property on the same
Channex account is connected to nothing. The simulator runs in process (httpx's ASGI transport)
and logs every call, so the tests count the feed reads and see what each one asked for.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from innsync.channels.channex.config import ChannexConfig
from innsync.channels.contract import ChannelAdapter
from innsync.connections import service as connections
from innsync.connections.accounts import create_account, grant_account
from innsync.connections.models import Connection, ConnectionOta
from innsync.connections.schemas import ConnectionCreate, ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.models import Event
from innsync.inbox import metrics
from innsync.inbox.account_feeds import FeedRoutes, pull_accounts_due
from innsync.inbox.models import AccountPullCursor, InboxItem, PullCursor
from innsync.inbox.reconciler import pull_due
from innsync.simulators.channex import SimulatorConfig, create_app
from tests.channels.test_channex_sync_e2e import ChannexSide, create_channex_side
from tests.conftest import Db
from tests.simulators.conftest import START as SIM_START
from tests.simulators.conftest import FakeClock, RecordingSleep, SimClient
from tests.sync.engine_fixtures import create_hotel_rows

# A member connection's own turn (its OTA list): Channex's default cadence.
MEMBER_TURN = timedelta(seconds=ChannexConfig.model_fields["channels_poll_seconds"].default)

KEY = "operator-master-key"
BASE_URL = "http://channex.sim/api/v1"
ACCOUNT = "operator-channex"
FEED = "/api/v1/booking_revisions/feed"


@dataclass
class Fleet:
    """The account's hotels on both sides, and a property on Channex that innsync lacks."""

    db: Db
    box: SecretBox
    sim: SimClient
    account_id: uuid.UUID
    hotels: list[tuple[uuid.UUID, ChannexSide]]
    stranger: ChannexSide

    def adapter_for(self, http: httpx.AsyncClient) -> Any:
        def build(connection: Connection) -> ChannelAdapter:
            return connections.build_adapter(connection, self.box, http)

        return build

    def run(self, step: Any, **options: Any) -> int:
        """One pass of ``step`` on innsync's side at the simulator's start (or ``clock``)."""
        options.setdefault("clock", lambda: SIM_START)

        async def once() -> int:
            transport = httpx.ASGITransport(app=self.sim.app)
            async with httpx.AsyncClient(transport=transport, timeout=30) as http:
                done: int = await step(self.db.sessions, self.adapter_for(http), **options)
                return done

        return asyncio.run(once())

    def book(self, side: ChannexSide) -> str:
        arrival = SIM_START.date() + timedelta(days=10)
        answer = self.sim.post(
            "/_sim/bookings",
            {
                "property_id": side.property_id,
                "room_type_id": side.room_type_ids[0],
                "rate_plan_id": side.rate_plan_ids[0],
                "arrival_date": arrival.isoformat(),
                "departure_date": (arrival + timedelta(days=2)).isoformat(),
            },
        )
        assert answer.status_code == 201, answer.text
        revision_id: str = answer.json()["data"][0]["id"]
        return revision_id

    def feed_reads(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.sim.get("/_sim/requests").json()["data"]
        return [row for row in rows if row["path"] == FEED]

    def items(self) -> dict[uuid.UUID, set[str]]:
        """Revision ids kept in the inbox, per connection."""
        kept: dict[uuid.UUID, set[str]] = {}
        with self.db.sessions() as session:
            for connection_id, key in session.execute(
                select(InboxItem.connection_id, InboxItem.dedupe_key)
            ):
                kept.setdefault(connection_id, set()).add(key.removeprefix("revision:"))
        return kept


@pytest.fixture
def fleet(db: Db, secret_box: SecretBox) -> Fleet:
    sim_app = create_app(
        SimulatorConfig(
            api_keys=(KEY,),
            seed=7,
            clock=FakeClock(SIM_START),
            sleep=RecordingSleep(),
            pump_interval_seconds=None,
        )
    )
    sim = SimClient(sim_app, api_key=KEY)
    with transaction(db.sessions) as session:
        account = create_account(
            session, secret_box, "channex", ACCOUNT, {"base_url": BASE_URL, "api_key": KEY}
        )
        account_id = account.id
    hotels = []
    for _ in range(2):
        side = create_channex_side(sim)
        rows = create_hotel_rows(
            db.sessions,
            secret_box,
            ConnectionCreate(
                channel="channex",
                name="Channex",
                config={"base_url": BASE_URL, "api_key": KEY, "property_id": side.property_id},
            ),
            horizon_days=365,
        )
        with transaction(db.sessions) as session:
            grant_account(session, ACCOUNT, rows.tenant_id)
            session.flush()
            connections.update_connection(
                session,
                secret_box,
                rows.tenant_id,
                rows.connection_id,
                ConnectionUpdate(config={"account": ACCOUNT}),
            )
        hotels.append((rows.connection_id, side))
    return Fleet(db, secret_box, sim, account_id, hotels, create_channex_side(sim))


def test_one_read_of_the_account_feed_keeps_each_revision_under_its_property(
    fleet: Fleet,
) -> None:
    (first, first_side), (second, second_side) = fleet.hotels
    first_booking = fleet.book(first_side)
    second_booking = fleet.book(second_side)
    stranger_booking = fleet.book(fleet.stranger)
    unplaced_before = metrics.ACCOUNT_FEED_UNPLACED._value.get()

    assert fleet.run(pull_accounts_due) == 1

    (read,) = fleet.feed_reads()
    assert "property_id" not in read.get("query", ""), read  # the whole account's feed
    assert fleet.items() == {first: {first_booking}, second: {second_booking}}
    # The stranger's revision is not innsync's: left in the feed, unacknowledged, counted.
    assert metrics.ACCOUNT_FEED_UNPLACED._value.get() == unplaced_before + 1
    in_feed = {
        row["revision_id"]: row["is_in_feed"]
        for row in fleet.sim.get("/_sim/bookings").json()["data"]
    }
    assert in_feed[stranger_booking] is True
    with fleet.db.sessions() as session:
        cursor = session.get_one(AccountPullCursor, fleet.account_id)
        assert (cursor.failures, cursor.cursor) == (0, None)
        assert cursor.next_pull_at > SIM_START + timedelta(seconds=50)

    # Not due again before the feed's cadence; a second read stores nothing twice.
    assert fleet.run(pull_accounts_due) == 0
    later = SIM_START + timedelta(seconds=61)
    assert fleet.run(pull_accounts_due, clock=lambda: later) == 1
    assert len(fleet.feed_reads()) == 2
    assert fleet.items() == {first: {first_booking}, second: {second_booking}}


def test_a_connection_whose_channel_property_changes_is_routed_anew(fleet: Fleet) -> None:
    routes = FeedRoutes()  # the process's, kept between turns
    (_, first_side), (second, _) = fleet.hotels
    fleet.book(first_side)
    assert fleet.run(pull_accounts_due, routes=routes) == 1

    # The second hotel is moved to the property that was the stranger's (a fixed mapping).
    with fleet.db.sessions() as session:
        tenant_id = _tenant(session, second)
    with transaction(fleet.db.sessions) as session:
        connections.update_connection(
            session,
            fleet.box,
            tenant_id,
            second,
            ConnectionUpdate(config={"property_id": fleet.stranger.property_id}),
        )
    stranger_booking = fleet.book(fleet.stranger)
    later = SIM_START + timedelta(seconds=61)
    assert fleet.run(pull_accounts_due, routes=routes, clock=lambda: later) == 1
    assert stranger_booking in fleet.items()[second]


def test_connections_on_the_account_do_not_read_the_feed_on_their_own_turns(
    fleet: Fleet,
) -> None:
    (first, first_side), _ = fleet.hotels
    booking = fleet.book(first_side)
    with transaction(fleet.db.sessions) as session:  # a failure from before it moved over
        session.add(PullCursor(connection_id=first, tenant_id=_tenant(session, first), failures=3))

    assert fleet.run(pull_due) == 2

    assert fleet.feed_reads() == []
    assert fleet.items() == {}
    channel_lists = [
        row
        for row in fleet.sim.get("/_sim/requests").json()["data"]
        if row["path"] == "/api/v1/channels"
    ]
    assert len(channel_lists) == 2  # what is theirs alone: the OTAs behind each property
    with fleet.db.sessions() as session:
        cursors = session.scalars(select(PullCursor)).all()
    # At the slower cadence of a member's own turn (Channex: channels_poll_seconds).
    assert all(c.next_pull_at >= SIM_START + MEMBER_TURN for c in cursors)
    assert {c.failures for c in cursors} == {0}

    # The account's read brings the booking; a member's next turn shows when it was read.
    assert fleet.run(pull_accounts_due) == 1
    assert fleet.items() == {first: {booking}}
    later = SIM_START + MEMBER_TURN + timedelta(seconds=1)
    assert fleet.run(pull_due, clock=lambda: later) == 2
    assert len(fleet.feed_reads()) == 1
    with fleet.db.sessions() as session:
        read_at = session.get_one(AccountPullCursor, fleet.account_id).last_pulled_at
        shown = {c.last_pulled_at for c in session.scalars(select(PullCursor))}
    assert read_at is not None
    assert shown == {read_at}


def test_member_turns_lock_nothing_when_the_otas_are_as_recorded_and_settle_in_one_update(
    fleet: Fleet,
) -> None:
    (first, first_side), _ = fleet.hotels
    connected = fleet.sim.post(
        "/_sim/channels", {"property_id": first_side.property_id, "channel": "BookingCom"}
    )
    assert connected.status_code == 201, connected.text
    ota_id = connected.json()["data"]["id"]
    assert fleet.run(pull_due) == 2  # the new OTA is recorded
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split()).lower())

    event.listen(fleet.db.connection, "before_cursor_execute", count)
    try:
        next_turn = SIM_START + MEMBER_TURN + timedelta(seconds=1)
        assert fleet.run(pull_due, clock=lambda: next_turn) == 2
    finally:
        event.remove(fleet.db.connection, "before_cursor_execute", count)

    writes = [s for s in statements if s.startswith(("insert", "update", "delete"))]
    # The claim's lease and the settling of both members: one statement each.
    assert [s.split(" set ")[0] for s in writes] == ["update pull_cursors"] * 2
    locked = [s for s in statements if "for update" in s]  # SQLite has no FOR UPDATE
    assert all(s.startswith("select pull_cursors.") for s in locked)  # the claim's, no other
    with fleet.db.sessions() as session:
        assert _ota_states(session, first) == {"BookingCom": "active"}

    # Switched off on Channex: the next turn finds a change and records it, under the lock.
    assert fleet.sim.post(f"/_sim/channels/{ota_id}/disconnect", {}).status_code == 200
    turn_after = SIM_START + 2 * MEMBER_TURN + timedelta(seconds=2)
    assert fleet.run(pull_due, clock=lambda: turn_after) == 2
    with fleet.db.sessions() as session:
        assert _ota_states(session, first) == {"BookingCom": "disconnected"}


def _ota_states(session: Any, connection_id: uuid.UUID) -> dict[str, str]:
    rows = session.execute(
        select(ConnectionOta.ota, ConnectionOta.state).where(
            ConnectionOta.connection_id == connection_id
        )
    )
    return {ota: state for ota, state in rows}


def _tenant(session: Any, connection_id: uuid.UUID) -> uuid.UUID:
    tenant_id: uuid.UUID = session.get_one(Connection, connection_id).tenant_id
    return tenant_id


def test_a_failing_account_feed_backs_off_and_tells_every_connection_after_five(
    fleet: Fleet,
) -> None:
    fleet.sim.post("/_sim/faults", {"server_error_rate": 1.0})
    moment = SIM_START
    for attempt in range(1, 6):
        assert fleet.run(pull_accounts_due, clock=lambda at=moment: at) == 1, attempt
        with fleet.db.sessions() as session:
            cursor = session.get_one(AccountPullCursor, fleet.account_id)
            assert cursor.failures == attempt
            assert cursor.next_pull_at > moment
            moment = cursor.next_pull_at
    with fleet.db.sessions() as session:
        flagged = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.kind == "connection.needs_attention")
        )
    assert flagged == 2
