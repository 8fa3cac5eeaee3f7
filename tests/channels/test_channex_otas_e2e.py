"""The OTAs behind Channex, end to end over real HTTP (issue #21, part 1).

The simulator connects, disconnects and troubles OTA channels as a hotelier's Channex screens
would, with the §1.7 lifecycle and health webhooks; innsync keeps one record per OTA on the
connection, raises needs-attention when an OTA is lost or failing, and the reconciler reads the
channel list so that a lost webhook hides nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.connections.models import Connection, ConnectionState
from innsync.crypto import SecretBox
from innsync.events import kinds
from innsync.events.models import Event
from innsync.tenants.models import Tenant
from innsync.tenants.service import issue_key
from tests.channels.channex_live import LiveChannex, live_channex

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveChannex]:
    with live_channex(committed, secret_box) as running:
        yield running


@pytest.fixture
def deaf(committed: Engine, secret_box: SecretBox) -> Iterator[LiveChannex]:
    """Every webhook fails and none is retried: only the reconciler can learn anything."""
    with live_channex(committed, secret_box, webhook_retry_delays_seconds=()) as running:
        running.sim.post("/_sim/faults", {"webhook_failure_rate": 1.0})
        yield running


def connect_ota(live: LiveChannex, channel: str = "BookingCom") -> str:
    answer = live.sim.post(
        "/_sim/channels", {"property_id": live.channex.property_id, "channel": channel}
    )
    assert answer.status_code == 201, answer.text
    channel_id: str = answer.json()["data"]["id"]
    return channel_id


def otas(live: LiveChannex) -> list[dict[str, Any]]:
    with live.api() as api:
        answer = api.get(f"/api/v1/connections/{live.connection_id}/channels")
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def connection(live: LiveChannex) -> Connection:
    with live.sessions() as session:
        return session.get_one(Connection, live.connection_id)


def attention_events(live: LiveChannex) -> list[dict[str, Any]]:
    with live.sessions() as session:
        query = select(Event.payload).where(
            Event.tenant_id == live.tenant_id, Event.kind == kinds.CONNECTION_NEEDS_ATTENTION
        )
        return list(session.scalars(query))


def test_a_connected_then_disconnected_ota_is_recorded_and_needs_attention(
    live: LiveChannex,
) -> None:
    booking_com = connect_ota(live)
    connect_ota(live, "Expedia")
    live.inbound()
    assert [(o["ota"], o["state"], o["last_source"]) for o in otas(live)] == [
        ("BookingCom", "active", "new_channel"),
        ("Expedia", "active", "new_channel"),
    ]
    assert connection(live).state != ConnectionState.NEEDS_ATTENTION
    assert attention_events(live) == []

    live.sim.post(f"/_sim/channels/{booking_com}/disconnect", {})
    live.inbound()

    booking, expedia = otas(live)
    assert (booking["channel_code"], booking["state"]) == (booking_com, "disconnected")
    assert booking["last_source"] == "disconnected_channel"
    assert expedia["state"] == "active"
    state = connection(live)
    assert state.state == ConnectionState.NEEDS_ATTENTION
    assert "BookingCom" in state.state_reason
    assert "disconnected_channel" in state.state_reason
    (event,) = attention_events(live)
    assert event["connection_id"] == str(live.connection_id)
    assert "BookingCom" in event["reason"]

    # The reconciler reads the same list: nothing changes, nothing is told twice.
    assert live.reconcile() == 1
    assert [o["state"] for o in otas(live)] == ["disconnected", "active"]
    assert len(attention_events(live)) == 1


def test_with_the_webhook_lost_the_reconciler_finds_the_disconnected_ota(
    deaf: LiveChannex,
) -> None:
    booking_com = connect_ota(deaf)
    deaf.inbound()
    assert otas(deaf) == []  # the new_channel webhook was lost too

    assert deaf.reconcile() == 1
    (found,) = otas(deaf)
    assert (found["channel_code"], found["state"], found["last_source"]) == (
        booking_com,
        "active",
        "channel_list",
    )
    assert connection(deaf).state != ConnectionState.NEEDS_ATTENTION

    deaf.sim.post(f"/_sim/channels/{booking_com}/disconnect", {})
    deaf.inbound()
    assert otas(deaf)[0]["state"] == "active"  # no webhook arrived

    # The next turn, once the feed's cadence has passed.
    assert deaf.reconcile(at=datetime.now(UTC) + timedelta(hours=1)) == 1
    (lost,) = otas(deaf)
    assert (lost["state"], lost["last_source"]) == ("disconnected", "channel_list")
    state = connection(deaf)
    assert state.state == ConnectionState.NEEDS_ATTENTION
    assert "BookingCom" in state.state_reason
    assert len(attention_events(deaf)) == 1
    sent = deaf.sim.get("/_sim/webhooks/deliveries").json()["data"]
    assert {d["event"] for d in sent} == {"new_channel", "disconnected_channel"}
    assert all(d["status"] == "failed" for d in sent)


def test_a_sync_error_needs_attention_and_a_warning_is_only_recorded(live: LiveChannex) -> None:
    expedia = connect_ota(live, "Expedia")
    live.sim.post(
        f"/_sim/channels/{expedia}/events",
        {"event": "sync_warning", "message": "rate below the OTA's minimum"},
    )
    live.inbound()
    (ota,) = otas(live)
    assert (ota["state"], ota["last_error"]) == ("sync_warning", "rate below the OTA's minimum")
    assert connection(live).state != ConnectionState.NEEDS_ATTENTION

    live.sim.post(
        f"/_sim/channels/{expedia}/events",
        {"event": "sync_error", "message": "Expedia refused the credentials"},
    )
    live.inbound()
    (ota,) = otas(live)
    assert (ota["state"], ota["last_error"]) == ("sync_error", "Expedia refused the credentials")
    state = connection(live)
    assert state.state == ConnectionState.NEEDS_ATTENTION
    assert "Expedia refused the credentials" in state.state_reason

    # The channel list shows the OTA as active: the error it reported is not forgotten.
    assert live.reconcile() == 1
    assert otas(live)[0]["state"] == "sync_error"


def test_the_connection_read_lists_its_otas_to_its_own_tenant_only(live: LiveChannex) -> None:
    booking_com = connect_ota(live)
    connect_ota(live, "Expedia")
    live.inbound()
    live.sim.post(f"/_sim/channels/{booking_com}/events", {"event": "sync_error", "message": "x"})
    live.inbound()
    with live.api() as api:
        one = api.get(f"/api/v1/connections/{live.connection_id}")
        listed = api.get(f"/api/v1/properties/{live.property_id}/connections")
    assert one.status_code == 200, one.text
    full = {o["ota"]: o for o in otas(live)}
    expected = [
        {"ota": o["ota"], "state": o["state"], "since": o["state_since"]}
        | {"last_error": o["last_error"]}
        for o in full.values()
    ]
    assert one.json()["otas"] == expected
    assert [o["state"] for o in expected] == ["sync_error", "active"]
    assert full["BookingCom"]["last_error"] == "x"
    (connection_read,) = listed.json()
    assert connection_read["otas"] == expected

    with live.sessions() as session, session.begin():
        stranger = Tenant(name="Another hotel group")
        session.add(stranger)
        session.flush()
        stranger_key = issue_key(session, stranger.id, "stranger", ["admin"]).secret
    headers = {"authorization": f"Bearer {stranger_key}"}
    with httpx.Client(base_url=live.innsync_url, headers=headers, timeout=30) as api:
        assert api.get(f"/api/v1/connections/{live.connection_id}").status_code == 404
        listed_by_stranger = api.get(f"/api/v1/properties/{live.property_id}/connections")
    assert listed_by_stranger.status_code == 404
