"""Fuzzed Aiosell reservation pushes through ``POST /hooks/{token}``: never a 5xx, always kept
for audit, a readable outcome in the inbox, and the answer Aiosell documents when readable."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select

from innsync.channels.aiosell import AiosellConfig
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.inbox.models import InboxItem
from innsync.reservations.models import Reservation
from innsync.settings import Settings
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, hooks_app, make_hotel, map_all
from tests.inbound.test_ingress import JSON

HOOK_USER, HOOK_PASSWORD = "aiosell", "aiosell-fuzz-password"
AUTH = {
    "authorization": "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
}

VALID: dict[str, Any] = {
    "action": "book",
    "hotelCode": "SANDBOX-PMS",
    "channel": "Goibibo",
    "bookingId": "GO1234567",
    "cmBookingId": "AIO-98765",
    "bookedOn": "2030-02-20 14:03:11",
    "checkin": "2030-03-01",
    "checkout": "2030-03-03",
    "segment": "OTA",
    "specialRequests": "Late check-in",
    "pah": False,
    "amount": {
        "amountAfterTax": 8400.0,
        "amountBeforeTax": 7500.0,
        "tax": 900.0,
        "currency": "EUR",
    },
    "guest": {
        "firstName": "Asha",
        "lastName": "Rao",
        "email": "guest@example.com",
        "phone": "+910000000000",
        "address": {"line1": "1 Main Rd", "city": "Pune", "state": "MH", "country": "India"},
    },
    "rooms": [
        {
            "roomCode": "DBL",
            "rateplanCode": "DBL-BAR",
            "guestName": "Asha Rao",
            "occupancy": {"adults": 2, "children": 0},
            "prices": [
                {"date": "2030-03-01", "sellRate": 3750.0},
                {"date": "2030-03-02", "sellRate": 3750.0},
            ],
        }
    ],
}
SHORT_CANCEL = {"action": "cancel", "hotelCode": "SANDBOX-PMS", "channel": "Goibibo"}
FIELDS = [*sorted(VALID), "rooms.0.prices", "rooms.0.occupancy", "rooms.0.roomCode", "amount.tax"]


@st.composite
def reservations(draw: st.DrawFn) -> bytes:
    """A §1.10 push, valid or a short cancel, with one field replaced by any JSON (or none)."""
    body = json.loads(json.dumps(VALID))
    if draw(st.booleans()):
        body = {**SHORT_CANCEL, "bookingId": draw(st.sampled_from(["GO1234567", "GO7"]))}
    if draw(st.booleans()):
        field, value = draw(st.sampled_from(FIELDS)), draw(JSON)
        parent, _, key = field.rpartition(".")
        target: Any = body
        for step in parent.split(".") if parent else ():
            if isinstance(target, list) and target:
                target = target[int(step)]
            elif isinstance(target, dict):
                target = target.get(step)
            else:
                target = None
        if isinstance(target, dict):
            target[key] = value
    if draw(st.booleans()):
        body["action"] = draw(st.sampled_from(["book", "modify", "cancel", "BOOK", "noshow"]))
    return json.dumps(body).encode()


BODIES = st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()) | reservations()
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def config() -> AiosellConfig:
    return AiosellConfig(
        base_url="http://aiosell.fuzz/api/v2/cm",
        partner="sample-pms",
        hotel_code="SANDBOX-PMS",
        username="sample-pms",
        password=SecretStr("unused"),
        currency="EUR",
        webhook_username=HOOK_USER,
        webhook_password=SecretStr(HOOK_PASSWORD),
    )


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=1, mapped=False)
        connection = session.get_one(Connection, made.connections[0])
        connection.channel = "aiosell"
        connection.config_encrypted = secret_box.encrypt(config().model_dump_json())
        map_all(session, made, connection.id)
        session.commit()
    return made


@pytest.fixture
def hooks(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[TestClient]:
    with TestClient(hooks_app(db.sessions, db.engine, secret_box, settings)) as client:
        yield client


def test_the_unfuzzed_push_books_and_gets_the_documented_answer(
    hooks: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    """The fuzz below starts from pushes that really book and cancel (the real path)."""
    processing = Processing(db.sessions, secret_box)
    url = f"/hooks/{hotel.tokens[0]}"
    booked = hooks.post(url, content=json.dumps(VALID), headers=AUTH)
    assert (booked.status_code, booked.json()) == (
        200,
        {"success": True, "message": "Reservation Updated Successfully"},
    )
    again = hooks.post(url, content=json.dumps(VALID), headers=AUTH)
    assert again.json() == booked.json()  # a redelivery: stored once, answered the same
    processing.run()
    cancel = {**SHORT_CANCEL, "bookingId": VALID["bookingId"]}
    assert hooks.post(url, content=json.dumps(cancel), headers=AUTH).status_code == 200
    processing.run()
    with db.sessions() as session:
        statuses = [i.status for i in session.scalars(select(InboxItem).order_by(InboxItem.id))]
        reservation = session.scalars(select(Reservation)).one()
    assert statuses == ["applied", "applied"]
    assert (reservation.status, str(reservation.arrival)) == ("cancelled", "2030-03-01")


@FUZZ
@given(body=BODIES, verified=st.booleans())
def test_no_aiosell_push_breaks_ingress_or_processing(
    hooks: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox, body: bytes, verified: bool
) -> None:
    processing = Processing(db.sessions, secret_box)
    with db.sessions() as session:
        before = session.scalar(select(func.count()).select_from(InboxItem)) or 0
    response = hooks.post(
        f"/hooks/{hotel.tokens[0]}", content=body, headers=AUTH if verified else {}
    )
    assert response.status_code < 500, response.text
    assert response.status_code in ({200, 400} if verified else {401}), response.text
    processing.run()

    with db.sessions() as session:
        # Bodies are encrypted at rest (never equal in SQL): compared once read back.
        kept = [
            item
            for item in session.scalars(select(InboxItem).order_by(InboxItem.id))
            if item.body == body
        ]
        # Kept for audit: every call is stored (a verified duplicate was stored before).
        assert session.scalar(select(func.count()).select_from(InboxItem)) >= before
        assert kept
        assert session.scalar(select(func.count()).where(InboxItem.status == "pending")) == 0
        for item in kept:
            assert item.status in {"applied", "ignored", "parked", "rejected"}
            if item.status == "rejected":
                assert item.reason
        if verified and response.status_code == 400:
            # Answered "not understood": the processor could not read it either.
            assert response.json()["success"] is False
            assert {item.status for item in kept} == {"rejected"}
        if verified and response.status_code == 200:
            assert response.json() == {
                "success": True,
                "message": "Reservation Updated Successfully",
            }
