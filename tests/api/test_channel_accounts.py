"""Channel accounts held by the operator: tenants connect through them and never see their keys.

The Channex side is the simulator (in process, through httpx's ASGI transport); it accepts the
operator's master key and the key it is rotated to.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from innsync.channels.channex import ChannexAdapter
from innsync.connections.accounts import (
    create_account,
    find_account,
    grant_account,
    revoke_account,
    rotate_account,
)
from innsync.connections.configs import account_part
from innsync.connections.models import Connection
from innsync.connections.service import build_adapter
from innsync.crypto import SecretBox, generate_key
from innsync.errors import ConflictError, InvalidInputError
from innsync.rotation import rotate_secrets
from innsync.simulators.channex import SimulatorConfig, create_app
from tests.api.helpers import Caller, make_hotel, new_tenant, ok, pointers, problem
from tests.conftest import Db
from tests.simulators.conftest import START as SIM_START
from tests.simulators.conftest import FakeClock, RecordingSleep

MASTER_KEY = "vendor-master-key"
NEXT_KEY = "vendor-next-key"
BASE_URL = "http://channex.sim/api/v1"
ACCOUNT = "vendor-channex"


@pytest.fixture
def first_key() -> str:
    return generate_key()


@pytest.fixture
def secret_box(first_key: str) -> SecretBox:
    """The app's box, with a key the test knows (to rotate to a newer one)."""
    return SecretBox([first_key])


@pytest.fixture
def api(client: TestClient) -> TestClient:
    """The innsync API whose calls to Channex reach a simulator that knows both keys."""
    sim_app = create_app(
        SimulatorConfig(
            api_keys=(MASTER_KEY, NEXT_KEY),
            seed=5,
            clock=FakeClock(SIM_START),
            sleep=RecordingSleep(),
            pump_interval_seconds=None,
        )
    )
    assert isinstance(client.app, FastAPI)
    client.app.state.channel_transport = httpx.ASGITransport(app=sim_app)
    return client


def register(db: Db, box: SecretBox, *granted: Caller) -> uuid.UUID:
    """What the operator does with ``innsync accounts create`` and ``grant``."""
    with db.sessions() as session:
        account = create_account(
            session, box, "channex", ACCOUNT, {"base_url": BASE_URL, "api_key": MASTER_KEY}
        )
        for caller in granted:
            grant_account(session, ACCOUNT, uuid.UUID(caller.tenant_id))
        session.commit()
        return account.id


def connect(api: TestClient, caller: Caller, property_id: str, config: dict[str, Any]) -> Any:
    return api.post(
        f"/api/v1/properties/{property_id}/connections",
        json={"channel": "channex", "name": "Channex", "config": config},
        headers=caller.headers,
    )


def test_a_granted_tenant_connects_through_the_account_and_never_sees_its_key(
    api: TestClient, db: Db, secret_box: SecretBox
) -> None:
    a = new_tenant(db.sessions, "hotel-a")
    b = new_tenant(db.sessions, "hotel-b")
    account_id = register(db, secret_box, a)
    a_hotel = make_hotel(api, a)
    b_hotel = make_hotel(api, b)

    listed = ok(api.get("/api/v1/channel-accounts", headers=a.headers))
    assert [(x["name"], x["channel"], x["fields"]) for x in listed] == [
        (ACCOUNT, "channex", ["api_key", "base_url"])
    ]
    assert MASTER_KEY not in json.dumps(listed)
    assert ok(api.get("/api/v1/channel-accounts", headers=b.headers)) == []

    # Created through the account, and tested with the account's key before it is stored.
    created = ok(connect(api, a, a_hotel.property_id, {"account": ACCOUNT}), 201)
    assert created["account"] == ACCOUNT
    assert "api_key" not in created["config"]
    assert "base_url" not in created["config"]
    assert created["secrets_set"] == []
    assert MASTER_KEY not in json.dumps(created)
    path = f"/api/v1/connections/{created['id']}"
    read = ok(api.get(path, headers=a.headers))
    assert read["account"] == ACCOUNT
    assert MASTER_KEY not in json.dumps(read)

    # Provisioning stores the channel's property id in the connection's own part only.
    provisioned = ok(api.post(f"{path}/provision", headers=a.headers))
    after = ok(api.get(path, headers=a.headers))
    assert after["config"]["property_id"] == provisioned["remote_property_id"]
    with db.sessions() as session:
        connection = session.get_one(Connection, uuid.UUID(created["id"]))
        own = json.loads(secret_box.decrypt(connection.config_encrypted))
        assert connection.account_id == account_id
    assert "api_key" not in own
    assert own["property_id"] == provisioned["remote_property_id"]
    # A PATCH of another field keeps the account and what provisioning stored.
    patched = ok(api.patch(path, json={"config": {"feed_poll_seconds": 120}}, headers=a.headers))
    assert patched["account"] == ACCOUNT
    assert patched["config"]["property_id"] == provisioned["remote_property_id"]

    # A tenant not granted the account cannot use it, by name or by id, and learns nothing.
    for reference in (ACCOUNT, str(account_id), "no-such-account"):
        refused = problem(
            connect(api, b, b_hotel.property_id, {"account": reference}),
            422,
            f"no channel account '{reference}' is available to this tenant",
        )
        assert pointers(refused) == {
            "/config/account": "not a channel account granted to this tenant"
        }
    assert (
        ok(api.get(f"/api/v1/properties/{b_hotel.property_id}/connections", headers=b.headers))
        == []
    )
    # Nor can it move its own connection onto the account.
    own_key = ok(
        connect(api, b, b_hotel.property_id, {"base_url": BASE_URL, "api_key": NEXT_KEY}), 201
    )
    problem(
        api.patch(
            f"/api/v1/connections/{own_key['id']}",
            json={"config": {"account": ACCOUNT}},
            headers=b.headers,
        ),
        422,
        "is available to this tenant",
    )

    # A field the account holds cannot be given beside it (it would be silently ignored).
    held = problem(
        connect(api, a, a_hotel.property_id, {"account": ACCOUNT, "api_key": "mine"}), 422
    )
    assert pointers(held) == {"/config/api_key": "held by the channel account"}
    # An account of another channel kind is refused.
    wrong_kind = api.post(
        f"/api/v1/properties/{a_hotel.property_id}/connections",
        json={"channel": "fake", "name": "Fake", "config": {"account": ACCOUNT}},
        headers=a.headers,
    )
    problem(wrong_kind, 422, f"the channel account '{ACCOUNT}' is a channex account")

    # Revoking is refused while the tenant's connection uses the account.
    with db.sessions() as session, pytest.raises(ConflictError, match="1 connection"):
        revoke_account(session, ACCOUNT, uuid.UUID(a.tenant_id))
    # Once the connection is deleted the grant can go, and the connection cannot come back.
    ok(api.delete(path, headers=a.headers), 204)
    with db.sessions() as session:
        revoke_account(session, ACCOUNT, uuid.UUID(a.tenant_id))
        session.commit()
    assert ok(api.get("/api/v1/channel-accounts", headers=a.headers)) == []
    problem(
        api.patch(path, json={"state": "connected"}, headers=a.headers),
        422,
        "is available to this tenant",
    )
    assert ok(api.get(path, headers=a.headers))["state"] == "disabled"


