"""The conflicts rule on a real held conflict: opens while a day's conflicts exceed 10 % of its
bookings, persists, and resolves once the conflict leaves the day's window. Times are taken from
the conflict's own row, never from today's date."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from innsync.alerts.models import Alert
from innsync.alerts.rules import AlertRule, global_thresholds
from innsync.alerts.service import evaluate
from innsync.reservations.models import ReservationConflict
from innsync.settings import Settings
from tests.api.test_conflicts import _hotel_with_channel as hotel_with_channel
from tests.conftest import Db
from tests.reservations.builders import conflict_through_api

THRESHOLDS = global_thresholds(Settings(database_url="sqlite://"))


def test_conflicts_over_a_tenth_of_the_days_bookings(client: TestClient, db: Db) -> None:
    # The conflicts suite's hotel: one fake connection with its codes mapped.
    hotel, connection_id = hotel_with_channel(client, db)
    conflict_through_api(
        client, db.sessions, hotel.caller.headers, connection_id, hotel.room_type_id
    )
    tenant_id = uuid.UUID(hotel.caller.tenant_id)
    with db.sessions() as session:
        held_at = session.scalars(select(ReservationConflict.created_at)).one()
        now = held_at + timedelta(minutes=1)
        evaluate(session, now, THRESHOLDS)
        evaluate(session, now + timedelta(minutes=1), THRESHOLDS)
        [alert] = session.scalars(select(Alert).where(Alert.rule == AlertRule.CONFLICTS)).all()
        assert (alert.tenant_id, alert.state, alert.opened_at) == (tenant_id, "open", now)
        # One conflict on the one booking of the day.
        assert alert.details == {
            "conflicts": 1,
            "bookings": 1,
            "conflict_percent": 100.0,
            "threshold": 10.0,
        }
        later = held_at + timedelta(days=1, minutes=1)
        evaluate(session, later, THRESHOLDS)
        session.refresh(alert)
        assert (alert.state, alert.resolved_at) == ("resolved", later)
