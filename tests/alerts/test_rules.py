"""Each alert rule opens once while its condition holds, is not re-opened while it persists, and
resolves itself when it clears; time is a fixed instant moved by hand, never today's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.alerts.models import Alert, AlertState
from innsync.alerts.rules import AlertRule, Finding, global_thresholds
from innsync.alerts.service import evaluate, open_alert, resolve_alert, set_threshold
from innsync.connections.models import Connection, ConnectionState
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.events import kinds
from innsync.events.models import DeliveryStatus, Event, WebhookDelivery
from innsync.events.schemas import SubscriptionCreate
from innsync.events.service import create_subscription
from innsync.inbox.models import PullCursor
from innsync.outbox.models import DirtyMark
from innsync.settings import Settings
from innsync.sync.models import SyncLogEntry
from tests.conftest import Db
from tests.sync.engine_fixtures import HotelRows, create_hotel_rows

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
THRESHOLDS = global_thresholds(Settings(database_url="sqlite://"))


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> HotelRows:
    return create_hotel_rows(db.sessions, secret_box, ConnectionCreate(channel="fake", name="F"))


def log(session: Session, rows: HotelRows, at: datetime, outcome: str, count: int = 1) -> None:
    for _ in range(count):
        session.add(
            SyncLogEntry(
                connection_id=rows.connection_id,
                kind="availability",
                entries=1,
                request_bytes=10,
                outcome=outcome,
                duration_ms=5,
                created_at=at,
            )
        )
    session.flush()


def marks(session: Session, rows: HotelRows, count: int) -> None:
    session.execute(
        insert(DirtyMark),
        [
            {
                "connection_id": rows.connection_id,
                "kind": "availability",
                "subject_id": rows.room_type_ids[0],
                "start": date(2026, 4, 1),
                "end": date(2026, 4, 2),
                "created_at": T0,
            }
            for _ in range(count)
        ],
    )


def set_state(session: Session, rows: HotelRows, state: ConnectionState) -> None:
    session.execute(
        update(Connection).where(Connection.id == rows.connection_id).values(state=state)
    )


@dataclass
class Scenario:
    """How to make a rule's condition hold at a time, and how to clear it (by T0 + 2 min)."""

    rule: AlertRule
    hold: Callable[[Session, HotelRows, SecretBox, datetime], None]
    clear: Callable[[Session, HotelRows, SecretBox], None]


def _failing_delivery(session: Session, rows: HotelRows, box: SecretBox, now: datetime) -> None:
    subscription, _ = create_subscription(
        session, box, rows.tenant_id, SubscriptionCreate(url="https://pms.example.com/hook")
    )
    event = Event(tenant_id=rows.tenant_id, kind=kinds.RESERVATION_CREATED, payload={})
    session.add(event)
    session.flush()
    session.add(
        WebhookDelivery(
            subscription_id=subscription.id,
            event_id=event.id,
            status=DeliveryStatus.PENDING,
            attempts=2,
            last_status_code=503,
            last_error="HTTP 503",
            next_attempt_at=T0,
            created_at=now - timedelta(minutes=10),
        )
    )
    session.flush()


def pull_failures(session: Session, rows: HotelRows, failures: int) -> None:
    cursor = session.get(PullCursor, rows.connection_id) or PullCursor(
        connection_id=rows.connection_id, tenant_id=rows.tenant_id, next_pull_at=T0
    )
    cursor.failures = failures
    session.add(cursor)
    session.flush()


