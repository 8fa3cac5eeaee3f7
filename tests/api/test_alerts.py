"""GET /api/v1/alerts: a tenant's alerts only, newest first, filtered by state, rule and since."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from innsync.alerts.models import Alert, AlertState
from innsync.alerts.rules import AlertRule
from tests.api.helpers import new_tenant, ok, problem
from tests.conftest import Db

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _alert(tenant_id: str, rule: AlertRule, opened: datetime, resolved: datetime | None) -> Alert:
    subject = str(uuid.uuid4())
    return Alert(
        tenant_id=uuid.UUID(tenant_id),
        rule=rule,
        subject_kind="connection",
        subject_id=subject,
        state=AlertState.RESOLVED if resolved else AlertState.OPEN,
        open_key=None if resolved else f"{rule}:connection:{subject}",
        opened_at=opened,
        last_seen_at=resolved or opened,
        resolved_at=resolved,
        details={"down_minutes": 7.0},
    )


def test_lists_own_alerts_with_filters(client: TestClient, db: Db) -> None:
    a, b = new_tenant(db.sessions, "A"), new_tenant(db.sessions, "B")
    with db.sessions() as session:
        session.add_all(
            [
                _alert(a.tenant_id, AlertRule.CHANNEL_DOWN, T0, T0 + timedelta(minutes=30)),
                _alert(a.tenant_id, AlertRule.CHANNEL_DOWN, T0 + timedelta(hours=2), None),
                _alert(a.tenant_id, AlertRule.BACKLOG, T0 + timedelta(hours=3), None),
                _alert(b.tenant_id, AlertRule.BACKLOG, T0, None),
            ]
        )
        session.commit()

    every = ok(client.get("/api/v1/alerts", headers=a.headers))
    assert [(x["rule"], x["state"]) for x in every] == [
        ("backlog_high", "open"),
        ("channel_down", "open"),
        ("channel_down", "resolved"),
    ]
    assert every[2]["resolved_at"] == "2026-03-10T12:30:00Z"
    assert every[2]["details"] == {"down_minutes": 7.0}

    def rules(**params: str) -> list[tuple[str, str]]:
        found = ok(client.get("/api/v1/alerts", params=params, headers=a.headers))
        return [(x["rule"], x["state"]) for x in found]

    assert rules(state="resolved") == [("channel_down", "resolved")]
    assert rules(rule="channel_down", state="open") == [("channel_down", "open")]
    # Since 13:00: the alert resolved at 12:30 is left out; open ones stay.
    assert rules(since="2026-03-10T13:00:00Z") == [
        ("backlog_high", "open"),
        ("channel_down", "open"),
    ]
    assert len(ok(client.get("/api/v1/alerts", params={"limit": 1}, headers=a.headers))) == 1
    # Tenant B sees its own alert only.
    assert [x["rule"] for x in ok(client.get("/api/v1/alerts", headers=b.headers))] == [
        "backlog_high"
    ]


def test_bad_filters_are_422(client: TestClient, db: Db) -> None:
    a = new_tenant(db.sessions, "A")
    for params in ({"rule": "nope"}, {"state": "closed"}, {"since": "2026-03-10T13:00:00"}):
        problem(client.get("/api/v1/alerts", params=params, headers=a.headers), 422)
