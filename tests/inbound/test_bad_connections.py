"""One connection whose stored config cannot be used, among good ones: the inbox, the pull
reconciler and the acknowledgements record the failure on its rows and serve the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from pydantic import SecretStr
from sqlalchemy import select, update

from innsync.channels.contract import ChannelAdapter
from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.channels.revision_json import revision_from_json
from innsync.connections.models import Connection
from innsync.connections.service import build_adapter
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.models import InboxItem, PullCursor
from innsync.inbox.processor import process_pending
from innsync.inbox.reconciler import pull_due
from tests.conftest import Db
from tests.inbound.builders import SECRET, Processing, booking, encode, make_hotel


def test_one_bad_connection_among_good_ones_stops_no_inbound_pass(
    db: Db, secret_box: SecretBox
) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, connections=3)
        session.commit()
    good, bad = [hotel.connections[0], hotel.connections[2]], hotel.connections[1]
    channel = FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(500)))

    def adapter_for(connection: Connection) -> ChannelAdapter:
        if connection.id == bad:
            return build_adapter(connection, secret_box, http)
        return channel

    processing = Processing(db.sessions, secret_box)
    processing.adapter_for = adapter_for  # type: ignore[method-assign]
    for index, token in enumerate(hotel.tokens):
        processing.deliver(token, encode(booking(f"B{index}")))
    with transaction(db.sessions) as session:
        # The key that encrypted this connection's config is gone.
        session.get_one(Connection, bad).config_encrypted = "not-a-secret"

    now = utcnow()
    assert asyncio.run(process_pending(db.sessions, adapter_for, clock=lambda: now)) == 3
    with db.sessions() as session:
        items = {item.connection_id: item for item in session.scalars(select(InboxItem))}
        assert [items[connection_id].status for connection_id in good] == ["applied"] * 2
        assert items[bad].status == "pending"  # kept, and retried after a pause
        assert items[bad].reason.startswith(
            "the connection's adapter cannot be built: SecretBoxError: "
        )
        assert items[bad].not_before is not None
        assert items[bad].not_before > now
        connection = session.get_one(Connection, bad)
        assert connection.state == "needs_attention"
        assert connection.state_reason.startswith("inbox: SecretBoxError: ")
        attention = session.scalars(
            select(Event.subject_id).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
        ).all()
        assert attention == [str(bad)]

    channel.publish(revision_from_json(booking("P1")))
    assert asyncio.run(pull_due(db.sessions, adapter_for, clock=lambda: now)) == 3
    with db.sessions() as session:
        cursors = {cursor.connection_id: cursor for cursor in session.scalars(select(PullCursor))}
        assert [cursors[connection_id].failures for connection_id in good] == [0, 0]
        assert cursors[bad].failures == 1
        assert cursors[bad].last_error.startswith("SecretBoxError: ")
        assert cursors[bad].next_pull_at > now
        pulled = session.scalars(select(InboxItem.connection_id).where(InboxItem.source == "pull"))
        assert sorted(pulled) == sorted(good)

    with transaction(db.sessions) as session:
        session.execute(
            update(InboxItem)
            .where(InboxItem.source == "webhook")
            .values(ack_status="due", ack_not_before=now)
        )
        for index, connection_id in enumerate(hotel.connections):
            item = session.scalars(
                select(InboxItem).where(
                    InboxItem.connection_id == connection_id, InboxItem.source == "webhook"
                )
            ).one()
            item.ack_revision_ids = [f"B{index}-1"]
    assert asyncio.run(acknowledge_due(db.sessions, adapter_for, clock=lambda: now)) == 3
    with db.sessions() as session:
        items = {
            item.connection_id: item
            for item in session.scalars(select(InboxItem).where(InboxItem.source == "webhook"))
        }
        assert [items[connection_id].ack_status for connection_id in good] == ["done"] * 2
        assert items[bad].ack_status == "due"
        assert items[bad].ack_error.startswith("attempt 1: SecretBoxError: ")
        assert items[bad].ack_not_before is not None
        assert items[bad].ack_not_before >= now + timedelta(seconds=5)
    # Due acknowledgements have no order among connections; the set is what matters.
    assert sorted(channel.acknowledged[-2:]) == ["B0-1", "B2-1"]
