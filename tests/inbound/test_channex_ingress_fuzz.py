"""Fuzzed Channex webhooks and fuzzed revisions behind them: a clear answer at the door, a
readable outcome in the inbox, never a 5xx, never a changed reservation unless applied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select

from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.channels.channex.webhooks import SECRET_HEADER
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.inbox.models import InboxItem
from innsync.settings import Settings
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, hooks_app, make_hotel, map_all
from tests.inbound.test_ingress import JSON

SECRET = "channex-fuzz-secret"
PROPERTY = "9d7f3a70-5c1e-4c5e-8f5a-2d3b1c0e9a11"


def revision_resource(revision_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "booking_revision", "id": revision_id, "attributes": attributes}}


VALID_ATTRIBUTES: dict[str, Any] = {
    "booking_id": "BKG-1",
    "property_id": PROPERTY,
    "status": "new",
    "arrival_date": "2030-06-01",
    "departure_date": "2030-06-03",
    "amount": "200.00",
    "currency": "EUR",
    "customer": {"name": "Ada", "surname": "Lovelace", "mail": "ada@example.com"},
    "rooms": [
        {
            "room_type_id": "DBL",
            "rate_plan_id": "DBL-BAR",
            "days": {"2030-06-01": "100.00", "2030-06-02": "100.00"},
            "occupancy": {"adults": 2, "children": 0, "infants": 0},
        }
    ],
    "inserted_at": "2030-01-01T10:00:00.123456",
}
ATTRIBUTE_FIELDS = [*sorted(VALID_ATTRIBUTES), "rooms.0.days", "rooms.0.occupancy", "id"]
EVENTS = st.sampled_from(
    ["booking", "booking_new", "non_acked_booking", "sync_error", "ari", "unknown", ""]
)


@st.composite
def revisions(draw: st.DrawFn) -> dict[str, Any]:
    """The revision Channex answers with: valid, or with one field replaced by any JSON."""
    attributes = json.loads(json.dumps(VALID_ATTRIBUTES))
    if draw(st.booleans()):
        field = draw(st.sampled_from(ATTRIBUTE_FIELDS))
        value = draw(JSON)
        if field.startswith("rooms.0."):
            attributes["rooms"][0][field.removeprefix("rooms.0.")] = value
        else:
            attributes[field] = value
    return attributes


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    payload = draw(
        st.fixed_dictionaries({"revision_id": st.sampled_from(["REV-1", "REV-2"])})
        | JSON.map(lambda value: {"revision_id": value})
        | JSON
    )
    body = {"event": draw(EVENTS), "payload": payload, "property_id": PROPERTY}
    return json.dumps(body).encode()


BODIES = st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()) | envelopes()
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=1, mapped=False)
        connection = session.get_one(Connection, made.connections[0])
        connection.channel = "channex"
        connection.config_encrypted = secret_box.encrypt(config().model_dump_json())
        map_all(session, made, connection.id)
        session.commit()
    return made


@pytest.fixture
def hooks(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[TestClient]:
    with TestClient(hooks_app(db.sessions, db.engine, secret_box, settings)) as client:
        yield client


def config() -> ChannexConfig:
    return ChannexConfig(
        base_url="http://channex.fuzz/api/v1",
        api_key=SecretStr("fuzz-key"),
        property_id=PROPERTY,
        webhook_secret=SecretStr(SECRET),
    )


def answering(revision: dict[str, Any]) -> ChannexAdapter:
    """The adapter, against a Channex that answers every revision fetch with ``revision``."""

    def channex(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ack"):
            return httpx.Response(200, json={"meta": {"message": "Success"}})
        revision_id = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json=revision_resource(revision_id, revision))

    return ChannexAdapter(config(), httpx.AsyncClient(transport=httpx.MockTransport(channex)))


def test_the_unfuzzed_trigger_applies_a_booking(
    hooks: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    """The fuzz below starts from a message that really books (so it fuzzes the real path)."""
    processing = Processing(db.sessions, secret_box, adapter=answering(VALID_ATTRIBUTES))
    body = {"event": "booking", "payload": {"revision_id": "REV-1"}, "property_id": PROPERTY}
    response = hooks.post(
        f"/hooks/{hotel.tokens[0]}", content=json.dumps(body), headers={SECRET_HEADER: SECRET}
    )
    assert response.status_code == 200
    processing.run()
    with db.sessions() as session:
        item = session.scalars(select(InboxItem)).one()
        assert (item.status, item.reason, item.ack_status) == ("applied", "created", "done")


@FUZZ
@given(body=BODIES, answer=revisions(), verified=st.booleans())
def test_no_channex_webhook_or_revision_breaks_ingress_or_processing(
    hooks: TestClient,
    hotel: Hotel,
    db: Db,
    secret_box: SecretBox,
    body: bytes,
    answer: dict[str, Any],
    verified: bool,
) -> None:
    processing = Processing(db.sessions, secret_box, adapter=answering(answer))
    with db.sessions() as session:
        before = session.scalar(select(func.count()).select_from(InboxItem))
    sent = {SECRET_HEADER: SECRET} if verified else {}
    response = hooks.post(f"/hooks/{hotel.tokens[0]}", content=body, headers=sent)
    assert response.status_code in ({200} if verified else {401}), response.text
    processing.run()

    with db.sessions() as session:
        last = session.scalars(select(InboxItem).order_by(InboxItem.id.desc())).first()
        assert last is not None
        assert session.scalar(select(func.count()).select_from(InboxItem)) >= (before or 0)
        assert last.status in {"applied", "ignored", "parked", "rejected"}
        assert session.scalar(select(func.count()).where(InboxItem.status == "pending")) == 0
        if last.status == "rejected":
            assert last.reason
