"""A hotel with a fake-channel connection, and a worker driving it on a controllable clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.fake import FakeChannel
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
from innsync.properties import service as properties
from innsync.properties.models import Property
from innsync.properties.schemas import PropertyCreate, RatePlanCreate, RoomTypeCreate
from innsync.properties.service import horizon, property_today
from innsync.sync.desired import desired_availability, desired_rates, from_day, load_mappings
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import create_tenant
from tests.clocks import midday_today


@dataclass
class Clock:
    """A time of today that only moves when a test says so."""

    now: datetime = field(default_factory=midday_today)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class SyncedHotel:
    """Two room types with two rate plans each, all mapped on one fake connection."""

    sessions: sessionmaker[Session]
    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID
    channel: FakeChannel
    worker: SyncWorker
    clock: Clock

    def ari(self, *entries: dict[str, Any]) -> None:
        with transaction(self.sessions) as session:
            write_ari(
                session,
                self.tenant_id,
                self.property_id,
                AriWrite.model_validate({"entries": list(entries)}),
                self.clock(),
            )

    def dates(self) -> list[date]:
        with self.sessions() as session:
            return list(horizon(session.get_one(Property, self.property_id), self.clock()))

    def day(self, offset: int) -> str:
        return (self.clock().date() + timedelta(days=offset)).isoformat()

    async def drain(self, max_passes: int = 50, step_seconds: float = 6.0) -> int:
        """Run the worker until nothing is left to send, moving the clock between passes."""
        sent = 0
        for _ in range(max_passes):
            sent += await self.worker.run_once()
            if not self.pending():
                return sent
            self.clock.advance(step_seconds)
        raise AssertionError(f"still {self.pending()} dirty marks after {max_passes} passes")

    def pending(self) -> int:
        with self.sessions() as session:
            return len(
                list(
                    session.scalars(
                        select(DirtyMark.id).where(DirtyMark.connection_id == self.connection_id)
                    )
                )
            )

    def desired(
        self,
    ) -> tuple[dict[str, dict[date, int]], dict[RatePlanKey, dict[date, RateValues]]]:
        """innsync's desired state over the whole horizon, as the channel should show it."""
        return desired_over_horizon(
            self.sessions,
            self.connection_id,
            self.property_id,
            self.room_type_ids,
            self.rate_plan_ids,
            self.clock(),
        )


def desired_over_horizon(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    property_id: uuid.UUID,
    room_type_ids: list[uuid.UUID],
    rate_plan_ids: list[uuid.UUID],
    now: datetime,
) -> tuple[dict[str, dict[date, int]], dict[RatePlanKey, dict[date, RateValues]]]:
    """What a connection's channel should show, from today to the property's horizon."""
    with sessions() as session:
        connection = session.get_one(Connection, connection_id)
        mappings = load_mappings(session, connection)
        prop = session.get_one(Property, property_id)
        # Yesterday is innsync's but never sent: no channel takes a past date.
        window = from_day([horizon(prop, now)], property_today(prop, now))
        availability = desired_availability(session, mappings, dict.fromkeys(room_type_ids, window))
        rates = desired_rates(session, mappings, dict.fromkeys(rate_plan_ids, window))
    return availability, rates


@dataclass(frozen=True)
class HotelRows:
    """The ids of a hotel with two room types of two rate plans each, and one connection."""

    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]
    connection_id: uuid.UUID


def create_hotel_rows(
    sessions: sessionmaker[Session],
    box: SecretBox,
    connection: ConnectionCreate,
    horizon_days: int = 500,
) -> HotelRows:
    """Tenant, property, DBL and SGL room types with BAR and NRF plans each, and a connection."""
    with transaction(sessions) as session:
        tenant, _ = create_tenant(session, "Sync test")
        prop = properties.create_property(
            session,
            tenant.id,
            PropertyCreate(
                name="Harbour",
                timezone="Europe/Lisbon",
                currency="EUR",
                horizon_days=horizon_days,
            ),
        )
        room_types, plans = [], []
        for index, code in enumerate(("DBL", "SGL")):
            room_type = properties.create_room_type(
                session,
                tenant.id,
                prop.id,
                RoomTypeCreate(
                    code=code,
                    name=code,
                    sellable_units=8 + index,
                    max_adults=2,
                    max_occupancy=2,
                    default_occupancy=2,
                ),
            )
            room_types.append(room_type.id)
            for plan_code in ("BAR", "NRF"):
                plan = properties.create_rate_plan(
                    session,
                    tenant.id,
                    prop.id,
                    RatePlanCreate(
                        room_type_id=room_type.id, code=f"{code}-{plan_code}", name=plan_code
                    ),
                )
                plans.append(plan.id)
        created = connections.create_connection(session, box, tenant.id, prop.id, connection)
        return HotelRows(tenant.id, prop.id, room_types, plans, created.id)


def build_hotel(
    sessions: sessionmaker[Session], box: SecretBox, clock: Clock, *, full_sync: bool = True
) -> SyncedHotel:
    rows = create_hotel_rows(sessions, box, ConnectionCreate(channel="fake", name="Fake OTA"))
    channel = FakeChannel(clock=clock.seconds)
    worker = SyncWorker(sessions, lambda _connection: channel, clock=clock, holder="test-worker")
    hotel = SyncedHotel(
        sessions,
        rows.tenant_id,
        rows.property_id,
        rows.room_type_ids,
        rows.rate_plan_ids,
        rows.connection_id,
        channel=channel,
        worker=worker,
        clock=clock,
    )
    seed_varied_ari(hotel)
    with transaction(sessions) as session:
        connections.set_mappings(
            session,
            rows.tenant_id,
            rows.connection_id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=rt, channel_code=f"R{n}")
                    for n, rt in enumerate(rows.room_type_ids)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=p, channel_code=f"P{n}")
                    for n, p in enumerate(rows.rate_plan_ids)
                ],
            ),
        )
        if not full_sync:
            session.execute(delete(DirtyMark).where(DirtyMark.connection_id == rows.connection_id))
    return hotel


def seed_varied_ari(hotel: SyncedHotel) -> None:
    """Realistic, varied values: seasons, weekend prices, stop sells and minimum stays."""
    start, end = hotel.day(-1), hotel.day(499)
    entries: list[dict[str, Any]] = []
    for index, plan_id in enumerate(hotel.rate_plan_ids):
        base = Decimal(90 + 15 * index)
        entries += [
            {
                "rate_plan_id": str(plan_id),
                "date_from": start,
                "date_to": end,
                "price": str(base),
                "min_stay_arrival": 1,
            },
            {
                "rate_plan_id": str(plan_id),
                "date_from": start,
                "date_to": end,
                "weekdays": ["fr", "sa"],
                "price": str(base + 30),
            },
            {
                "rate_plan_id": str(plan_id),
                "date_from": hotel.day(30),
                "date_to": hotel.day(120),
                "price": str(base + 55),
                "min_stay_arrival": 3,
            },
            {
                "rate_plan_id": str(plan_id),
                "date_from": hotel.day(200 + index),
                "date_to": hotel.day(203 + index),
                "stop_sell": True,
            },
            {
                "rate_plan_id": str(plan_id),
                "date_from": hotel.day(300),
                "date_to": hotel.day(330),
                "closed_to_arrival": True,
                "weekdays": ["su"],
            },
        ]
    hotel.ari(*entries)
