"""/api/v1/notification-targets: create, read, change, test and remove a tenant's targets."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from innsync.alerts.models import NotificationTarget
from innsync.crypto import SecretBox
from tests.api.helpers import new_tenant, ok, problem
from tests.conftest import Db

URL = "/api/v1/notification-targets"


def test_crud_of_targets(client: TestClient, db: Db, secret_box: SecretBox) -> None:
    a, b = new_tenant(db.sessions, "A"), new_tenant(db.sessions, "B")
    slack_url = "https://hooks.slack.example/services/T0/B0/secret-part"
    created = ok(
        client.post(
            URL,
            json={
                "kind": "webhook",
                "name": "ops",
                "address": "https://ops.example/alerts?token=abc",
                "rules": ["overbooking", "channel_down"],
            },
            headers=a.headers,
        ),
        201,
    )
    assert len(created["secret"]) >= 32
    # An URL is shown by its host only; stored encrypted.
    assert created["address"] == "https://ops.example/…"
    assert (created["rules"], created["min_severity"]) == (
        ["channel_down", "overbooking"],
        "warning",
    )
    slack = ok(
        client.post(
            URL,
            json={
                "kind": "slack",
                "name": "chat",
                "address": slack_url,
                "min_severity": "critical",
            },
            headers=a.headers,
        ),
        201,
    )
    assert slack["secret"] is None
    with db.sessions() as session:
        stored = session.get_one(NotificationTarget, uuid.UUID(created["id"]))
        assert "ops.example" not in stored.address_encrypted
        assert (
            secret_box.decrypt(stored.address_encrypted) == "https://ops.example/alerts?token=abc"
        )

    listed = ok(client.get(URL, headers=a.headers))
    assert [t["name"] for t in listed] == ["ops", "chat"]
    assert ok(client.get(URL, headers=b.headers)) == []
    problem(client.get(f"{URL}/{created['id']}", headers=b.headers), 404)

    changed = ok(
        client.patch(
            f"{URL}/{created['id']}", json={"is_active": False, "rules": []}, headers=a.headers
        )
    )
    assert (changed["is_active"], changed["rules"]) == (False, [])

    # The test message goes out now; a host that does not resolve is not delivered.
    tested = ok(client.post(f"{URL}/{slack['id']}/test", headers=a.headers))
    assert tested == {"delivered": False, "error": "the URL did not answer with a 2xx status"}

    assert client.delete(f"{URL}/{created['id']}", headers=a.headers).status_code == 204
    problem(client.get(f"{URL}/{created['id']}", headers=a.headers), 404)
    with db.sessions() as session:
        assert len(list(session.scalars(select(NotificationTarget)))) == 1


def test_bad_targets_are_422(client: TestClient, db: Db) -> None:
    a = new_tenant(db.sessions, "A")
    cases = [
        ({"kind": "email", "name": "x", "address": "not-an-address"}, "e-mail address"),
        ({"kind": "slack", "name": "x", "address": "ftp://x.example"}, "http(s) URL"),
        ({"kind": "slack", "name": "x", "address": "https://x.example", "secret": "s" * 20}, ""),
        ({"kind": "webhook", "name": "x", "address": "https://x.example", "rules": ["nope"]}, ""),
    ]
    for body, fragment in cases:
        answer = problem(client.post(URL, json=body, headers=a.headers), 422)
        assert fragment in str(answer), answer
    # The installation has no SMTP server: an e-mail target is refused, saying so.
    problem(
        client.post(
            URL, json={"kind": "email", "name": "x", "address": "a@b.example"}, headers=a.headers
        ),
        422,
        "sends no e-mail",
    )
    # The outbound policy refuses link-local (the cloud metadata address).
    problem(
        client.post(
            URL,
            json={"kind": "webhook", "name": "x", "address": "http://169.254.169.254/latest"},
            headers=a.headers,
        ),
        422,
        "does not deliver to that URL",
    )
