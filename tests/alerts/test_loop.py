"""The background loops evaluate the alert rules: no second scheduler."""

from __future__ import annotations

import json
import time

from sqlalchemy import Engine, select, update

from innsync.alerts.models import Alert, Notification, TargetKind
from innsync.alerts.notify import create_target
from innsync.alerts.schemas import NotificationTargetCreate
from innsync.connections.models import Connection, ConnectionState
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.loops import BackgroundLoops
from innsync.outbound import OutboundPolicy
from innsync.settings import Settings
from tests.alerts.test_notifications import local_web
from tests.sync.engine_fixtures import create_hotel_rows


def test_the_loops_open_an_alert(committed: Engine, secret_box: SecretBox) -> None:
    sessions = session_factory(committed)
    rows = create_hotel_rows(sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    with sessions() as session:
        session.execute(
            update(Connection)
            .where(Connection.id == rows.connection_id)
            .values(state=ConnectionState.NEEDS_ATTENTION)
        )
        session.commit()
    settings = Settings(database_url="sqlite://", loop_interval_seconds=0.05)
    loops = BackgroundLoops(sessions, secret_box, settings)
    loops.start(sync_worker=False)
    try:
        for _ in range(200):  # the first pass runs at once; allow a slow machine 10 s
            with sessions() as session:
                found = list(session.scalars(select(Alert.rule)))
            if found:
                break
            time.sleep(0.05)
    finally:
        loops.stop()
    assert found == ["connection_needs_attention"]


def test_the_loops_notify_a_target(committed: Engine, secret_box: SecretBox) -> None:
    """Evaluation and sending both run in the loops: the alert reaches a Slack-style target."""
    sessions = session_factory(committed)
    rows = create_hotel_rows(sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    with local_web() as web:
        with sessions() as session:
            data = NotificationTargetCreate(kind=TargetKind.SLACK, name="desk", address=web.url)
            create_target(session, secret_box, rows.tenant_id, data)
            session.execute(
                update(Connection)
                .where(Connection.id == rows.connection_id)
                .values(state=ConnectionState.NEEDS_ATTENTION)
            )
            session.commit()
        settings = Settings(database_url="sqlite://", loop_interval_seconds=0.05)
        loops = BackgroundLoops(sessions, secret_box, settings, OutboundPolicy(allow_loopback=True))
        loops.start(sync_worker=False)
        try:
            for _ in range(200):  # allow a slow machine 10 s
                if web.received:
                    break
                time.sleep(0.05)
        finally:
            loops.stop()
    [received] = web.received
    text = json.loads(received.body)["text"]
    assert text.startswith("*[innsync] OPENED connection_needs_attention (warning)")
    with sessions() as session:
        assert [n.status for n in session.scalars(select(Notification))] == ["sent"]
