"""The worker's adapters follow their connection's stored config, and one bad connection is
parked with its reason while the worker serves every other one."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx
from sqlalchemy import func, select, update

from innsync.channels.contract import ChannelAdapter
from innsync.channels.fake import CHANNEX_LIKE_LIMITS, FakeChannel, FakeChannelConfig
from innsync.connections import service as connections
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.models import Event
from innsync.outbox.models import DirtyMark
from innsync.sync.worker import SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel


def set_price(hotel: SyncedHotel, price: str, offset: int = 12) -> None:
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": hotel.day(offset),
            "date_to": hotel.day(offset),
            "price": price,
        }
    )


def test_a_changed_config_builds_a_new_adapter_and_an_unchanged_one_does_not(
    db: Db, secret_box: SecretBox
) -> None:
    """Provisioning stores the channel's property id, or a user fixes an API key: the next push
    goes through an adapter built from the new config, not the one cached before."""
    clock = Clock()
    hotel = build_hotel(db.sessions, secret_box, clock)
    built: list[FakeChannel] = []

    def adapter_for(connection: Connection) -> ChannelAdapter:
        stored = secret_box.decrypt(connection.config_encrypted)
        channel = FakeChannel(FakeChannelConfig.model_validate_json(stored), clock=clock.seconds)
        built.append(channel)
        return channel

    hotel.worker = SyncWorker(db.sessions, adapter_for, clock=clock, holder="worker")
    asyncio.run(hotel.drain())
    set_price(hotel, "150.00")
    asyncio.run(hotel.drain())
    assert [channel.config.property_code for channel in built] == ["fake-property"]
    assert [request.request.kind for request in built[0].requests] == [
        "availability",
        "rates",
        "rates",
    ]

    with transaction(db.sessions) as session:
        connections.update_connection(
            session,
            secret_box,
            hotel.tenant_id,
            hotel.connection_id,
            ConnectionUpdate(config={"property_code": "HOTEL-42"}),
        )
    set_price(hotel, "160.00")
    asyncio.run(hotel.drain())
    assert [channel.config.property_code for channel in built] == ["fake-property", "HOTEL-42"]
    assert len(built[0].requests) == 3  # the old adapter is not used again
    assert [request.request.kind for request in built[1].requests] == ["rates"]


def test_one_bad_connection_among_good_ones_is_parked_and_the_rest_are_served(
    db: Db, secret_box: SecretBox
) -> None:
    """Three broken connections share a bucket with two good ones: a secret that cannot be
    decrypted, a stored config that no longer validates, an update larger than any request.
    Each is set to needs_attention with its reason (one event each) and keeps its work; the
    good ones converge; the worker never stops."""
    clock = Clock()
    hotels = [build_hotel(db.sessions, secret_box, clock) for _ in range(5)]
    good = {hotels[0].connection_id: hotels[0], hotels[4].connection_id: hotels[4]}
    undecryptable, invalid, oversized = (hotel.connection_id for hotel in hotels[1:4])
    tiny = dataclasses.replace(CHANNEX_LIKE_LIMITS, max_request_bytes=80)
    with transaction(db.sessions) as session:
        session.execute(update(Connection).values(bucket_key="fake:account:shared"))
        session.get_one(Connection, undecryptable).config_encrypted = "not-a-secret"
        session.get_one(Connection, invalid).config_encrypted = secret_box.encrypt(
            '{"property_code": "P", "retired_setting": true}'
        )
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(500)))

    def adapter_for(connection: Connection) -> ChannelAdapter:
        if connection.id in good:
            return good[connection.id].channel
        if connection.id == oversized:
            return FakeChannel(FakeChannelConfig(limits=tiny), clock=clock.seconds)
        return connections.build_adapter(connection, secret_box, http)

    worker = SyncWorker(db.sessions, adapter_for, clock=clock, holder="worker")
    for _ in range(10):
        asyncio.run(worker.run_once())
        clock.advance(61)
    for hotel in good.values():
        assert hotel.pending() == 0
        availability, rates = hotel.desired()
        assert hotel.channel.availability_state() == availability
        assert hotel.channel.rates_state() == rates

    with db.sessions() as session:
        parked = {
            connection.id: connection
            for connection in session.scalars(
                select(Connection).where(Connection.state == "needs_attention")
            )
        }
        assert set(parked) == {undecryptable, invalid, oversized}
        assert parked[undecryptable].state_reason.startswith("sync: SecretBoxError: ")
        assert parked[invalid].state_reason.startswith("sync: ValidationError: ")
        assert "retired_setting" in parked[invalid].state_reason
        assert parked[oversized].state_reason.startswith("sync: UpdateTooLargeError: ")
        events = session.scalars(
            select(Event.subject_id).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
        ).all()
        assert sorted(events) == sorted(str(connection_id) for connection_id in parked)
        for connection_id in parked:
            assert _marks(session, connection_id) > 0  # the work waits for the fix
        good_states = session.scalars(
            select(Connection.state).where(Connection.id.in_(list(good)))
        ).all()
        assert good_states == ["connected", "connected"]


def _marks(session: object, connection_id: uuid.UUID) -> int:
    count = session.scalar(  # type: ignore[attr-defined]
        select(func.count()).where(DirtyMark.connection_id == connection_id)
    )
    return int(count or 0)
