"""A Beds24 connection set up through innsync's API with an invite code (§2.2: single use).

The API tests the connection before storing it; the refresh token the code gave during that
test is kept with the connection (encrypted), so the worker gets in without the spent code.
Over real HTTP against the simulator, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.connections.credentials import ChannelCredential, DatabaseCredentialStore
from innsync.crypto import SecretBox
from tests.channels.beds24_live import WEBHOOK_SECRET, LiveBeds24, live_beds24

pytestmark = pytest.mark.backends("sqlite", "postgresql")

INVITE_CODE = "sim-invite-code-1"


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveBeds24]:
    with live_beds24(committed, secret_box) as running:
        yield running
        assert running.transport.problems() == []


def _setups(live: LiveBeds24) -> int:
    log = live.sim.get("/_sim/requests").json()["data"]
    return sum(1 for entry in log if entry["endpoint"] == "GET /authentication/setup")


def test_an_invite_code_used_by_the_apis_connection_test_leaves_its_refresh_token_stored(
    live: LiveBeds24,
) -> None:
    with live.api() as api:
        made = api.post(
            f"/api/v1/properties/{live.hotel.property_id}/connections",
            json={
                "channel": "beds24",
                "name": "Beds24 annex",
                "config": {
                    "base_url": f"{live.sim_url}/v2",
                    "invite_code": INVITE_CODE,
                    "property_id": 102,
                    "webhook_secret": WEBHOOK_SECRET,
                },
            },
        )
    assert made.status_code == 201, made.text
    assert INVITE_CODE not in made.text
    connection_id = uuid.UUID(made.json()["id"])
    assert _setups(live) == 1

    with live.sessions() as session:
        rows = list(
            session.scalars(
                select(ChannelCredential).where(ChannelCredential.connection_id == connection_id)
            )
        )
    assert [row.name for row in rows] == ["access"]
    assert rows[0].secret_encrypted is not None
    assert "refresh" not in rows[0].secret_encrypted  # encrypted whole
    store = DatabaseCredentialStore(live.sessions, live.box, connection_id, now=live.clock)
    kept = asyncio.run(store.load("access"))
    assert kept is not None
    assert kept.refresh_token not in (None, INVITE_CODE)

    # The worker's adapter (database store) gets in with the kept refresh token: the spent
    # code is not sent again, and a new access token comes from /authentication/token.
    live.sim.post("/_sim/tokens/expire", {})

    async def worker_test() -> None:
        async with httpx.AsyncClient(transport=live.transport, timeout=30) as http:
            connection = live.connection_by_id(connection_id)
            await live.adapter_for(http)(connection).test_connection()

    asyncio.run(worker_test())
    assert _setups(live) == 1
    assert live.calls("GET /authentication/token") == 1


def test_testing_a_stored_connection_keeps_the_refresh_token_its_code_gave(
    live: LiveBeds24,
) -> None:
    with live.api() as api:
        made = api.post(
            f"/api/v1/properties/{live.hotel.property_id}/connections",
            params={"test": "false"},
            json={
                "channel": "beds24",
                "name": "Beds24 annex",
                "config": {
                    "base_url": f"{live.sim_url}/v2",
                    "invite_code": INVITE_CODE,
                    "property_id": 102,
                },
            },
        )
        assert made.status_code == 201, made.text
        assert _setups(live) == 0
        connection_id = made.json()["id"]
        # Twice: the first exchanges the code, the second uses what the first stored.
        for _ in range(2):
            tested = api.post(f"/api/v1/connections/{connection_id}/test")
            assert tested.status_code == 200, tested.text
    assert _setups(live) == 1
    store = DatabaseCredentialStore(live.sessions, live.box, uuid.UUID(connection_id))
    kept = asyncio.run(store.load("access"))
    assert kept is not None
    assert kept.refresh_token not in (None, INVITE_CODE)
