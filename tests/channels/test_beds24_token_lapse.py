"""A Beds24 refresh token lapses after 30 days unused (§2.2): innsync warns some days before.

The clock is injected: every expectation is computed from the connection's own times and the
kind's declared lapse, never from today's date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from innsync.channels import registry
from innsync.connections.credentials import ChannelCredential
from innsync.connections.lapse import refresh_token_lapses_at, warn_lapsing_refresh_tokens
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.events import kinds
from innsync.events.models import Event
from tests.conftest import Db
from tests.sync.engine_fixtures import create_hotel_rows

pytestmark = pytest.mark.backends("sqlite", "postgresql")

WARNING = timedelta(days=7)
LAPSE = timedelta(days=30)


def _connection(db: Db, box: SecretBox, channel: str, config: dict[str, object]) -> Connection:
    rows = create_hotel_rows(
        db.sessions, box, ConnectionCreate(channel=channel, name=channel, config=config)
    )
    with db.sessions() as session:
        found = session.get_one(Connection, rows.connection_id)
        session.expunge(found)
        return found


def _beds24(db: Db, box: SecretBox) -> Connection:
    return _connection(db, box, "beds24", {"refresh_token": "a-refresh-token", "property_id": 101})


def _warn(db: Db, now: datetime) -> int:
    with db.sessions() as session, session.begin():
        return warn_lapsing_refresh_tokens(session, now, WARNING)


def _attention_events(db: Db) -> list[Event]:
    with db.sessions() as session:
        query = select(Event).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
        return list(session.scalars(query))


def _state(db: Db, connection: Connection) -> tuple[str, str]:
    with db.sessions() as session:
        found = session.get_one(Connection, connection.id)
        return found.state, found.state_reason


def test_beds24_declares_the_documented_lapse() -> None:
    assert registry.get("beds24").refresh_token_lapse == LAPSE


def test_a_connection_is_warned_once_a_week_before_its_refresh_token_lapses(
    db: Db, secret_box: SecretBox
) -> None:
    connection = _beds24(db, secret_box)
    issued_at = connection.created_at + timedelta(days=3)
    with db.sessions() as session, session.begin():
        session.add(ChannelCredential(connection_id=connection.id, name="access"))
        session.flush()
        credential = session.get_one(ChannelCredential, (connection.id, "access"))
        credential.updated_at = issued_at
    with db.sessions() as session:
        lapses_at = refresh_token_lapses_at(session, session.get_one(Connection, connection.id))
    assert lapses_at == issued_at + LAPSE

    # Just before the warning window: nothing.
    assert _warn(db, lapses_at - WARNING - timedelta(seconds=1)) == 0
    assert _state(db, connection)[0] == "pending"
    assert _attention_events(db) == []

    # Inside it: needs attention, with the date, and one event.
    assert _warn(db, lapses_at - WARNING) == 1
    state, reason = _state(db, connection)
    assert state == "needs_attention"
    assert lapses_at.isoformat() in reason
    (event,) = _attention_events(db)
    assert event.payload["connection_id"] == str(connection.id)

    # A later check does not tell the PMS again.
    assert _warn(db, lapses_at + timedelta(days=1)) == 0
    assert len(_attention_events(db)) == 1


def test_a_refresh_moves_the_lapse_on(db: Db, secret_box: SecretBox) -> None:
    connection = _beds24(db, secret_box)
    # No credential issued yet: the lapse counts from the connection's creation.
    with db.sessions() as session:
        held = session.get_one(Connection, connection.id)
        assert refresh_token_lapses_at(session, held) == connection.created_at + LAPSE
    refreshed_at = connection.created_at + timedelta(days=29)
    with db.sessions() as session, session.begin():
        credential = ChannelCredential(connection_id=connection.id, name="access")
        session.add(credential)
        session.flush()
        credential.updated_at = refreshed_at
    # Day 29 would be inside the first token's window; the refresh on day 29 moved it on.
    assert _warn(db, connection.created_at + timedelta(days=29)) == 0
    assert _warn(db, refreshed_at + LAPSE - WARNING - timedelta(seconds=1)) == 0
    assert _state(db, connection)[0] == "pending"


def test_channels_without_a_lapse_are_never_warned(db: Db, secret_box: SecretBox) -> None:
    connection = _connection(db, secret_box, "fake", {})
    assert registry.get("fake").refresh_token_lapse is None
    assert _warn(db, connection.created_at + timedelta(days=3650)) == 0
    assert _state(db, connection)[0] == "pending"
