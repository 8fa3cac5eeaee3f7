"""Retention of the sync log and of PMS events, in batches, run by the loops (issue #20, item 4)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.events.models import Event, WebhookDelivery, WebhookSubscription
from innsync.events.retention import prune_events
from innsync.loops import BackgroundLoops
from innsync.settings import Settings
from innsync.sync.models import SyncLogEntry
from innsync.sync.retention import prune_sync_log
from tests.conftest import Db
from tests.inbound.builders import Hotel, make_hotel

CUTOFF = datetime(2030, 6, 1, tzinfo=UTC)
OLD, RECENT = CUTOFF - timedelta(days=1), CUTOFF + timedelta(seconds=1)


def log_row(connection_id: uuid.UUID, created_at: datetime, outcome: str) -> SyncLogEntry:
    return SyncLogEntry(
        connection_id=connection_id,
        kind="rates",
        entries=1,
        first_date=date(2030, 7, 1),
        last_date=date(2030, 7, 1),
        request_bytes=10,
        outcome=outcome,
        detail="",
        duration_ms=5,
        created_at=created_at,
    )


def test_sync_log_rows_older_than_the_period_are_deleted_in_batches(
    db: Db, secret_box: SecretBox
) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        connection_id = hotel.connections[0]
        session.add_all(
            [
                log_row(connection_id, OLD, "accepted"),
                log_row(connection_id, OLD, "shadow"),
                log_row(connection_id, OLD - timedelta(days=30), "rejected"),
                log_row(connection_id, RECENT, "accepted"),
            ]
        )
        session.commit()
    with db.sessions() as session:
        assert prune_sync_log(session, CUTOFF, batch=2) == 2
        assert prune_sync_log(session, CUTOFF, batch=2) == 1
        assert prune_sync_log(session, CUTOFF, batch=2) == 0
        session.commit()
    with db.sessions() as session:
        assert list(session.scalars(select(SyncLogEntry.created_at))) == [RECENT]


def _event(hotel: Hotel, created_at: datetime, position: int | None) -> Event:
    return Event(
        tenant_id=hotel.tenant_id,
        kind="reservation.created",
        property_id=hotel.property_id,
        subject_id="r1",
        payload={"n": position},
        created_at=created_at,
        position=position,
    )


def test_old_events_go_with_their_finished_deliveries_and_pending_ones_stay(
    db: Db, secret_box: SecretBox
) -> None:
    base = 7_000_000_000  # feed positions of this test's own
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        subscription = WebhookSubscription(
            tenant_id=hotel.tenant_id,
            url="https://pms.example/hook",
            secret_encrypted="x",
            kinds=[],
        )
        session.add(subscription)
        events = {
            "delivered": _event(hotel, OLD, base + 1),
            "failed": _event(hotel, OLD, base + 2),
            "no_delivery": _event(hotel, OLD, base + 3),
            "waiting": _event(hotel, OLD, base + 4),
            "unsequenced": _event(hotel, OLD, None),
            "recent": _event(hotel, RECENT, base + 5),
        }
        session.add_all(events.values())
        session.flush()
        for name, status in (
            ("delivered", "delivered"),
            ("failed", "failed"),
            ("waiting", "pending"),
        ):
            session.add(
                WebhookDelivery(
                    subscription_id=subscription.id, event_id=events[name].id, status=status
                )
            )
        session.commit()
        ids = {name: event.id for name, event in events.items()}

    with db.sessions() as session:
        assert prune_events(session, CUTOFF, batch=2) == 2
        assert prune_events(session, CUTOFF, batch=2) == 1
        assert prune_events(session, CUTOFF, batch=2) == 0
        session.commit()
    with db.sessions() as session:
        left = set(session.scalars(select(Event.id)))
        deliveries = list(session.scalars(select(WebhookDelivery.event_id)))
    assert left == {ids["waiting"], ids["unsequenced"], ids["recent"]}
    assert deliveries == [ids["waiting"]]


def test_the_background_loops_prune_the_sync_log(committed: Engine, secret_box: SecretBox) -> None:
    sessions = session_factory(committed)
    now = datetime.now(UTC)
    with sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.add_all(
            [
                log_row(hotel.connections[0], now - timedelta(days=3), "accepted"),
                log_row(hotel.connections[0], now - timedelta(hours=1), "shadow"),
            ]
        )
        session.commit()
    settings = Settings(
        database_url="sqlite://",
        inbox_retention_days=0,
        sync_log_retention_days=2,
        loop_interval_seconds=0.05,
    )
    loops = BackgroundLoops(sessions, secret_box, settings)
    loops.start(sync_worker=False)
    try:
        for _ in range(200):  # the first pass runs at once; allow a slow machine 10 s
            with sessions() as session:
                left = list(session.scalars(select(SyncLogEntry.outcome)))
            if len(left) == 1:
                break
            time.sleep(0.05)
    finally:
        loops.stop()
    assert left == ["shadow"]
