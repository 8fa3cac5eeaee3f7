"""A production installation (development mode off) holds tenants' URLs and kinds to the
operator's rules: no internal addresses, channel APIs at the kind's own hosts, no test kinds,
limits above the kind's floor, and no remote body read back through an error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from innsync.api.app import create_app
from innsync.channels.channex import STAGING_BASE_URL
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.loops import BackgroundLoops, DevelopmentKindRefusedError
from innsync.outbound import OutboundPolicy, UnresolvedHostError, system_resolver
from innsync.settings import Settings
from tests.api.helpers import Caller, make_hotel, new_tenant, ok, pointers, problem
from tests.conftest import Db

# Names the tests use, resolved without DNS; numeric hosts go to the system resolver, which
# reads them itself (2130706433, 0x7f.1) without a query.
NAMES = {
    "pms.example": ["93.184.216.34"],
    "internal.example": ["10.0.0.5"],
    "sneaky.example": ["93.184.216.34", "169.254.169.254"],
    "channex-proxy.example": ["93.184.216.35"],
}


def resolver(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    if host.replace(".", "").replace(":", "").isalnum() and not host.endswith(".example"):
        return system_resolver(host, port)
    raise UnresolvedHostError(f"host {host!r} does not resolve")


def production_client(db: Db, box: SecretBox, **settings: Any) -> TestClient:
    config = Settings(
        database_url="sqlite://", background_loops=False, development_mode=False, **settings
    )
    app = create_app(
        config,
        engine=db.engine,
        sessions=db.sessions,
        secret_box=box,
        run_loops=False,
        outbound=OutboundPolicy.from_settings(config, resolver=resolver),
    )
    return TestClient(app)


@pytest.fixture
def production(db: Db, secret_box: SecretBox) -> Iterator[TestClient]:
    with production_client(db, secret_box) as client:
        yield client


INTERNAL_URLS = [
    "http://127.0.0.1:8080/hooks",
    "http://localhost/hooks",
    "http://[::1]/hooks",
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://10.1.2.3/hooks",
    "http://192.168.0.1/hooks",
    "http://[fd00::1]/hooks",
    "http://[fe80::1]/hooks",
    "http://2130706433/hooks",
    "http://0x7f.1/hooks",
    "https://internal.example/hooks",
    "https://sneaky.example/hooks",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_a_webhook_url_reaching_an_internal_address_is_a_422_and_nothing_is_stored(
    production: TestClient, db: Db, url: str
) -> None:
    caller = new_tenant(db.sessions)
    body = problem(
        production.post("/api/v1/webhook-subscriptions", json={"url": url}, headers=caller.headers),
        422,
    )
    assert "outbound policy refuses" in pointers(body)["/url"]
    listed = ok(production.get("/api/v1/webhook-subscriptions", headers=caller.headers))
    assert listed == []


def test_a_public_webhook_url_is_accepted(production: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    ok(
        production.post(
            "/api/v1/webhook-subscriptions",
            json={"url": "https://pms.example/hooks"},
            headers=caller.headers,
        ),
        201,
    )


def _connect(client: TestClient, caller: Caller, channel: str, config: dict[str, Any]) -> Any:
    hotel = make_hotel(client, caller)
    return client.post(
        f"/api/v1/properties/{hotel.property_id}/connections",
        params={"test": "false"},
        json={"channel": channel, "name": "x", "config": config},
        headers=caller.headers,
    )


CHANNEX = {"api_key": "k" * 20}


def test_a_channel_base_url_other_than_the_kinds_own_is_refused_without_overrides(
    production: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    for base_url in ("http://127.0.0.1:9/api/v1", "https://channex-proxy.example/api/v1"):
        body = problem(
            _connect(production, caller, "channex", {**CHANNEX, "base_url": base_url}), 422
        )
        assert "INNSYNC_CHANNEL_URL_OVERRIDES" in pointers(body)["/config/base_url"]
    # The kind's sandbox is a fixed choice, always allowed; so is leaving it to the default.
    ok(_connect(production, caller, "channex", {**CHANNEX, "base_url": STAGING_BASE_URL}), 201)
    ok(_connect(production, caller, "channex", CHANNEX), 201)
    booking = {"hotel_id": "1", "client_id": "c", "client_secret": "s"}
    body = problem(
        _connect(production, caller, "booking_com", {**booking, "auth_url": "http://10.0.0.1/"}),
        422,
    )
    assert list(pointers(body)) == ["/config/auth_url"]


def test_overridden_channel_urls_are_still_held_to_the_outbound_policy(
    db: Db, secret_box: SecretBox
) -> None:
    with production_client(db, secret_box, channel_url_overrides=True) as client:
        caller = new_tenant(db.sessions)
        for base_url, reason in (
            ("http://127.0.0.1:9/api/v1", "outbound policy refuses"),
            ("http://internal.example/api/v1", "outbound policy refuses"),
            ("http://[::1/api/v1", "cannot be read"),
        ):
            body = problem(
                _connect(client, caller, "channex", {**CHANNEX, "base_url": base_url}), 422
            )
            assert reason in pointers(body)["/config/base_url"]
        ok(
            _connect(
                client, caller, "channex", {**CHANNEX, "base_url": "https://channex-proxy.example"}
            ),
            201,
        )


def test_an_allowlisted_prefix_admits_its_urls_and_no_lookalike(
    db: Db, secret_box: SecretBox
) -> None:
    with production_client(
        db, secret_box, channel_url_allowlist="https://channex-proxy.example/"
    ) as client:
        caller = new_tenant(db.sessions)
        good = {**CHANNEX, "base_url": "https://channex-proxy.example/api/v1"}
        ok(_connect(client, caller, "channex", good), 201)
        lookalike = {**CHANNEX, "base_url": "https://channex-proxy.example.evil.example/api/v1"}
        problem(_connect(client, caller, "channex", lookalike), 422)


def test_an_ical_feed_on_an_internal_address_is_refused_on_create_and_on_update(
    production: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    body = problem(
        _connect(production, caller, "ical", {"feed_url": "http://169.254.169.254/x.ics"}), 422
    )
    assert "metadata" in pointers(body)["/config/feed_url"]
    created = ok(_connect(production, caller, "ical", {}), 201)
    body = problem(
        production.patch(
            f"/api/v1/connections/{created['id']}",
            params={"test": "false"},
            json={"config": {"feed_url": "https://internal.example/x.ics"}},
            headers=caller.headers,
        ),
        422,
    )
    assert "private address" in pointers(body)["/config/feed_url"]


def test_the_fake_channel_is_refused_and_unlisted_outside_development_mode(
    production: TestClient, client: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    assert "fake" not in ok(production.get("/api/v1/channels", headers=caller.headers))
    body = problem(_connect(production, caller, "fake", {}), 422, "unknown channel 'fake'")
    assert "fake" not in body["detail"].split("known:")[1]
    # The suite's own client runs in development mode, where tests use it.
    assert "fake" in ok(client.get("/api/v1/channels", headers=caller.headers))
    ok(_connect(client, caller, "fake", {}), 201)


def test_fake_limits_below_the_kinds_floor_are_refused(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    burning = {"limits": {"requests_per_window": 10_000, "window_seconds": 60}}
    body = problem(_connect(client, caller, "fake", burning), 422)
    assert "below the channel's floor" in str(body)
    body = problem(_connect(client, caller, "fake", {"pull_interval_seconds": 0.01}), 422)
    assert "pull_interval_seconds: at least 5.0 s" in str(body)
    ok(
        _connect(
            client, caller, "fake", {"limits": {"requests_per_window": 10, "window_seconds": 1}}
        ),
        201,
    )


def test_a_channel_error_never_echoes_the_remote_body_to_the_tenant(
    client: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    answers = {
        # An unstructured body (whatever a URL reached) is never quoted.
        "channex": httpx.Response(502, text="<html>admin: password=hunter2</html>" + "x" * 5000),
        # A vendor's structured reason is, cut to 200 characters.
        "aiosell": httpx.Response(400, json={"success": False, "message": "y" * 5000}),
    }

    def remote(request: httpx.Request) -> httpx.Response:
        return answers["aiosell" if "aiosell" in request.url.host else "channex"]

    client.app.state.channel_transport = httpx.MockTransport(remote)  # type: ignore[attr-defined]
    channex = ok(_connect(client, caller, "channex", CHANNEX), 201)
    body = problem(
        client.post(f"/api/v1/connections/{channex['id']}/test", headers=caller.headers), 503
    )
    assert "answered 502" in body["detail"]
    assert "hunter2" not in body["detail"]
    aiosell_config = {"partner": "p", "hotel_code": "H", "username": "u", "password": "pw"}
    aiosell = ok(_connect(client, caller, "aiosell", aiosell_config), 201)
    response = client.post(f"/api/v1/connections/{aiosell['id']}/test", headers=caller.headers)
    detail = response.json()["detail"]
    assert response.status_code == 502, detail
    assert "y" * 150 in detail
    assert "y" * 201 not in detail


def test_the_loops_refuse_a_fake_connection_left_from_development(
    client: TestClient, db: Db, secret_box: SecretBox
) -> None:
    caller = new_tenant(db.sessions)
    created = ok(_connect(client, caller, "fake", {}), 201)
    production_loops = BackgroundLoops(
        db.sessions, secret_box, Settings(database_url="sqlite://", development_mode=False)
    )
    development_loops = BackgroundLoops(db.sessions, secret_box, Settings(database_url="sqlite://"))
    http = httpx.AsyncClient()
    with db.sessions() as session:
        connection = session.get_one(Connection, uuid.UUID(created["id"]))
        with pytest.raises(DevelopmentKindRefusedError, match="'fake' is a test channel"):
            production_loops.adapter_for(connection, http)
        assert development_loops.adapter_for(connection, http).name == "fake"
