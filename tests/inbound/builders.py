"""Builders for inbound tests: a hotel with fake-channel connections, booking bodies, processing."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app
from innsync.api.routers import hooks
from innsync.channels.contract import ChannelAdapter, ReceivesWebhooks
from innsync.channels.fake import FakeChannelConfig
from innsync.channels.fake.adapter import SECRET_HEADER
from innsync.connections.models import Connection
from innsync.connections.schemas import (
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.connections.service import build_adapter, set_mappings
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.inbox.service import connection_for_token, receive_webhook
from innsync.inventory.models import InventoryLedgerDay
from innsync.properties.schemas import PropertyCreate, RatePlanCreate, RoomTypeCreate
from innsync.properties.service import create_property, create_rate_plan, create_room_type
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from innsync.tenants.service import create_tenant

SECRET = "fake-webhook-secret"
ARRIVAL = date(2030, 6, 1)
REVISED = datetime(2030, 1, 1, 9, tzinfo=UTC)


@dataclass
class Hotel:
    """A property with fake-channel connections mapped to its room types (code == channel code)."""

    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_types: dict[str, uuid.UUID]
    rate_plans: dict[str, uuid.UUID]
    connections: list[uuid.UUID]
    tokens: list[str]
    rate_of_room: dict[str, str] = field(default_factory=dict)


def make_hotel(
    session: Session,
    box: SecretBox,
    units: dict[str, int] | None = None,
    connections: int = 1,
    mapped: bool = True,
) -> Hotel:
    """Room types (with one rate plan each, ``<code>-BAR``) and mapped fake connections."""
    units = units or {"DBL": 5, "TWN": 3}
    tenant, _ = create_tenant(session, f"Group {uuid.uuid4().hex[:8]}")
    prop = create_property(
        session,
        tenant.id,
        PropertyCreate(name="Seaside", timezone="Europe/Rome", currency="EUR"),
    )
    room_types: dict[str, uuid.UUID] = {}
    rate_plans: dict[str, uuid.UUID] = {}
    for code, count in units.items():
        room_type = create_room_type(
            session,
            tenant.id,
            prop.id,
            RoomTypeCreate(
                code=code,
                name=code,
                sellable_units=count,
                max_adults=2,
                max_occupancy=3,
                default_occupancy=2,
            ),
        )
        plan = create_rate_plan(
            session,
            tenant.id,
            prop.id,
            RatePlanCreate(room_type_id=room_type.id, code=f"{code}-BAR", name="Best"),
        )
        room_types[code], rate_plans[f"{code}-BAR"] = room_type.id, plan.id
    hotel = Hotel(tenant.id, prop.id, room_types, rate_plans, [], [])
    for index in range(connections):
        connection = connect(session, box, tenant.id, prop.id, f"OTA {index}")
        hotel.connections.append(connection.id)
        hotel.tokens.append(connection.webhook_token)
        if mapped:
            map_all(session, hotel, connection.id)
    session.flush()
    return hotel


def connect(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    name: str,
    config: FakeChannelConfig | None = None,
) -> Connection:
    """A fake connection row as ``connections.service.create_connection`` writes it, without the
    httpx client that function builds (~100 ms each: it loads the CA bundle)."""
    config = config or FakeChannelConfig(webhook_secret=SecretStr(SECRET))
    connection_id = uuid.uuid4()
    connection = Connection(
        id=connection_id,
        tenant_id=tenant_id,
        property_id=property_id,
        channel="fake",
        name=name,
        config_encrypted=box.encrypt(config.model_dump_json()),
        state="pending",
        state_reason="",
        webhook_token=secrets.token_urlsafe(32),
        bucket_key=f"fake:connection:{connection_id}",
        consecutive_failures=0,
    )
    session.add(connection)
    session.flush()
    return connection


def map_all(session: Session, hotel: Hotel, connection_id: uuid.UUID) -> None:
    set_mappings(
        session,
        hotel.tenant_id,
        connection_id,
        MappingsWrite(
            room_types=[
                RoomTypeMappingIn(room_type_id=room_type_id, channel_code=code)
                for code, room_type_id in hotel.room_types.items()
            ],
            rate_plans=[
                RatePlanMappingIn(rate_plan_id=plan_id, channel_code=code)
                for code, plan_id in hotel.rate_plans.items()
            ],
        ),
    )


def booking(
    booking_id: str,
    revision: int = 1,
    status: str = "new",
    arrival: date = ARRIVAL,
    nights: int = 2,
    rooms: list[str] | None = None,
    guest: str = "Ada Lovelace",
    price: str = "100.00",
) -> dict[str, Any]:
    """A fake-channel webhook body; revision ``n`` is made ``n`` minutes after ``REVISED``."""
    stay = [arrival + timedelta(days=offset) for offset in range(nights)]
    codes = ["DBL"] if rooms is None else rooms
    return {
        "booking_id": booking_id,
        "revision_id": f"{booking_id}-{revision}",
        "status": status,
        "revised_at": (REVISED + timedelta(minutes=revision)).isoformat(),
        "arrival": stay[0].isoformat(),
        "departure": (stay[-1] + timedelta(days=1)).isoformat(),
        "currency": "EUR",
        "total": str(Decimal(price) * len(stay) * len(codes)),
        "guest": {"name": guest, "email": f"{guest.split()[0].lower()}@example.com"},
        "rooms": [
            {
                "room_type": code,
                "rate_plan": f"{code}-BAR",
                "occupancy": 2,
                "prices": {night.isoformat(): price for night in stay},
            }
            for code in codes
        ],
    }


def encode(body: dict[str, Any], variant: int = 0) -> bytes:
    """The body as JSON; a different ``variant`` gives other bytes for the same revision."""
    return json.dumps(body, indent=variant or None).encode()


def headers(secret: str = SECRET) -> dict[str, str]:
    return {SECRET_HEADER: secret, "content-type": "application/json"}


@dataclass
class Processing:
    """Runs the processor against one database with fake adapters (no sockets)."""

    sessions: sessionmaker[Session]
    box: SecretBox
    http: httpx.AsyncClient = field(
        default_factory=lambda: httpx.AsyncClient(transport=httpx.MockTransport(_no_network))
    )

    adapter: object | None = None
    """When set, used for every connection instead of the connection's own adapter."""

    def adapter_for(self, connection: Connection) -> ChannelAdapter:
        if self.adapter is not None:
            return self.adapter  # type: ignore[return-value]
        return build_adapter(connection, self.box, self.http)

    def deliver(self, token: str, body: bytes, secret: str = SECRET) -> str:
        """Receive a webhook the way the route does, without HTTP."""
        with transaction(self.sessions) as session:
            connection = connection_for_token(session, token)
            assert connection is not None
            adapter = self.adapter_for(connection)
            assert isinstance(adapter, ReceivesWebhooks)
            return receive_webhook(session, connection, adapter, headers(secret), body)

    def run(self, limit: int = 50) -> int:
        """Process until nothing is due; returns how many items were taken."""
        total = 0
        while True:
            taken = asyncio.run(process_pending(self.sessions, self.adapter_for, limit))
            if not taken:
                return total
            total += taken


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the fake channel made a request: {request.url}")