SCENARIOS = [
    Scenario(
        AlertRule.SYNC_SUCCESS,
        # 18 of 20 accepted in the hour: 90 % < 95 %.
        lambda s, r, _b, now: (
            log(s, r, now - timedelta(minutes=30), "accepted", 18),
            log(s, r, now - timedelta(minutes=20), "rejected", 2),
        ),
        # 48 of 50: 96 %.
        lambda s, r, _b: log(s, r, T0 + timedelta(seconds=30), "accepted", 30),
    ),
    Scenario(
        AlertRule.BACKLOG,
        lambda s, r, _b, _now: marks(s, r, 1001),
        lambda s, r, _b: s.execute(
            delete(DirtyMark).where(DirtyMark.id == s.scalar(select(func.min(DirtyMark.id))))
        ),
    ),
    Scenario(
        AlertRule.CHANNEL_DOWN,
        # Answered 20 minutes ago, failing since 6 minutes ago: down > 5 minutes.
        lambda s, r, _b, now: (
            log(s, r, now - timedelta(minutes=20), "accepted"),
            log(s, r, now - timedelta(minutes=6), "unavailable"),
            log(s, r, now - timedelta(minutes=1), "auth"),
        ),
        lambda s, r, _b: log(s, r, T0 + timedelta(seconds=30), "accepted"),
    ),
    Scenario(
        AlertRule.NEEDS_ATTENTION,
        lambda s, r, _b, _now: set_state(s, r, ConnectionState.NEEDS_ATTENTION),
        lambda s, r, _b: set_state(s, r, ConnectionState.CONNECTED),
    ),
    Scenario(
        AlertRule.WEBHOOKS_FAILING,
        _failing_delivery,
        lambda s, _r, _b: s.execute(
            update(WebhookDelivery).values(status=DeliveryStatus.DELIVERED, delivered_at=T0)
        ),
    ),
    Scenario(
        AlertRule.PULL_FAILING,
        lambda s, r, _b, _now: pull_failures(s, r, 3),
        lambda s, r, _b: pull_failures(s, r, 0),
    ),
]


def alerts_of(session: Session, tenant_id: uuid.UUID, rule: str | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.tenant_id == tenant_id).order_by(Alert.opened_at)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    return list(session.scalars(query))


def events_of(session: Session, tenant_id: uuid.UUID, kind: str, rule: str) -> int:
    """Events of a kind about one rule's alerts (payloads are encrypted: read in Python)."""
    query = select(Event).where(Event.tenant_id == tenant_id, Event.kind == kind)
    return sum(1 for event in session.scalars(query) if event.payload["rule"] == rule)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: str(s.rule))
def test_rule_opens_once_persists_resolves_and_reopens(
    db: Db, secret_box: SecretBox, hotel: HotelRows, scenario: Scenario
) -> None:
    rule = scenario.rule
    with db.sessions() as session:
        evaluate(session, T0, THRESHOLDS)
        assert alerts_of(session, hotel.tenant_id) == []  # nothing holds on a quiet hotel

        scenario.hold(session, hotel, secret_box, T0)
        evaluate(session, T0, THRESHOLDS)
        [alert] = alerts_of(session, hotel.tenant_id, rule)
        assert (alert.state, alert.opened_at, alert.last_seen_at) == ("open", T0, T0)
        assert events_of(session, hotel.tenant_id, kinds.ALERT_OPENED, rule) == 1

        # Persisting: not opened again, only seen again.
        evaluate(session, T0 + timedelta(minutes=1), THRESHOLDS)
        [alert] = alerts_of(session, hotel.tenant_id, rule)
        assert (alert.state, alert.opened_at) == ("open", T0)
        assert alert.last_seen_at == T0 + timedelta(minutes=1)
        assert events_of(session, hotel.tenant_id, kinds.ALERT_OPENED, rule) == 1

        scenario.clear(session, hotel, secret_box)
        evaluate(session, T0 + timedelta(minutes=2), THRESHOLDS)
        [alert] = alerts_of(session, hotel.tenant_id, rule)
        assert (alert.state, alert.resolved_at, alert.open_key) == (
            "resolved",
            T0 + timedelta(minutes=2),
            None,
        )
        assert events_of(session, hotel.tenant_id, kinds.ALERT_RESOLVED, rule) == 1
        evaluate(session, T0 + timedelta(minutes=3), THRESHOLDS)
        assert [a.state for a in alerts_of(session, hotel.tenant_id, rule)] == ["resolved"]
        assert events_of(session, hotel.tenant_id, kinds.ALERT_RESOLVED, rule) == 1

        # The condition returns: a new alert, the resolved one stays as history.
        later = T0 + timedelta(minutes=10)
        scenario.hold(session, hotel, secret_box, later)
        evaluate(session, later, THRESHOLDS)
        states = [a.state for a in alerts_of(session, hotel.tenant_id, rule)]
        assert states == ["resolved", "open"]


