"""Resending a webhook delivery: the same event queued again, durably, never a second pending
copy (``POST /webhook-subscriptions/{id}/deliveries/{delivery_id}/resend``)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.delivery import EVENT_ID_HEADER, deliver_due
from innsync.events.models import WebhookDelivery
from innsync.events.service import sequence_pending
from tests.api.helpers import Caller, day, make_hotel, new_tenant, ok, problem
from tests.conftest import Db


def subscribed_booking(client: TestClient, caller: Caller) -> dict[str, Any]:
    """A subscription to bookings made, and one booking made (one event to deliver)."""
    hotel = make_hotel(client, caller)
    subscription = ok(
        client.post(
            "/api/v1/webhook-subscriptions",
            json={"url": "https://pms.example/hooks", "kinds": ["reservation.created"]},
            headers=caller.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(1),
                "departure": day(2),
                "rooms": [{"room_type_id": hotel.room_type_id, "adults": 1, "amount": "80.00"}],
            },
            headers=caller.headers,
        ),
        201,
    )
    return dict(subscription)


def deliveries(client: TestClient, caller: Caller, subscription_id: str) -> list[dict[str, Any]]:
    path = f"/api/v1/webhook-subscriptions/{subscription_id}/deliveries"
    return list(ok(client.get(path, headers=caller.headers)))


def test_a_failed_delivery_is_resent_once_with_the_same_event(
    client: TestClient, db: Db, secret_box: SecretBox
) -> None:
    caller = new_tenant(db.sessions)
    subscription = subscribed_booking(client, caller)
    received: list[httpx.Request] = []
    answers = iter([500, 204])

    def pms(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(next(answers))

    http = httpx.Client(transport=httpx.MockTransport(pms))
    with transaction(db.sessions) as session:
        assert sequence_pending(session) == 1
    now = datetime.now(UTC)

    def deliver(at: datetime) -> int:
        return deliver_due(
            db.sessions,
            http,
            secret_box,
            max_attempts=1,
            timeout_seconds=5,
            rng=random.Random(3),
            now=at,
        )

    assert deliver(now) == 1  # one attempt allowed: it fails for good
    [failed] = deliveries(client, caller, subscription["id"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)

    base = f"/api/v1/webhook-subscriptions/{subscription['id']}/deliveries"
    resend = f"{base}/{failed['id']}/resend"
    queued = ok(client.post(resend, headers=caller.headers), 202)
    assert queued["id"] != failed["id"]
    assert (queued["event_id"], queued["status"], queued["attempts"]) == (
        failed["event_id"],
        "pending",
        0,
    )
    # Asked again (a double click, a retried request): the pending one, not a second copy.
    again = ok(client.post(resend, headers=caller.headers), 200)
    assert again["id"] == queued["id"]
    from_pending = f"{base}/{queued['id']}/resend"
    assert ok(client.post(from_pending, headers=caller.headers), 200)["id"] == queued["id"]
    with db.sessions() as session:
        rows = session.scalars(
            select(WebhookDelivery.status).where(WebhookDelivery.event_id == failed["event_id"])
        ).all()
    assert sorted(rows) == ["failed", "pending"]

    assert deliver(now + timedelta(seconds=1)) == 1
    assert [(d["id"], d["status"]) for d in deliveries(client, caller, subscription["id"])] == [
        (queued["id"], "delivered"),
        (failed["id"], "failed"),
    ]
    first, second = received
    assert first.headers[EVENT_ID_HEADER] == second.headers[EVENT_ID_HEADER]
    assert first.content == second.content  # the same event, byte for byte
    assert json.loads(second.content)["kind"] == "reservation.created"

    # A delivered event may be resent too (the PMS lost it): a new pending delivery.
    resent = ok(client.post(from_pending, headers=caller.headers), 202)
    assert resent["id"] not in (queued["id"], failed["id"])


def test_resend_refusals(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    subscription = subscribed_booking(client, caller)
    ok(client.get("/api/v1/events", headers=caller.headers))  # sequenced: one delivery
    [delivery] = deliveries(client, caller, subscription["id"])
    base = f"/api/v1/webhook-subscriptions/{subscription['id']}/deliveries"

    unknown = client.post(f"{base}/{delivery['id'] + 1000}/resend", headers=caller.headers)
    problem(unknown, 404, f"delivery {delivery['id'] + 1000}", "not found")
    problem(client.post(f"{base}/0/resend", headers=caller.headers), 422)
    problem(client.post(f"{base}/abc/resend", headers=caller.headers), 422)

    reader = new_tenant(db.sessions, "Readers", scopes=["read", "write"])
    problem(client.post(f"{base}/{delivery['id']}/resend", headers=reader.headers), 403)

    ok(
        client.delete(
            f"/api/v1/webhook-subscriptions/{subscription['id']}", headers=caller.headers
        ),
        204,
    )
    refused = client.post(f"{base}/{delivery['id']}/resend", headers=caller.headers)
    problem(refused, 409, "deactivated")
    assert [d["status"] for d in deliveries(client, caller, subscription["id"])] == ["failed"]
