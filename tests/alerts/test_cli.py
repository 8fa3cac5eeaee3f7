"""``innsync alerts list`` and ``innsync alerts threshold`` against a migrated database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from innsync.alerts.models import Alert, AlertSettings, AlertState
from innsync.cli.main import cli
from innsync.crypto import generate_key
from innsync.db.engine import build_engine, session_factory
from innsync.db.migrate import upgrade
from innsync.settings import get_settings
from innsync.tenants.service import create_tenant

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_list_and_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    engine = build_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        tenant, _ = create_tenant(session, "Villa Sole")
        other, _ = create_tenant(session, "Elsewhere")
        for owner, rule in ((tenant.id, "backlog_high"), (other.id, "channel_down")):
            session.add(
                Alert(
                    tenant_id=owner,
                    rule=rule,
                    subject_kind="tenant",
                    subject_id=str(owner),
                    state=AlertState.OPEN,
                    open_key=f"{rule}:tenant:{owner}",
                    opened_at=T0,
                    last_seen_at=T0,
                    details={"marks": 1500, "threshold": 1000.0},
                )
            )
        session.commit()
        tenant_id: uuid.UUID = tenant.id
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(cli, ["alerts", "list", "--tenant", "Villa Sole"])
        resolved = runner.invoke(
            cli, ["alerts", "list", "--tenant", "Villa Sole", "--state", "resolved"]
        )
        threshold = ["alerts", "threshold", "--tenant", "Villa Sole", "--rule", "backlog_high"]
        set_ = runner.invoke(cli, [*threshold, "--value", "50"])
        bad = runner.invoke(cli, ["alerts", "list", "--tenant", "Villa Sole", "--rule", "nope"])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 0, listed.output
    # The first line names the database (open_database), the rest are the alerts.
    lines = listed.output.splitlines()[1:]
    assert lines[-1] == "1 alerts"
    assert lines[0].startswith("open     backlog_high")
    assert f"tenant:{tenant_id}" in lines[0]
    assert '"marks": 1500' in lines[0]
    assert "channel_down" not in listed.output
    assert resolved.output.splitlines()[1:] == ["0 alerts"]
    assert set_.exit_code == 0, set_.output
    assert bad.exit_code == 2
    with sessions() as session:
        row = session.scalars(select(AlertSettings)).one()
        assert (row.tenant_id, row.thresholds) == (tenant_id, {"backlog_high": 50.0})
    engine.dispose()


def test_notify_add_list_test_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``innsync alerts notify``: a Slack target at a local server takes the test message."""
    from tests.alerts.test_notifications import local_web

    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEYS", generate_key())
    monkeypatch.setenv("INNSYNC_DEVELOPMENT_MODE", "true")  # the local server is on loopback
    engine = build_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        create_tenant(session, "Villa Sole")
        session.commit()
    engine.dispose()
    get_settings.cache_clear()
    try:
        with local_web() as server:
            runner = CliRunner()
            base = ["alerts", "notify"]
            tenant = ["--tenant", "Villa Sole"]
            added = runner.invoke(
                cli,
                [
                    *base,
                    "add",
                    *tenant,
                    "--kind",
                    "slack",
                    "--name",
                    "desk",
                    "--address",
                    server.url,
                ],
            )
            assert added.exit_code == 0, added.output
            target_id = added.output.split()[-1]
            no_smtp = runner.invoke(
                cli,
                [*base, "add", *tenant, "--kind", "email", "--name", "m", "--address", "a@b.test"],
            )
            listed = runner.invoke(cli, [*base, "list", *tenant])
            tested = runner.invoke(cli, [*base, "test", *tenant, target_id])
            server.statuses.append(500)
            refused = runner.invoke(cli, [*base, "test", *tenant, target_id])
            removed = runner.invoke(cli, [*base, "remove", *tenant, target_id])
            after = runner.invoke(cli, [*base, "list", *tenant])
    finally:
        get_settings.cache_clear()
    assert (no_smtp.exit_code, "no SMTP server" in no_smtp.output) == (1, True)
    assert listed.exit_code == 0, listed.output
    assert f"{target_id} slack   'desk' http://127.0.0.1/… rules=all" in listed.output
    assert (tested.exit_code, tested.output.splitlines()[-1]) == (0, "delivered")
    assert (refused.exit_code, "not delivered" in refused.output) == (1, True)
    assert (removed.exit_code, after.output.splitlines()[-1]) == (0, "0 targets")
    assert len(server.received) == 2
