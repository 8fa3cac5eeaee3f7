"""The overbooking, backup, token refresh and confirmation-deadline rules: each opens once while
its condition holds, is not re-opened while it persists, and resolves when it clears; time is a
fixed instant moved by hand."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from innsync.alerts.rules import AlertRule
from innsync.alerts.service import evaluate
from innsync.backups.models import BackupOperation
from innsync.channels.credentials import Credential
from innsync.channels.errors import ChannelAuthError
from innsync.connections.credentials import ChannelCredential, DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.events import kinds
from innsync.inbox.models import InboxItem
from innsync.reservations.models import Reservation
from tests.alerts.test_rules import T0, THRESHOLDS, alerts_of, events_of, hotel
from tests.conftest import Db
from tests.sync.engine_fixtures import HotelRows

__all__ = ["hotel"]  # the fixture, shared with the first rules' tests
# The backup schedule is off in the default settings (no key): these tests turn the rule on.
ON = {**THRESHOLDS, AlertRule.BACKUP_FAILING: 120.0}
_keys = itertools.count()


def overbooked(session: Session, rows: HotelRows, now: datetime) -> None:
    session.add(
        Reservation(
            tenant_id=rows.tenant_id,
            property_id=rows.property_id,
            source=str(rows.connection_id),
            channel="fake",
            connection_id=rows.connection_id,
            channel_booking_id=f"OB-{next(_keys)}",
            status="confirmed",
            arrival=date(2026, 4, 1),
            departure=date(2026, 4, 3),
            currency="EUR",
            total_amount=Decimal("200.00"),
            is_overbooked=True,
        )
    )
    session.flush()


def backup(session: Session, at: datetime, outcome: str, operation: str = "create") -> None:
    session.add(
        BackupOperation(
            operation=operation,
            actor="schedule",
            started_at=at,
            duration_ms=10,
            outcome=outcome,
        )
    )
    session.flush()


def refresh_failures(session: Session, rows: HotelRows, failures: int, at: datetime) -> None:
    row = session.get(ChannelCredential, (rows.connection_id, "token"))
    if row is None:
        row = ChannelCredential(connection_id=rows.connection_id, name="token")
        session.add(row)
    row.refresh_failures, row.refresh_failed_at = failures, at
    session.flush()


def unacknowledged(session: Session, rows: HotelRows, received_at: datetime) -> None:
    session.execute(
        update(Connection).where(Connection.id == rows.connection_id).values(channel="booking_com")
    )
    session.add(
        InboxItem(
            connection_id=rows.connection_id,
            tenant_id=rows.tenant_id,
            received_at=received_at,
            source="pull",
            dedupe_key=f"res-{next(_keys)}",
            body=b"<OTA_HotelResNotifRQ/>",
            status="applied",
            ack_status="due",
            ack_revision_ids=["r1"],
        )
    )
    session.flush()


@dataclass
class Scenario:
    rule: AlertRule
    hold: Callable[[Session, HotelRows, datetime], None]
    clear: Callable[[Session, HotelRows], None]


SCENARIOS = [
    Scenario(
        AlertRule.OVERBOOKING,
        overbooked,
        lambda s, r: s.execute(
            update(Reservation).where(Reservation.is_overbooked).values(status="cancelled")
        ),
    ),
    Scenario(
        AlertRule.BACKUP_FAILING,
        lambda s, _r, now: backup(s, now - timedelta(minutes=1), "failed"),
        lambda s, _r: backup(s, T0 + timedelta(seconds=30), "ok"),
    ),
    Scenario(
        AlertRule.TOKEN_REFRESH,
        lambda s, r, now: refresh_failures(s, r, 1, now),
        lambda s, r: refresh_failures(s, r, 0, T0),
    ),
    Scenario(
        AlertRule.CONFIRMATION_OVERDUE,
        # Booking.com: received 21 minutes ago, not acknowledged (threshold 20, deadline 30).
        lambda s, r, now: unacknowledged(s, r, now - timedelta(minutes=21)),
        lambda s, _r: s.execute(update(InboxItem).values(ack_status="done", acked_at=T0)),
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: str(s.rule))
def test_new_rule_opens_once_persists_resolves(
    db: Db, hotel: HotelRows, scenario: Scenario
) -> None:
    rule = scenario.rule
    with db.sessions() as session:
        evaluate(session, T0, ON)
        assert alerts_of(session, hotel.tenant_id) == []

        scenario.hold(session, hotel, T0)
        assert evaluate(session, T0, ON).opened == 1
        [alert] = alerts_of(session, hotel.tenant_id, rule)
        assert (alert.state, alert.opened_at) == ("open", T0)
        assert events_of(session, hotel.tenant_id, kinds.ALERT_OPENED, rule) == 1

        assert evaluate(session, T0 + timedelta(minutes=1), ON).opened == 0
        [alert] = alerts_of(session, hotel.tenant_id, rule)
        assert (alert.state, alert.last_seen_at) == ("open", T0 + timedelta(minutes=1))
        assert events_of(session, hotel.tenant_id, kinds.ALERT_OPENED, rule) == 1

        scenario.clear(session, hotel)
        assert evaluate(session, T0 + timedelta(minutes=2), ON).resolved == 1
        [alert] = alerts_of(session, hotel.tenant_id, rule)
        assert (alert.state, alert.resolved_at) == ("resolved", T0 + timedelta(minutes=2))
        assert evaluate(session, T0 + timedelta(minutes=3), ON).resolved == 0
        assert events_of(session, hotel.tenant_id, kinds.ALERT_RESOLVED, rule) == 1

        later = T0 + timedelta(minutes=10)
        scenario.hold(session, hotel, later)
        evaluate(session, later, ON)
        assert [a.state for a in alerts_of(session, hotel.tenant_id, rule)] == ["resolved", "open"]


def test_confirmation_deadline_boundaries(db: Db, hotel: HotelRows) -> None:
    """20 minutes exactly is not overdue; a channel kind without a deadline (fake) never is."""
    with db.sessions() as session:
        unacknowledged(session, hotel, T0 - timedelta(minutes=20))
        assert evaluate(session, T0, ON).open == 0
        assert alerts_of(session, hotel.tenant_id) == []
        result = evaluate(session, T0 + timedelta(seconds=30), ON)
        assert result.opened == 1
        [opened] = alerts_of(session, hotel.tenant_id, AlertRule.CONFIRMATION_OVERDUE)
        assert opened.details == {
            "channel": "booking_com",
            "unconfirmed": 1,
            "oldest_minutes": 20.5,
            "threshold": 20.0,
            "deadline_minutes": 30.0,
        }
        session.execute(update(Connection).values(channel="fake"))
        assert evaluate(session, T0 + timedelta(minutes=1), ON).resolved == 1


def test_backup_rule_is_off_without_a_schedule_and_waits_for_the_first_try(
    db: Db, hotel: HotelRows
) -> None:
    with db.sessions() as session:
        backup(session, T0 - timedelta(hours=5), "failed")
        assert evaluate(session, T0, THRESHOLDS).open == 0  # schedule off: threshold 0
    with db.sessions() as session:
        # On, with a success 100 minutes ago: within its 120; at 121 minutes it is late.
        backup(session, T0 - timedelta(minutes=100), "ok")
        assert evaluate(session, T0, ON).open == 0
        evaluate(session, T0 + timedelta(minutes=21), ON)
        [alert] = alerts_of(session, hotel.tenant_id, AlertRule.BACKUP_FAILING)
        assert alert.details == {"threshold": 120.0, "minutes_without_success": 121.0}


def test_overbooking_of_a_past_stay_is_not_an_alert(db: Db, hotel: HotelRows) -> None:
    with db.sessions() as session:
        overbooked(session, hotel, T0)
        after_departure = datetime(2026, 4, 3, 0, 0, tzinfo=T0.tzinfo)
        assert evaluate(session, after_departure, ON).open == 0


def test_credential_store_counts_failed_refreshes(
    db: Db, secret_box: SecretBox, hotel: HotelRows
) -> None:
    """A refresh the channel refuses is counted on the credential's row; a success resets it."""
    store = DatabaseCredentialStore(db.sessions, secret_box, hotel.connection_id, now=lambda: T0)

    async def refused(_current: Credential | None) -> Credential:
        raise ChannelAuthError("refresh token revoked")

    async def issued(_current: Credential | None) -> Credential:
        return Credential(token="t", expires_at=T0 + timedelta(hours=1))

    for _ in range(2):
        with pytest.raises(ChannelAuthError):
            asyncio.run(store.refresh("token", lambda _c: True, refused))
    with db.sessions() as session:
        row = session.get_one(ChannelCredential, (hotel.connection_id, "token"))
        assert (row.refresh_failures, row.refresh_failed_at) == (2, T0)
        assert row.refresh_error == "ChannelAuthError: refresh token revoked"
    asyncio.run(store.refresh("token", lambda _c: True, issued))
    with db.sessions() as session:
        row = session.get_one(ChannelCredential, (hotel.connection_id, "token"))
        session.refresh(row)
        assert (row.refresh_failures, row.refresh_error) == (0, None)
