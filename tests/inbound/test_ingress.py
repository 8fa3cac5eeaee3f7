"""Webhook ingress: verified calls are stored before they are answered, once; the rest is
refused without leaking anything, and no body can make the route or the processor fail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.routers.hooks import router as hooks_router
from innsync.channels.fake import FakeChannelConfig
from innsync.channels.fake.adapter import SECRET_HEADER
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.inbox.models import InboxItem
from innsync.inbox.service import MAX_WEBHOOK_BYTES, REJECTED_BODY_KEPT
from innsync.reservations.service import snapshot
from innsync.settings import Settings
from tests.conftest import Db
from tests.inbound.builders import (
    Hotel,
    Processing,
    booking,
    connect,
    encode,
    headers,
    hooks_app,
    ledger_of,
    make_hotel,
    reservations_of,
)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box)
        session.commit()
    return made


@pytest.fixture
def hooks(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[TestClient]:
    with TestClient(hooks_app(db.sessions, db.engine, secret_box, settings)) as client:
        yield client


def stored(db: Db) -> list[InboxItem]:
    with db.sessions() as session:
        return list(session.scalars(select(InboxItem).order_by(InboxItem.id)))


def test_a_verified_webhook_is_stored_raw_and_answered_200(
    hooks: TestClient, hotel: Hotel, db: Db
) -> None:
    body = encode(booking("B1"))
    response = hooks.post(
        f"/hooks/{hotel.tokens[0]}",
        content=body,
        headers=headers() | {"Authorization": "Bearer x", "X-Signature": "abc"},
    )
    assert (response.status_code, response.json()) == (200, {"status": "stored"})

    (item,) = stored(db)
    assert (item.status, item.source, item.attempts) == ("pending", "webhook", 0)
    assert item.body == body
    assert item.connection_id == hotel.connections[0]
    assert item.tenant_id == hotel.tenant_id
    assert item.dedupe_key.startswith("sha256:")
    assert item.headers[SECRET_HEADER] == "[redacted]"
    assert item.headers["authorization"] == "[redacted]"
    assert item.headers["x-signature"] == "abc"  # not a secret; lets an operator check again
    assert item.headers["content-type"] == "application/json"
    with db.sessions() as session:  # nothing is applied in the request
        assert reservations_of(session, hotel.property_id) == []


class _CommitFails(Session):
    def commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk full"))


def test_a_webhook_that_cannot_be_stored_is_not_acknowledged(
    db: Db, hotel: Hotel, secret_box: SecretBox, settings: Settings
) -> None:
    failing = sessionmaker(
        bind=db.connection, class_=_CommitFails, join_transaction_mode="create_savepoint"
    )
    app = hooks_app(failing, db.engine, secret_box, settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            f"/hooks/{hotel.tokens[0]}", content=encode(booking("B1")), headers=headers()
        )
    assert response.status_code == 500  # the channel will deliver it again
    assert stored(db) == []


def test_a_duplicate_is_answered_200_and_stored_once(
    hooks: TestClient, hotel: Hotel, db: Db
) -> None:
    body = encode(booking("B1"))
    first = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=headers())
    again = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=headers())
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"status": "duplicate"}
    assert len(stored(db)) == 1


@pytest.mark.parametrize("secret", ["wrong", None])
def test_a_bad_secret_is_refused_401_and_kept_for_audit(
    hooks: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox, secret: str | None
) -> None:
    body = encode(booking("B1"))
    sent = headers("wrong") if secret else {"content-type": "application/json"}
    response = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=sent)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the call could not be verified"

    (item,) = stored(db)
    assert item.status == "rejected"
    assert item.reason.startswith("verification failed: ")
    assert item.processed_at is not None
    assert item.body == body
    if secret:
        assert item.headers[SECRET_HEADER] == "[redacted]"
    # A genuine delivery of the same bytes afterwards is not taken for a duplicate.
    genuine = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=headers())
    assert genuine.json() == {"status": "stored"}
    # The refused call is never processed.
    Processing(db.sessions, secret_box).run()
    with db.sessions() as session:
        assert len(reservations_of(session, hotel.property_id)) == 1
        assert session.get_one(InboxItem, item.id).status == "rejected"


def test_a_refused_call_keeps_only_the_start_of_its_body(
    hooks: TestClient, hotel: Hotel, db: Db
) -> None:
    body = b"x" * (REJECTED_BODY_KEPT + 10)
    response = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=headers("wrong"))
    assert response.status_code == 401
    assert stored(db)[0].body == body[:REJECTED_BODY_KEPT]


def test_a_connection_without_a_webhook_secret_refuses_every_call(
    hooks: TestClient, db: Db, secret_box: SecretBox
) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, connections=0)
        connection = connect(
            session,
            secret_box,
            hotel.tenant_id,
            hotel.property_id,
            "No secret",
            FakeChannelConfig(),
        )
        token = connection.webhook_token
        session.commit()
    response = hooks.post(f"/hooks/{token}", content=b"{}", headers=headers())
    assert response.status_code == 401


@pytest.mark.parametrize("how", ["unknown", "disabled", "webhooks off", "too long"])
def test_unknown_or_switched_off_urls_are_404_without_detail(
    hooks: TestClient, hotel: Hotel, db: Db, how: str
) -> None:
    token = hotel.tokens[0]
    with db.sessions() as session:
        connection = session.get_one(Connection, hotel.connections[0])
        if how == "disabled":
            connection.state = "disabled"
        elif how == "webhooks off":
            connection.webhook_enabled = False
        session.commit()
    if how == "unknown":
        token = "no-such-token"
    elif how == "too long":
        token = token * 3
    response = hooks.post(f"/hooks/{token}", content=encode(booking("B1")), headers=headers())
    assert response.status_code == 404
    assert response.json()["detail"] == "not found"
    assert stored(db) == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_probe_of_the_url_is_answered_alike_for_every_token(
    hooks: TestClient, hotel: Hotel, db: Db, method: str
) -> None:
    answers = [
        hooks.request(method, f"/hooks/{token}")
        for token in (hotel.tokens[0], "no-such-token", hotel.tokens[0] * 3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    # Alike but for the request id every answer carries (it names the request, not the token).
    shapes = {
        (a.content, tuple(sorted((k, v) for k, v in a.headers.items() if k != "x-request-id")))
        for a in answers
    }
    assert len(shapes) == 1
    assert len({a.headers["x-request-id"] for a in answers}) == 3
    if method == "GET":
        assert answers[0].json() == {"status": "ok"}
    assert answers[0].headers["cache-control"] == "no-store"
    assert stored(db) == []


def test_an_oversize_body_is_refused_413_and_not_stored(
    hooks: TestClient, hotel: Hotel, db: Db
) -> None:
    body = b" " * (MAX_WEBHOOK_BYTES + 1)
    response = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=headers())
    assert response.status_code == 413
    assert str(MAX_WEBHOOK_BYTES) in response.json()["detail"]
    exactly = hooks.post(
        f"/hooks/{hotel.tokens[0]}", content=b" " * MAX_WEBHOOK_BYTES, headers=headers()
    )
    assert exactly.status_code == 200
    assert len(stored(db)) == 1


def test_a_chunked_oversize_body_is_refused_413(hooks: TestClient, hotel: Hotel, db: Db) -> None:
    chunks = (b" " * 100_000 for _ in range(11))
    response = hooks.post(f"/hooks/{hotel.tokens[0]}", content=chunks, headers=headers())
    assert response.status_code == 413
    assert stored(db) == []


# Fuzzing: whatever a verified channel sends, the route answers 200 (stored) or 4xx, and the
# processor settles the item without touching an existing reservation.

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["2030-06-01", "2030-06-01T10:00:00+00:00", "new", "DBL", "1e9999"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["booking_id", "revision_id", "status", "revised_at", "arrival", "departure"]
FIELDS += ["currency", "total", "guest", "rooms"]
ROOM_FIELDS = ["room_type", "rate_plan", "occupancy", "children", "prices"]


@st.composite
def mutated_bookings(draw: st.DrawFn) -> bytes:
    """A valid booking with one field (or one room field) replaced by any JSON value."""
    body: dict[str, Any] = booking(draw(st.sampled_from(["F1", "F2"])), draw(st.integers(2, 9)))
    value = draw(JSON)
    if draw(st.booleans()):
        body[draw(st.sampled_from(FIELDS))] = value
    else:
        body["rooms"][0][draw(st.sampled_from(ROOM_FIELDS))] = value
    return json.dumps(body).encode()


BODIES = (
    st.binary(max_size=300)
    | JSON.map(lambda value: json.dumps(value).encode())
    | mutated_bookings()
)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(body=BODIES, verified=st.booleans())
def test_no_body_breaks_ingress_or_processing(
    hooks: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox, body: bytes, verified: bool
) -> None:
    processing = Processing(db.sessions, secret_box)
    with db.sessions() as session:
        seeded = bool(reservations_of(session, hotel.property_id))
    if not seeded:
        processing.deliver(hotel.tokens[0], encode(booking("KEEP")))
        processing.run()
    with db.sessions() as session:
        before = _state(session, hotel)
    response = hooks.post(
        f"/hooks/{hotel.tokens[0]}", content=body, headers=headers() if verified else {}
    )
    assert response.status_code in ({200} if verified else {401}), response.text
    processing.run()

    with db.sessions() as session:
        last = session.scalars(select(InboxItem).order_by(InboxItem.id.desc())).first()
        assert last is not None
        assert last.status in {"applied", "ignored", "parked", "rejected"}
        assert session.scalar(select(func.count()).where(InboxItem.status == "pending")) == 0
        keep = next(
            r for r in reservations_of(session, hotel.property_id) if r.channel_booking_id == "KEEP"
        )
        assert snapshot(session, keep) == before["KEEP"]
        if last.status != "applied":
            assert _state(session, hotel) == before


def _state(session: Session, hotel: Hotel) -> dict[str, Any]:
    """Every reservation's snapshot by booking id, and the ledger."""
    state: dict[str, Any] = {
        str(r.channel_booking_id): snapshot(session, r)
        for r in reservations_of(session, hotel.property_id)
    }
    state["ledger"] = ledger_of(session, hotel)
    return state


