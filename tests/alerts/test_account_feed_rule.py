"""``pull_failing`` sees an account-wide feed read (``inbox.account_feeds``) that keeps failing:
it opens on each connection the read is for, in that connection's tenant, and nowhere else, and
resolves when the account's read succeeds again; time is a fixed instant moved by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from innsync.alerts.rules import AlertRule
from innsync.alerts.service import evaluate, set_threshold
from innsync.connections import service as connections
from innsync.connections.accounts import create_account, grant_account
from innsync.connections.schemas import ConnectionCreate, ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.inbox.models import AccountPullCursor, PullCursor
from tests.alerts.test_rules import T0, THRESHOLDS, alerts_of, events_of
from tests.conftest import Db
from tests.sync.engine_fixtures import HotelRows, create_hotel_rows

BASE_URL = "https://channex.example.com/api/v1"
ERROR = "ChannelUnavailableError: channex GET /booking_revisions/feed answered 503"
RULE = AlertRule.PULL_FAILING


@dataclass
class Accounts:
    """Two operator accounts: the failing one's four connections (two read account-wide, one
    disabled, one not pulling), the other's one, and a connection with its own credentials.
    Each hotel is a tenant of its own."""

    failing: uuid.UUID
    read: list[HotelRows]
    disabled: HotelRows
    not_pulling: HotelRows
    other: uuid.UUID
    other_member: HotelRows
    own_credentials: HotelRows

    def everyone(self) -> list[HotelRows]:
        return [*self.read, self.disabled, self.not_pulling, self.other_member]


def _member(db: Db, box: SecretBox, account: str, **update: object) -> HotelRows:
    config = {"base_url": BASE_URL, "api_key": "own-key", "property_id": str(uuid.uuid4())}
    rows = create_hotel_rows(
        db.sessions, box, ConnectionCreate(channel="channex", name="Channex", config=config)
    )
    with transaction(db.sessions) as session:
        grant_account(session, account, rows.tenant_id)
        change = ConnectionUpdate.model_validate({"config": {"account": account}, **update})
        connections.update_connection(session, box, rows.tenant_id, rows.connection_id, change)
    return rows


@pytest.fixture
def accounts(db: Db, secret_box: SecretBox) -> Accounts:
    ids = []
    for name in ("operator-a", "operator-b"):
        with transaction(db.sessions) as session:
            config = {"base_url": BASE_URL, "api_key": f"{name}-key"}
            ids.append(create_account(session, secret_box, "channex", name, config).id)
    return Accounts(
        failing=ids[0],
        read=[_member(db, secret_box, "operator-a") for _ in range(2)],
        disabled=_member(db, secret_box, "operator-a", state="disabled"),
        not_pulling=_member(db, secret_box, "operator-a", pull_enabled=False),
        other=ids[1],
        other_member=_member(db, secret_box, "operator-b"),
        own_credentials=create_hotel_rows(
            db.sessions, secret_box, ConnectionCreate(channel="fake", name="F")
        ),
    )


def account_failures(
    session: Session, account_id: uuid.UUID, failures: int, last_error: str = ERROR
) -> None:
    cursor = session.get(AccountPullCursor, account_id) or AccountPullCursor(
        account_id=account_id, next_pull_at=T0
    )
    cursor.failures, cursor.last_error = failures, last_error if failures else ""
    session.add(cursor)
    session.flush()


def message(failures: int, account: str = "operator-a") -> str:
    return (
        f"the account-wide read of booking revisions (channel account '{account}') failed "
        f"{failures} times in a row: {ERROR}"
    )


def details(failures: int, threshold: float = 3.0) -> dict[str, object]:
    return {
        "failures": failures,
        "threshold": threshold,
        "account": "operator-a",
        "last_error": ERROR,
        "message": message(failures),
    }


def open_alerts(session: Session, rows: HotelRows) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (alert.subject_kind, alert.subject_id, alert.details)
        for alert in alerts_of(session, rows.tenant_id, RULE)
        if alert.state == "open"
    ]


def test_a_failing_account_read_alerts_each_connection_it_reads_for(
    db: Db, accounts: Accounts
) -> None:
    with db.sessions() as session:
        account_failures(session, accounts.failing, 3)
        account_failures(session, accounts.other, 0)
        result = evaluate(session, T0, THRESHOLDS)

        assert (result.opened, result.open) == (2, 2)
        for rows in accounts.read:
            assert open_alerts(session, rows) == [
                ("connection", str(rows.connection_id), details(3))
            ]
            assert events_of(session, rows.tenant_id, kinds.ALERT_OPENED, RULE) == 1
        # Not the connections the account's read is not for, nor another account's, nor one
        # with credentials of its own; nor any other rule.
        for rows in (accounts.disabled, accounts.not_pulling, accounts.other_member):
            assert alerts_of(session, rows.tenant_id) == []
            assert events_of(session, rows.tenant_id, kinds.ALERT_OPENED, RULE) == 0
        assert alerts_of(session, accounts.own_credentials.tenant_id) == []


def test_below_the_threshold_nothing_opens(db: Db, accounts: Accounts) -> None:
    with db.sessions() as session:
        account_failures(session, accounts.failing, 2)
        result = evaluate(session, T0, THRESHOLDS)

        assert (result.opened, result.open) == (0, 0)
        for rows in [*accounts.everyone(), accounts.own_credentials]:
            assert alerts_of(session, rows.tenant_id) == []


def test_each_connection_is_judged_by_its_own_tenants_threshold(db: Db, accounts: Accounts) -> None:
    first, second = accounts.read
    with db.sessions() as session:
        set_threshold(session, second.tenant_id, RULE, 2)
        account_failures(session, accounts.failing, 2)
        result = evaluate(session, T0, THRESHOLDS)

        assert (result.opened, result.open) == (1, 1)
        assert open_alerts(session, first) == []
        assert open_alerts(session, second) == [
            ("connection", str(second.connection_id), details(2, threshold=2.0))
        ]


def test_the_alert_follows_the_count_and_resolves_when_the_read_succeeds(
    db: Db, accounts: Accounts
) -> None:
    with db.sessions() as session:
        account_failures(session, accounts.failing, 3)
        evaluate(session, T0, THRESHOLDS)

        # Still failing: seen again with the new count, not opened again.
        account_failures(session, accounts.failing, 4)
        result = evaluate(session, T0 + timedelta(minutes=1), THRESHOLDS)
        assert (result.opened, result.resolved, result.open) == (0, 0, 2)
        for rows in accounts.read:
            [alert] = alerts_of(session, rows.tenant_id, RULE)
            assert (alert.state, alert.opened_at) == ("open", T0)
            assert alert.last_seen_at == T0 + timedelta(minutes=1)
            assert alert.details == details(4)

        # The account's read succeeded (``account_feeds`` sets failures to 0): resolved.
        account_failures(session, accounts.failing, 0)
        result = evaluate(session, T0 + timedelta(minutes=2), THRESHOLDS)
        assert (result.opened, result.resolved, result.open) == (0, 2, 0)
        for rows in accounts.read:
            [alert] = alerts_of(session, rows.tenant_id, RULE)
            assert (alert.state, alert.resolved_at, alert.open_key) == (
                "resolved",
                T0 + timedelta(minutes=2),
                None,
            )
            assert events_of(session, rows.tenant_id, kinds.ALERT_RESOLVED, RULE) == 1


def test_another_accounts_failing_read_leaves_this_accounts_connections_alone(
    db: Db, accounts: Accounts
) -> None:
    with db.sessions() as session:
        account_failures(session, accounts.failing, 0)
        account_failures(session, accounts.other, 5)
        result = evaluate(session, T0, THRESHOLDS)

        assert (result.opened, result.open) == (1, 1)
        member = accounts.other_member
        [(kind, subject, found)] = open_alerts(session, member)
        assert (kind, subject) == ("connection", str(member.connection_id))
        assert found["message"] == message(5, account="operator-b")
        for rows in [*accounts.read, accounts.disabled, accounts.not_pulling]:
            assert alerts_of(session, rows.tenant_id) == []


def test_a_members_stale_count_of_its_own_gives_way_to_the_accounts_read(
    db: Db, accounts: Accounts
) -> None:
    """A count left on a member's own cursor from before it joined the account (its next turn
    clears it) does not make a second finding: the account's read is the one told."""
    first, _ = accounts.read
    with db.sessions() as session:
        session.add(
            PullCursor(
                connection_id=first.connection_id,
                tenant_id=first.tenant_id,
                next_pull_at=T0,
                failures=7,
                last_error="ChannelAuthError: an old key",
            )
        )
        account_failures(session, accounts.failing, 3)
        result = evaluate(session, T0, THRESHOLDS)

        assert (result.opened, result.open) == (2, 2)
        assert open_alerts(session, first) == [("connection", str(first.connection_id), details(3))]