def test_rotating_the_account_takes_effect_on_the_next_adapter_build(
    api: TestClient, db: Db, secret_box: SecretBox, first_key: str
) -> None:
    a = new_tenant(db.sessions, "hotel-a")
    register(db, secret_box, a)
    hotel = make_hotel(api, a)
    created = ok(connect(api, a, hotel.property_id, {"account": ACCOUNT}), 201)
    path = f"/api/v1/connections/{created['id']}"
    ok(api.post(f"{path}/test", headers=a.headers))

    def rotate(config: dict[str, Any]) -> None:
        with db.sessions() as session:
            rotate_account(session, secret_box, ACCOUNT, config)
            session.commit()

    rotate({"api_key": "a-revoked-key"})
    problem(api.post(f"{path}/test", headers=a.headers), 502, "answered 401")
    rotate({"api_key": NEXT_KEY})
    ok(api.post(f"{path}/test", headers=a.headers))

    # An adapter built from a connection read in an ended session carries the account's key.
    with db.sessions() as session:
        connection = session.get_one(Connection, uuid.UUID(created["id"]))
        assert find_account(session, ACCOUNT).rotated_at is not None
    adapter = build_adapter(connection, secret_box, httpx.AsyncClient())
    assert isinstance(adapter, ChannexAdapter)
    assert adapter.config.api_key.get_secret_value() == NEXT_KEY
    assert adapter.config.base_url == BASE_URL  # a rotation replaces only the given fields

    # A bad rotation is refused and changes nothing.
    with db.sessions() as session, pytest.raises(InvalidInputError) as refused:
        rotate_account(session, secret_box, ACCOUNT, {"api_key": "", "no_such_field": 1})
    assert {p.pointer for p in refused.value.problems} == {"/config/no_such_field"}

    # `innsync keys rotate` re-encrypts accounts too: the old key can then be removed.
    newest = generate_key()
    with db.sessions() as session:
        old_key_token = find_account(session, ACCOUNT).config_encrypted
        rotate_secrets(session, SecretBox([newest, first_key]))
        session.commit()
    with db.sessions() as session:
        account = find_account(session, ACCOUNT)
        assert account.config_encrypted != old_key_token
        assert account_part(account, SecretBox([newest])) == {
            "api_key": NEXT_KEY,
            "base_url": BASE_URL,
        }


def test_connections_of_several_tenants_on_one_account_share_its_budget(
    client: TestClient, db: Db, secret_box: SecretBox
) -> None:
    limits = {"requests_per_window": 5, "window_seconds": 60.0, "window_scope": "account"}
    a = new_tenant(db.sessions, "hotel-a")
    b = new_tenant(db.sessions, "hotel-b")
    with db.sessions() as session:
        create_account(
            session, secret_box, "fake", "fake-machine", {"account_key": "k1", "limits": limits}
        )
        for caller in (a, b):
            grant_account(session, "fake-machine", uuid.UUID(caller.tenant_id))
        session.commit()
    ids = []
    for caller, code in ((a, "a-hotel"), (b, "b-hotel")):
        hotel = make_hotel(client, caller)
        created = ok(
            client.post(
                f"/api/v1/properties/{hotel.property_id}/connections",
                json={
                    "channel": "fake",
                    "name": "Fake",
                    "config": {"account": "fake-machine", "property_code": code},
                },
                headers=caller.headers,
            ),
            201,
        )
        assert created["secrets_set"] == []
        ids.append(uuid.UUID(created["id"]))

    def buckets() -> set[str]:
        with db.sessions() as session:
            return {session.get_one(Connection, i).bucket_key for i in ids}

    (before,) = buckets()
    assert before.startswith("fake:account:")
    with db.sessions() as session:
        rotate_account(session, secret_box, "fake-machine", {"account_key": "k2"})
        session.commit()
    (after,) = buckets()
    assert after.startswith("fake:account:")
    assert after != before
