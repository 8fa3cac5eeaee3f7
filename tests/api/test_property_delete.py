"""Deleting a property: 409 naming what blocks it; once nothing does, it goes with its history."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from innsync.connections.models import Connection
from innsync.ical_export.models import IcalExport
from innsync.inbox.models import InboxItem
from innsync.sync.models import SyncLogEntry
from tests.api.helpers import book, make_hotel, new_tenant, ok, problem
from tests.conftest import Db


def _connect(client: TestClient, headers: dict[str, str], property_id: str, channel: str) -> str:
    created = ok(
        client.post(
            f"/api/v1/properties/{property_id}/connections",
            json={"channel": channel, "name": f"My {channel}", "push_enabled": False},
            headers=headers,
        ),
        201,
    )
    connection_id: str = created["id"]
    return connection_id


def _count(
    db: Db, model: type[SyncLogEntry] | type[InboxItem] | type[IcalExport], ids: list[str]
) -> int:
    with db.sessions() as session:
        query = select(func.count()).select_from(model)
        wanted = [uuid.UUID(one) for one in ids]
        return session.scalar(query.where(model.connection_id.in_(wanted))) or 0


def test_a_property_that_had_connections_is_refused_then_deleted_with_their_history(
    client: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    headers, prop = caller.headers, hotel.property_id
    fake = _connect(client, headers, prop, "fake")
    ical = _connect(client, headers, prop, "ical")
    ok(client.put(f"/api/v1/connections/{ical}/ical-export", json={}, headers=headers))
    with db.sessions() as session:
        token = session.get_one(Connection, uuid.UUID(fake)).webhook_token
        session.add(
            SyncLogEntry(
                connection_id=uuid.UUID(fake),
                kind="ari",
                entries=1,
                request_bytes=10,
                outcome="accepted",
                duration_ms=5,
            )
        )
        session.commit()
    client.post(
        f"/hooks/{token}",
        content=b'{"not": "a booking"}',
        headers={"content-type": "application/json"},
    )
    history = [fake, ical]
    assert _count(db, SyncLogEntry, history) == 1
    assert _count(db, InboxItem, history) == 1
    assert _count(db, IcalExport, history) == 1

    refused = problem(client.delete(f"/api/v1/properties/{prop}", headers=headers), 409)
    for blocker in ("1 room type", "2 connections not disconnected", "'My fake' (fake)", "ical"):
        assert blocker in refused["detail"], refused["detail"]

    for connection in history:
        ok(client.delete(f"/api/v1/connections/{connection}", headers=headers), 204)
    ok(client.delete(f"/api/v1/rate-plans/{hotel.rate_plan_id}", headers=headers), 204)
    ok(client.delete(f"/api/v1/room-types/{hotel.room_type_id}", headers=headers), 204)
    ok(client.delete(f"/api/v1/properties/{prop}", headers=headers), 204)

    problem(client.get(f"/api/v1/properties/{prop}", headers=headers), 404)
    problem(client.get(f"/api/v1/connections/{fake}", headers=headers), 404)
    assert (_count(db, SyncLogEntry, history), _count(db, InboxItem, history)) == (0, 0)
    assert _count(db, IcalExport, history) == 0


def test_a_property_with_bookings_is_refused_with_them_named(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    book(client, hotel)
    refused = problem(
        client.delete(f"/api/v1/properties/{hotel.property_id}", headers=caller.headers), 409
    )
    assert "1 reservation" in refused["detail"], refused["detail"]
    ok(client.get(f"/api/v1/properties/{hotel.property_id}", headers=caller.headers))


def test_a_property_without_anything_is_deleted(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    prop = ok(
        client.post(
            "/api/v1/properties",
            json={"name": "Empty", "timezone": "Europe/Rome", "currency": "EUR"},
            headers=caller.headers,
        ),
        201,
    )
    ok(client.delete(f"/api/v1/properties/{prop['id']}", headers=caller.headers), 204)
    problem(client.delete(f"/api/v1/properties/{prop['id']}", headers=caller.headers), 404)
