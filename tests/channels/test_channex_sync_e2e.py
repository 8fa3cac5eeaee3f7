"""The real sync engine pushing a DB-backed hotel to the Channex simulator through the adapter.

Over real HTTP (the simulator serves on a loopback port). Evidence for the Channex certification
behaviour (channex.md §1.8): a 500-day full sync is one
availability call and one restrictions call; one changed date of one rate is one call with one
entry; changes to several rates made together are one call; the simulator never answers 429.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from innsync.channels.channex import CHANNEX_LIMITS, ChannexAdapter, ChannexConfig
from innsync.channels.types import RatePlanKey, RateValues
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
from innsync.inventory.calendar import write_ari
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.simulators.channex import SimulatorConfig, create_app
from innsync.stay_dates import DateRange
from innsync.sync.desired import channel_today
from innsync.sync.drift import DriftReport, audit_connection
from innsync.sync.models import AckedAvailability, AckedRate, DeadLetter
from innsync.sync.worker import SyncWorker
from tests.conftest import Db
from tests.servers import serving
from tests.simulators.conftest import RecordingSleep, SimClient, room_type_body
from tests.sync.engine_fixtures import Clock, create_hotel_rows, desired_over_horizon

KEY = "e2e-channex-key"
HORIZON_DAYS = 500


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP to the simulator, keeping the JSON body of every ARI write it carries."""

    def __init__(self) -> None:
        # No kept-alive connections: each test step runs its own event loop.
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        self.ari_bodies: list[tuple[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.ari_bodies.append((request.url.path, json.loads(request.content)))
        return await self._inner.handle_async_request(request)


@dataclass
class ChannexSide:
    """What the hotel looks like in the simulator, created through its public API."""

    property_id: str
    room_type_ids: list[str]
    rate_plan_ids: list[str]


@dataclass
class ChannexHotel:
    """Two room types with two rate plans each, mapped on one Channex connection."""

    sessions: Any
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    clock: Clock
    sim: SimClient
    channex: ChannexSide
    transport: RecordingTransport
    box: SecretBox
    base_url: str
    worker: SyncWorker = field(init=False)
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(transport=self.transport)
        self.worker = SyncWorker(
            self.sessions, self._adapter_for, clock=self.clock, holder="channex-e2e"
        )

    def _adapter_for(self, connection: Connection) -> ChannexAdapter:
        # The stored, encrypted config, as the worker's real factory reads it; the adapter
        # shares the test clock so "today" is the simulator's today.
        stored = json.loads(self.box.decrypt(connection.config_encrypted))
        return ChannexAdapter(ChannexConfig.model_validate(stored), self.http, now=self.clock)

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

    def connection(self) -> Connection:
        with self.sessions() as session:
            return session.get_one(Connection, self.connection_id)

    def pending(self) -> int:
        with self.sessions() as session:
            query = select(DirtyMark.id).where(DirtyMark.connection_id == self.connection_id)
            return len(list(session.scalars(query)))

    def drain(self, max_passes: int = 30, step_seconds: float = 6.0) -> None:
        """Run the worker until nothing is dirty, moving the shared clock between passes."""

        async def passes() -> None:
            for _ in range(max_passes):
                await self.worker.run_once()
                if not self.pending():
                    return
                self.clock.advance(step_seconds)
            raise AssertionError(f"still {self.pending()} dirty marks after {max_passes} passes")

        asyncio.run(passes())

    def ari_writes(self) -> list[tuple[str, int]]:
        """(path, status) of every ARI write the simulator received, from its request log."""
        return [
            (row["path"], row["status"])
            for row in self.sim.get("/_sim/requests").json()["data"]
            if row["endpoint_class"] in ("availability", "restrictions") and row["method"] == "POST"
        ]

    def desired(
        self,
    ) -> tuple[dict[str, dict[date, int]], dict[RatePlanKey, dict[date, RateValues]]]:
        return desired_over_horizon(
            self.sessions,
            self.connection_id,
            self.property_id,
            self.room_type_ids,
            self.rate_plan_ids,
            self.clock(),
        )

    def assert_channex_shows_innsync(self) -> None:
        """From today to the horizon, Channex holds exactly innsync's availability and rates."""
        availability, rates = self.desired()
        today = self.clock().date()
        window = DateRange(today, today + timedelta(days=HORIZON_DAYS))

        async def read() -> tuple[Any, Any]:
            adapter = ChannexAdapter(
                ChannexConfig(
                    base_url=self.base_url, api_key=KEY, property_id=self.channex.property_id
                ),
                self.http,
                now=self.clock,
            )
            return (
                await adapter.read_availability(list(availability), window),
                await adapter.read_rates(list(rates), window),
            )

        shown_availability, shown_rates = asyncio.run(read())
        for code, days in availability.items():
            expected = {day: units for day, units in days.items() if day >= today}
            assert shown_availability[code] == expected
        for key, values in rates.items():
            expected_rates = {day: value for day, value in values.items() if day >= today}
            assert shown_rates[key] == expected_rates


def create_channex_side(sim: SimClient) -> ChannexSide:
    prop = sim.post(
        "/api/v1/properties",
        {"property": {"title": "Harbour", "currency": "EUR", "timezone": "Europe/Lisbon"}},
    )
    assert prop.status_code == 201, prop.text
    property_id = prop.json()["data"]["id"]
    room_type_ids, rate_plan_ids = [], []
    for title in ("Double", "Single"):
        room = sim.post("/api/v1/room_types", room_type_body(property_id, title))
        assert room.status_code == 201, room.text
        room_type_ids.append(room.json()["data"]["id"])
        for plan_title in ("BAR", "NRF"):
            plan = sim.post(
                "/api/v1/rate_plans",
                {
                    "rate_plan": {
                        "property_id": property_id,
                        "room_type_id": room_type_ids[-1],
                        "title": f"{title} {plan_title}",
                        "options": [{"occupancy": 2, "is_primary": True, "rate": 10000}],
                    }
                },
            )
            assert plan.status_code == 201, plan.text
            rate_plan_ids.append(plan.json()["data"]["id"])
    return ChannexSide(property_id, room_type_ids, rate_plan_ids)


def build_hotel(db: Db, box: SecretBox, stack: ExitStack) -> ChannexHotel:
    """The hotel on both sides, with the simulator serving on a loopback port until ``stack``
    closes: innsync's adapter reaches it over real HTTP."""
    clock = Clock()
    app = create_app(
        SimulatorConfig(
            api_keys=(KEY,), seed=5, clock=clock, sleep=RecordingSleep(), pump_interval_seconds=None
        )
    )
    base_url = stack.enter_context(serving(app)) + "/api/v1"
    sim = SimClient(app, api_key=KEY)
    channex = create_channex_side(sim)
    rows = create_hotel_rows(
        db.sessions,
        box,
        ConnectionCreate(
            channel="channex",
            name="Channex",
            config={"base_url": base_url, "api_key": KEY, "property_id": channex.property_id},
        ),
        horizon_days=HORIZON_DAYS,
    )
    tenant_id, room_types, plans = rows.tenant_id, rows.room_type_ids, rows.rate_plan_ids
    connection_id = rows.connection_id
    hotel = ChannexHotel(
        db.sessions,
        tenant_id,
        rows.property_id,
        room_types,
        plans,
        connection_id,
        clock,
        sim,
        channex,
        RecordingTransport(),
        box,
        base_url,
    )
    seed_varied_ari(hotel)
    with transaction(db.sessions) as session:
        # innsync's ids map to the Channex ids (channex.md §1.8: "fetch the ids and map them").
        connections.set_mappings(
            session,
            tenant_id,
            connection_id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=ours, channel_code=theirs)
                    for ours, theirs in zip(room_types, channex.room_type_ids, strict=True)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=ours, channel_code=theirs)
                    for ours, theirs in zip(plans, channex.rate_plan_ids, strict=True)
                ],
            ),
        )
    return hotel


