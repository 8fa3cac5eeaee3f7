"""Events reach the PMS: a gap-free feed, and signed webhook deliveries retried until accepted."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient

from innsync.crypto import SecretBox, sign
from innsync.db.engine import transaction
from innsync.events.delivery import (
    DELIVERY_FAILED,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    deliver_due,
)
from innsync.events.service import sequence_pending
from tests.api.helpers import day, make_hotel, new_tenant, ok
from tests.conftest import Db


def test_signed_delivery_is_retried_with_backoff_until_accepted(
    client: TestClient, db: Db, secret_box: SecretBox
) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    subscription = ok(
        client.post(
            "/api/v1/webhook-subscriptions",
            json={"url": "https://pms.example/hooks", "kinds": ["reservation.created"]},
            headers=caller.headers,
        ),
        201,
    )
    booking = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(1),
                "departure": day(2),
                "rooms": [
                    {
                        "room_type_id": hotel.room_type_id,
                        "rate_plan_id": hotel.rate_plan_id,
                        "adults": 1,
                    }
                ],
            },
            headers=caller.headers,
        ),
        201,
    )
    ok(client.post(f"/api/v1/reservations/{booking['id']}/cancel", headers=caller.headers))

    received: list[httpx.Request] = []
    answers = iter([500, 204])

    def pms(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(next(answers))

    http = httpx.Client(transport=httpx.MockTransport(pms))
    with transaction(db.sessions) as session:
        assert sequence_pending(session) == 2  # created and cancelled; only one is subscribed to
    now = datetime.now(UTC)
    rng = random.Random(7)
    assert (
        deliver_due(
            db.sessions, http, secret_box, max_attempts=5, timeout_seconds=5, rng=rng, now=now
        )
        == 1
    )
    deliveries = ok(
        client.get(
            f"/api/v1/webhook-subscriptions/{subscription['id']}/deliveries", headers=caller.headers
        )
    )
    # A failure reads the same whatever the endpoint did (see DELIVERY_FAILED): no status code.
    assert [
        (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) for d in deliveries
    ] == [("pending", 1, None, DELIVERY_FAILED)]
    # Not due yet: nothing is sent before the backoff has passed.
    assert (
        deliver_due(
            db.sessions, http, secret_box, max_attempts=5, timeout_seconds=5, rng=rng, now=now
        )
        == 0
    )
    later = now + timedelta(hours=1)
    assert (
        deliver_due(
            db.sessions, http, secret_box, max_attempts=5, timeout_seconds=5, rng=rng, now=later
        )
        == 1
    )
    deliveries = ok(
        client.get(
            f"/api/v1/webhook-subscriptions/{subscription['id']}/deliveries", headers=caller.headers
        )
    )
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in deliveries] == [
        ("delivered", 2, 204)
    ]

    assert len(received) == 2
    last = received[-1]
    body = last.content
    timestamp = last.headers[TIMESTAMP_HEADER]
    expected = "v1=" + sign(subscription["secret"], f"{timestamp}.".encode() + body)
    assert last.headers[SIGNATURE_HEADER] == expected
    document = json.loads(body)
    assert (document["kind"], document["subject_id"]) == ("reservation.created", booking["id"])


def test_feed_pages_in_order_without_gaps(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller, units=10)
    for offset in range(5):
        ok(
            client.post(
                f"/api/v1/properties/{hotel.property_id}/reservations",
                json={
                    "arrival": day(offset + 1),
                    "departure": day(offset + 2),
                    "rooms": [{"room_type_id": hotel.room_type_id, "adults": 1, "amount": "10.00"}],
                },
                headers=caller.headers,
            ),
            201,
        )
    seen: list[int] = []
    after = 0
    while True:
        page = ok(
            client.get(
                "/api/v1/events", params={"after": after, "limit": 2}, headers=caller.headers
            )
        )
        if not page["events"]:
            break
        seen.extend(event["position"] for event in page["events"])
        after = page["next_after"]
    assert len(seen) == 5
    assert seen == sorted(seen)
    assert len(set(seen)) == 5


def test_secrets_are_encrypted_at_rest_and_survive_key_rotation(client: TestClient, db: Db) -> None:
    from sqlalchemy import select

    from innsync.crypto import generate_key
    from innsync.events.models import WebhookSubscription
    from innsync.rotation import rotate_secrets

    caller = new_tenant(db.sessions)
    created = ok(
        client.post(
            "/api/v1/webhook-subscriptions",
            json={"url": "https://pms.example/hooks", "secret": "s3cret-value-for-the-pms-0001"},
            headers=caller.headers,
        ),
        201,
    )
    with db.sessions() as session:
        stored = session.scalars(select(WebhookSubscription.secret_encrypted)).one()
    assert "s3cret-value-for-the-pms-0001" not in stored
    assert created["secret"] == "s3cret-value-for-the-pms-0001"  # shown once, to the caller
    # Stored under an old key; a new key is put first and every secret is rotated to it.
    old_key, new_key = generate_key(), generate_key()
    with transaction(db.sessions) as session:
        row = session.scalars(select(WebhookSubscription)).one()
        row.secret_encrypted = SecretBox([old_key]).encrypt("s3cret-value-for-the-pms-0001")
    rotating = SecretBox([new_key, old_key])
    with transaction(db.sessions) as session:
        assert rotate_secrets(session, rotating) == 1
    with db.sessions() as session:
        rotated = session.scalars(select(WebhookSubscription.secret_encrypted)).one()
    assert SecretBox([new_key]).decrypt(rotated) == "s3cret-value-for-the-pms-0001"
