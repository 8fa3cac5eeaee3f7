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
from tests.api.helpers import make_hotel, new_tenant, ok
from tests.conftest import Db
from tests.reservations.builders import conflict_through_api

THRESHOLDS = global_thresholds(Settings(database_url="sqlite://"))


def test_conflicts_over_a_tenth_of_the_days_bookings(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions, "Group"), units=2)
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "OTA"},
            headers=hotel.caller.headers,
        ),
        201,
    )
    mappings = {
        "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "DBL"}],
        "rate_plans": [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "DBL-BAR"}],
    }
    ok(
        client.put(
            f"/api/v1/connections/{connection['id']}/mappings",
            json=mappings,
            headers=hotel.caller.headers,
        )
    )
    conflict_through_api(
        client, db.sessions, hotel.caller.headers, connection["id"], hotel.room_type_id
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