def seed_varied_ari(hotel: ChannexHotel) -> None:
    """Realistic values (§1.8 test 1 forbids uniform ones): seasons, weekends, restrictions,
    blocks and bookings, so availability varies too."""
    start, end = hotel.day(-1), hotel.day(HORIZON_DAYS - 1)
    entries: list[dict[str, Any]] = []
    for index, plan_id in enumerate(hotel.rate_plan_ids):
        base = Decimal(90 + 15 * index)
        plan = str(plan_id)
        entries += [
            {
                "rate_plan_id": plan,
                "date_from": start,
                "date_to": end,
                "price": str(base),
                "min_stay_arrival": 1,
            },
            {
                "rate_plan_id": plan,
                "date_from": start,
                "date_to": end,
                "weekdays": ["fr", "sa"],
                "price": str(base + 30),
            },
            {
                "rate_plan_id": plan,
                "date_from": hotel.day(30),
                "date_to": hotel.day(120),
                "price": str(base + Decimal("55.50")),
                "min_stay_arrival": 3,
                "max_stay": 14,
            },
            {
                "rate_plan_id": plan,
                "date_from": hotel.day(200 + index),
                "date_to": hotel.day(203 + index),
                "stop_sell": True,
            },
            {
                "rate_plan_id": plan,
                "date_from": hotel.day(300),
                "date_to": hotel.day(330),
                "closed_to_arrival": True,
                "weekdays": ["su"],
            },
            {
                "rate_plan_id": plan,
                "date_from": hotel.day(400),
                "date_to": hotel.day(410),
                "closed_to_departure": True,
                "min_stay_through": 2,
            },
        ]
    entries.append(
        {
            "room_type_id": str(hotel.room_type_ids[1]),
            "date_from": hotel.day(50),
            "date_to": hotel.day(56),
            "block": {"units": 3, "kind": "maintenance"},
        }
    )
    hotel.ari(*entries)
    today = hotel.clock().date()
    with transaction(hotel.sessions) as session:
        for offset, nights, room_type_id in ((3, 2, 0), (10, 4, 1), (90, 7, 0)):
            create_direct(
                session,
                hotel.tenant_id,
                hotel.property_id,
                ReservationCreate(
                    arrival=today + timedelta(days=offset),
                    departure=today + timedelta(days=offset + nights),
                    rooms=[
                        RoomIn(room_type_id=hotel.room_type_ids[room_type_id], adults=2, amount=300)
                    ],
                ),
            )


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Iterator[ChannexHotel]:
    with ExitStack() as stack:
        built = build_hotel(db, secret_box, stack)
        yield built
        asyncio.run(built.http.aclose())