def hooks_app(
    sessions: sessionmaker[Session], engine: Any, box: SecretBox, settings: Settings
) -> FastAPI:
    """The API app with the webhook route (included here until app.py includes it)."""
    app = create_app(settings, engine=engine, sessions=sessions, secret_box=box, run_loops=False)
    if not any(getattr(route, "path", "") == "/hooks/{token}" for route in app.routes):
        app.include_router(hooks.router)
    return app


def items(session: Session) -> Iterator[InboxItem]:
    return iter(session.scalars(select(InboxItem).order_by(InboxItem.id)))


def reservations_of(session: Session, property_id: uuid.UUID) -> list[Reservation]:
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.property_id == property_id)
            .order_by(Reservation.channel_booking_id)
            .execution_options(populate_existing=True)
        )
    )


def ledger_of(session: Session, hotel: Hotel) -> dict[tuple[str, date], int]:
    """Units sold per (room code, night), leaving out nights at zero."""
    code_of = {room_type_id: code for code, room_type_id in hotel.room_types.items()}
    rows = session.scalars(
        select(InventoryLedgerDay)
        .where(InventoryLedgerDay.room_type_id.in_(list(code_of)))
        .execution_options(populate_existing=True)
    )
    return {(code_of[row.room_type_id], row.stay_date): row.sold for row in rows if row.sold}