def test_boundaries_do_not_fire(db: Db, hotel: HotelRows) -> None:
    """Exactly at a threshold nothing opens: 95 % success, 1,000 marks, 5 minutes down; nor
    just below one: 2 pull failures."""
    with db.sessions() as session:
        pull_failures(session, hotel, 2)
        log(session, hotel, T0 - timedelta(minutes=50), "accepted", 19)
        log(session, hotel, T0 - timedelta(minutes=5), "unavailable")
        marks(session, hotel, 1000)
        result = evaluate(session, T0, THRESHOLDS)
        assert (result.opened, result.open) == (0, 0)
        assert alerts_of(session, hotel.tenant_id) == []


def test_deliveries_in_flight_are_not_failing(
    db: Db, hotel: HotelRows, secret_box: SecretBox
) -> None:
    """A delivery claimed (its attempt counted) whose answer is not recorded yet is in flight:
    however many there are, the webhook rule stays quiet until an attempt has failed."""
    with db.sessions() as session:
        _failing_delivery(session, hotel, secret_box, T0)
        session.execute(update(WebhookDelivery).values(attempts=1, last_error=None))
        result = evaluate(session, T0, THRESHOLDS)
        assert alerts_of(session, hotel.tenant_id, AlertRule.WEBHOOKS_FAILING) == []
        assert result.opened == 0


def test_tenant_threshold_overrides_the_global_one(
    db: Db, secret_box: SecretBox, hotel: HotelRows
) -> None:
    other = create_hotel_rows(db.sessions, secret_box, ConnectionCreate(channel="fake", name="G"))
    with db.sessions() as session:
        set_threshold(session, hotel.tenant_id, AlertRule.BACKLOG, 5)
        marks(session, hotel, 6)
        marks(session, other, 6)
        result = evaluate(session, T0, THRESHOLDS)
        assert result.opened == 1
        [alert] = alerts_of(session, hotel.tenant_id)
        assert alert.details == {"marks": 6, "threshold": 5.0}
        assert alerts_of(session, other.tenant_id) == []


def test_one_open_alert_per_rule_and_subject_under_racing_evaluators(
    db: Db, hotel: HotelRows
) -> None:
    """The unique open key refuses a second open alert (a racing evaluator's insert), while
    any number of resolved ones share the rule and subject."""

    def row(key: str | None) -> Alert:
        state = AlertState.OPEN if key else AlertState.RESOLVED
        return Alert(
            tenant_id=hotel.tenant_id,
            rule=AlertRule.BACKLOG,
            subject_kind="tenant",
            subject_id=str(hotel.tenant_id),
            state=state,
            open_key=key,
            opened_at=T0,
            last_seen_at=T0,
            details={},
        )

    key = f"backlog_high:tenant:{hotel.tenant_id}"
    with db.sessions() as session:
        session.add_all([row(None), row(None), row(key)])
        session.flush()
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(row(key))
        # A racing evaluator that did not see the open row yet: its insert is refused and it
        # carries on, with no second event.
        finding = Finding(hotel.tenant_id, "tenant", str(hotel.tenant_id), {})
        assert not open_alert(session, AlertRule.BACKLOG, finding, T0)
        assert events_of(session, hotel.tenant_id, kinds.ALERT_OPENED, AlertRule.BACKLOG) == 0
        # An evaluator that finds the alert opened by another one does not open it again.
        marks(session, hotel, 1001)
        result = evaluate(session, T0, THRESHOLDS)
        assert (result.opened, result.open) == (0, 1)
        [open_row] = [a for a in alerts_of(session, hotel.tenant_id) if a.state == "open"]
        # Two evaluators resolving it: the second's conditional update finds it resolved
        # already, and it emits nothing: one event in all.
        assert resolve_alert(session, open_row, T0 + timedelta(minutes=1))
        assert not resolve_alert(session, open_row, T0 + timedelta(minutes=1))
        assert open_row.resolved_at == T0 + timedelta(minutes=1)
        assert events_of(session, hotel.tenant_id, kinds.ALERT_RESOLVED, AlertRule.BACKLOG) == 1