def restriction_values(hotel: ChannexHotel, index: int) -> list[dict[str, Any]]:
    path, body = hotel.transport.ari_bodies[index]
    assert path == "/api/v1/restrictions"
    values: list[dict[str, Any]] = body["values"]
    return values


def test_full_sync_of_500_days_is_one_availability_and_one_restrictions_call(
    hotel: ChannexHotel,
) -> None:
    hotel.drain()

    assert hotel.ari_writes() == [("/api/v1/availability", 200), ("/api/v1/restrictions", 200)]
    (_, availability_body), (_, restrictions_body) = hotel.transport.ari_bodies
    availability_values, rate_values = availability_body["values"], restrictions_body["values"]
    # Every room type and rate plan, the whole horizon from today (yesterday is closed on
    # Channex), with varied values: several availability counts and several prices.
    assert {value["room_type_id"] for value in availability_values} == set(
        hotel.channex.room_type_ids
    )
    assert {value["rate_plan_id"] for value in rate_values} == set(hotel.channex.rate_plan_ids)
    last_day = hotel.day(HORIZON_DAYS - 1)
    assert max(value.get("date_to", value.get("date")) for value in rate_values) == last_day
    assert min(value.get("date_from", value.get("date")) for value in rate_values) == hotel.day(0)
    assert len({value["availability"] for value in availability_values}) >= 3
    assert len({value["rate"] for value in rate_values if "rate" in value}) >= 8
    assert any("days" in value for value in rate_values)
    hotel.assert_channex_shows_innsync()
    with hotel.sessions() as session:
        assert list(session.scalars(select(DeadLetter))) == []


