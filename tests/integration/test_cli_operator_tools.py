"""``innsync connections`` operator tools on a real SQLite file: switches, inbox triage,
reconciliation and a forced pull refused for a channel that cannot read one booking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from innsync.cli.main import cli
from innsync.connections.models import Connection, ConnectionAudit
from innsync.db.engine import build_engine, session_factory
from innsync.db.personal import install_keys
from innsync.inbox.models import InboxItem
from innsync.settings import get_settings
from innsync.vault import secret_box_from
from tests.inbound.builders import booking, encode, make_hotel


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("INNSYNC_DEVELOPMENT_MODE", "true")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_switches_inbox_and_reconciliation_from_the_command_line(env: str) -> None:
    assert run("migrate", "--quiet").exit_code == 0
    box = secret_box_from(get_settings())
    install_keys(box)
    engine = build_engine(env)
    sessions = session_factory(engine)
    received = datetime(2030, 1, 1, tzinfo=UTC)
    with sessions() as session:
        hotel = make_hotel(session, box)
        connection_id = hotel.connections[0]
        for key, status, reason in (
            ("k1", "parked", "room code 'STE' is not mapped"),
            ("rejected:x", "rejected", "verification failed: bad secret"),
        ):
            session.add(
                InboxItem(
                    connection_id=connection_id,
                    tenant_id=hotel.tenant_id,
                    received_at=received,
                    source="webhook",
                    dedupe_key=key,
                    headers={},
                    body=encode(booking("B1")),
                    status=status,
                    reason=reason,
                    processed_at=received,
                )
            )
        session.commit()
    connection = str(connection_id)

    switched = run("connections", "switch", "--connection", connection, "--shadow", "--no-pull")
    assert switched.exit_code == 0, switched.output
    assert "push=on pull=off shadow=on" in switched.output

    listed = run("connections", "inbox", "--connection", connection)
    assert listed.exit_code == 0, listed.output
    assert "room code 'STE' is not mapped" in listed.output
    assert "bad secret (can never apply)" in listed.output
    assert "2 items" in listed.output

    requeued = run("connections", "requeue", "--connection", connection)
    assert requeued.exit_code == 0, requeued.output
    assert "1 requeued, 0 unchanged, 1 can never apply" in requeued.output

    report = run(
        "connections",
        "reconcile",
        "--connection",
        connection,
        "--from",
        "2030-06-01",
        "--to",
        "2030-06-30",
    )
    assert report.exit_code == 0, report.output
    assert "0 on the channel, 0 in innsync: 0 missing in innsync" in report.output

    refused = run("connections", "pull-booking", "--connection", connection, "--booking", "X1")
    assert refused.exit_code != 0
    assert "the fake channel gave no booking 'X1'" in refused.output

    with sessions() as session:
        statuses = sorted(session.scalars(select(InboxItem.status)))
        actions = [
            (row.actor, row.action)
            for row in session.scalars(select(ConnectionAudit).order_by(ConnectionAudit.id))
        ]
        held = session.get_one(Connection, connection_id)
        assert (held.shadow_mode, held.pull_enabled) == (True, False)
    engine.dispose()
    assert statuses == ["pending", "rejected"]
    assert actions == [
        ("cli", "switch_changed"),
        ("cli", "switch_changed"),
        ("cli", "inbox_requeued"),
    ]