def test_a_connection_made_through_the_api_receives_bookings(
    client: TestClient, db: Db, secret_box: SecretBox
) -> None:
    from tests.api.helpers import make_hotel as make_api_hotel
    from tests.api.helpers import new_tenant, ok

    app = client.app
    assert isinstance(app, FastAPI)
    if not any(getattr(route, "path", "") == "/hooks/{token}" for route in app.routes):
        app.include_router(hooks_router)
    caller = new_tenant(db.sessions)
    hotel = make_api_hotel(client, caller, units=1)
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "OTA", "config": {"webhook_secret": "s3cr3t"}},
            headers=caller.headers,
        ),
        201,
    )
    assert "receives_webhooks" in connection["capabilities"]
    ok(
        client.put(
            f"/api/v1/connections/{connection['id']}/mappings",
            json={
                "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "DBL"}],
                "rate_plans": [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "DBL-BAR"}],
            },
            headers=caller.headers,
        )
    )
    body = encode(booking("API-1"))
    refused = client.post(connection["webhook_path"], content=body, headers=headers())
    assert refused.status_code == 401  # the secret set through the API is the one checked
    sent = client.post(connection["webhook_path"], content=body, headers=headers("s3cr3t"))
    assert sent.json() == {"status": "stored"}

    Processing(db.sessions, secret_box).run()
    listed = ok(
        client.get(f"/api/v1/properties/{hotel.property_id}/reservations", headers=caller.headers)
    )
    assert [
        (r["channel_booking_id"], r["source"], r["connection_id"], r["status"])
        for r in listed["items"]
    ] == [("API-1", "fake", connection["id"], "confirmed")]


def test_adapters_built_at_ingress_cannot_call_the_channel() -> None:
    from innsync.api.routers.hooks import _RefuseCalls

    async def call() -> None:
        async with httpx.AsyncClient(transport=_RefuseCalls()) as client:
            await client.get("https://channel.example/booking")

    with pytest.raises(RuntimeError, match="no channel may be called"):
        asyncio.run(call())