def test_changes_after_the_full_sync_are_batched_and_never_meet_a_429(
    hotel: ChannexHotel,
) -> None:
    hotel.drain()
    ids = hotel.channex.rate_plan_ids

    # One date of one rate: one call carrying one entry, with only the field that changed.
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[1]),
            "date_from": hotel.day(40),
            "date_to": hotel.day(40),
            "price": "333.00",
        }
    )
    hotel.drain()
    assert hotel.ari_writes()[2:] == [("/api/v1/restrictions", 200)]
    assert restriction_values(hotel, 2) == [
        {
            "property_id": hotel.channex.property_id,
            "rate_plan_id": ids[1],
            "date": hotel.day(40),
            "rate": "333.00",
        }
    ]

    # Changes to several rates made together (two PMS writes): one call.
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": hotel.day(21),
            "date_to": hotel.day(21),
            "price": "333.00",
        },
        {
            "rate_plan_id": str(hotel.rate_plan_ids[2]),
            "date_from": hotel.day(25),
            "date_to": hotel.day(25),
            "price": "444.00",
        },
        {
            "rate_plan_id": str(hotel.rate_plan_ids[3]),
            "date_from": hotel.day(29),
            "date_to": hotel.day(29),
            "price": "456.23",
        },
    )
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[1]),
            "date_from": hotel.day(10),
            "date_to": hotel.day(16),
            "min_stay_arrival": 2,
            "stop_sell": True,
        }
    )
    hotel.drain()
    assert hotel.ari_writes()[3:] == [("/api/v1/restrictions", 200)]
    assert sorted(
        (value["rate_plan_id"], value.get("date", value.get("date_from")))
        for value in restriction_values(hotel, 3)
    ) == sorted(
        [
            (ids[0], hotel.day(21)),
            (ids[2], hotel.day(25)),
            (ids[3], hotel.day(29)),
            (ids[1], hotel.day(10)),
        ]
    )

    # A burst: one change every two seconds, more than Channex takes in a minute.
    for change in range(15):
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[0]),
                "date_from": hotel.day(change),
                "date_to": hotel.day(change),
                "price": f"{200 + change}.00",
            }
        )
        asyncio.run(hotel.worker.run_once())
        hotel.clock.advance(2)
    hotel.drain()
    burst = hotel.ari_writes()[4:]
    assert 0 < len(burst) < 15  # changes that waited for the budget were coalesced
    assert {status for _, status in hotel.ari_writes()} == {200}
    assert all(row["rate_limited"] == 0 for row in hotel.sim.get("/_sim/counters").json()["data"])
    hotel.assert_channex_shows_innsync()


# Each kind of change the certification list names, with the fields Channex must then receive.
KINDS_OF_CHANGE: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"price": "212.50"}, {"rate": "212.50"}),
    ({"min_stay_arrival": 3}, {"min_stay_arrival": 3}),
    ({"stop_sell": True}, {"stop_sell": True}),
    (
        {"closed_to_arrival": True, "closed_to_departure": True, "max_stay": 9},
        {"closed_to_arrival": True, "closed_to_departure": True, "max_stay": 9},
    ),
    ({"min_stay_through": 2, "stop_sell": False}, {"min_stay_through": 2, "stop_sell": False}),
]


def test_each_kind_of_change_is_one_call_with_only_its_fields(hotel: ChannexHotel) -> None:
    hotel.drain()
    for number, (change, sent) in enumerate(KINDS_OF_CHANGE):
        hotel.clock.advance(61)  # a fresh minute of budget
        # Days 230-239 hold only the base rate, its weekend price and a one-night minimum stay.
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[2]),
                "date_from": hotel.day(230),
                "date_to": hotel.day(239),
                **change,
            }
        )
        hotel.drain()
        assert hotel.ari_writes()[2 + number :] == [("/api/v1/restrictions", 200)], change
        assert restriction_values(hotel, 2 + number) == [
            {
                "property_id": hotel.channex.property_id,
                "rate_plan_id": hotel.channex.rate_plan_ids[2],
                "date_from": hotel.day(230),
                "date_to": hotel.day(239),
                **sent,
            }
        ]
    hotel.assert_channex_shows_innsync()


def ari_write_times(hotel: ChannexHotel) -> list[tuple[str, str]]:
    """(endpoint class, time) of every ARI write the simulator accepted, in arrival order."""
    return [
        (row["endpoint_class"], row["at"])
        for row in hotel.sim.get("/_sim/requests").json()["data"]
        if row["endpoint_class"] in ("availability", "restrictions")
        and row["method"] == "POST"
        and row["status"] == 200
    ]


def test_a_booking_while_rates_wait_for_their_budget_is_sent_at_once(
    hotel: ChannexHotel,
) -> None:
    hotel.drain()
    hotel.clock.advance(61)  # a fresh minute for both budgets
    started = len(ari_write_times(hotel))

    # Twelve rate changes, one every two seconds: the restrictions budget sends at an even
    # pace, one request every 6 s (sync/limiter.py, RATES_BURST_SHARE), so changes wait in the
    # meantime and go together.
    def change_rate(change: int) -> None:
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[0]),
                "date_from": hotel.day(change + 1),
                "date_to": hotel.day(change + 1),
                "price": f"{300 + change}.00",
            }
        )

    for change in range(12):
        change_rate(change)
        asyncio.run(hotel.worker.run_once())
        if change < 11:
            hotel.clock.advance(2)
    burst = ari_write_times(hotel)[started:]
    assert len(burst) >= 3
    assert {kind for kind, _ in burst} == {"restrictions"}
    assert len(burst) < 12  # changes that waited for the budget were coalesced
    paced = [datetime.fromisoformat(at) for _, at in burst]
    assert all(later - earlier >= timedelta(seconds=6) for earlier, later in pairwise(paced))
    # Then, right after a rates request (the budget's next one is 6 s away), a rate change
    # and a booking: the booking's availability is sent at the next pass, at once.
    while hotel.pending():
        hotel.clock.advance(1)
        asyncio.run(hotel.worker.run_once())
    burst = ari_write_times(hotel)[started:]
    change_rate(12)
    booked_at = hotel.clock()
    with transaction(hotel.sessions) as session:
        create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(
                arrival=booked_at.date() + timedelta(days=5),
                departure=booked_at.date() + timedelta(days=7),
                rooms=[RoomIn(room_type_id=hotel.room_type_ids[0], adults=2, amount=300)],
            ),
        )
    asyncio.run(hotel.worker.run_once())
    after_booking = ari_write_times(hotel)[started + len(burst) :]
    assert after_booking == [("availability", booked_at.isoformat())]
    # The rate changes that waited go out as the restrictions budget has room again.
    hotel.drain()
    waited = ari_write_times(hotel)[started + len(burst) + 1 :]
    assert waited
    assert {kind for kind, _ in waited} == {"restrictions"}
    sent = [datetime.fromisoformat(at) for kind, at in [*burst, *waited]]
    # Never more than Channex's 10 in any 60 s, and none refused for it.
    assert all(
        sum(1 for later in sent if first <= later < first + timedelta(seconds=60)) <= 10
        for first in sent
    )
    assert all(row["rate_limited"] == 0 for row in hotel.sim.get("/_sim/counters").json()["data"])
    hotel.assert_channex_shows_innsync()


def test_an_audit_right_after_a_full_sync_finds_no_drift_and_nothing_unsent_is_acknowledged(
    hotel: ChannexHotel,
) -> None:
    # The full sync covers yesterday too (innsync keeps it), which Channex cannot hold.
    hotel.drain()
    with hotel.sessions() as session:
        prop = session.get_one(Property, hotel.property_id)
        today = channel_today(prop, hotel.clock(), CHANNEX_LIMITS)
        acked_days = [
            *session.scalars(
                select(AckedAvailability.stay_date).where(
                    AckedAvailability.connection_id == hotel.connection_id
                )
            ),
            *session.scalars(
                select(AckedRate.stay_date).where(AckedRate.connection_id == hotel.connection_id)
            ),
        ]
    assert acked_days
    assert min(acked_days) == today  # yesterday was not sent, so it is not acknowledged

    async def audit() -> DriftReport:
        adapter = hotel._adapter_for(hotel.connection())
        return await audit_connection(hotel.sessions, hotel.connection_id, adapter, hotel.clock)

    assert asyncio.run(audit()) == DriftReport(availability_dates=0, rate_dates=0)
    assert hotel.pending() == 0
    writes = len(hotel.ari_writes())
    hotel.drain()
    assert len(hotel.ari_writes()) == writes  # and nothing to "repair"
