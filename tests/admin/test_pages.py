"""Sign-in, CSRF, roles, sign-out, throttling and the dashboard, through the HTTP interface on
every configured database (the browser suite drives the same pages in Chromium)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from innsync.api.app import create_app
from innsync.connections.models import Connection, ConnectionAudit
from innsync.crypto import SecretBox
from innsync.settings import Settings
from innsync.tenants.models import UserSession
from tests.admin.hotels import PASSWORD, Hotel, admin_settings, build_hotel, needs_attention
from tests.conftest import Db

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings() -> Settings:
    # Plain http in the test client, so the cookie may not be Secure; the API-key budget is
    # off (tests/api covers it), the per-account sign-in budget is small to test it.
    return admin_settings(login_failure_limit=3)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    return build_hotel(db.sessions, secret_box, "Harbour")


def token_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> int:
    form = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"csrf_token": token_of(form.text), "email": email, "password": password},
        follow_redirects=False,
    )
    return answer.status_code


def test_pages_need_a_session(client: TestClient) -> None:
    answer = client.get("/admin", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=%2Fadmin"
    polled = client.get("/admin/dashboard/live", headers={"HX-Request": "true"})
    assert polled.status_code == 204
    assert polled.headers["HX-Redirect"] == "/admin/login?next=%2Fadmin%2Fdashboard%2Flive"


def test_sign_in_opens_a_session_and_shows_the_dashboard(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    assert sign_in(client, hotel.emails["owner"].upper()) == 303
    cookie = next(c for c in client.cookies.jar if c.name == "innsync_session")
    assert cookie.path == "/admin"
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = client.get("/admin")
    assert page.status_code == 200
    assert "Harbour property 1" in page.text
    assert "Channel 1.1" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    with db.sessions() as session:
        stored = session.scalars(select(UserSession)).all()
    assert len(stored) == 1
    assert stored[0].token_hash != cookie.value  # only the hash is kept


def test_cookie_is_secure_by_default(db: Db, secret_box: SecretBox, hotel: Hotel) -> None:
    app = create_app(
        Settings(
            database_url="sqlite://",
            background_loops=False,
            auth_failure_limit=0,
            password_hash_time_cost=1,
            password_hash_memory_kib=1024,
            password_hash_parallelism=1,
        ),
        engine=db.engine,
        sessions=db.sessions,
        secret_box=secret_box,
        run_loops=False,
    )
    with TestClient(app, base_url="https://testserver") as client:
        assert sign_in(client, hotel.emails["owner"]) == 303
        answer_cookie = next(c for c in client.cookies.jar if c.name == "innsync_session")
        assert answer_cookie.secure


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: TestClient, hotel: Hotel
) -> None:
    wrong = client.post(
        "/admin/login",
        data={
            "csrf_token": token_of(client.get("/admin/login").text),
            "email": hotel.emails["owner"],
            "password": "not the password",
        },
    )
    unknown = client.post(
        "/admin/login",
        data={
            "csrf_token": token_of(client.get("/admin/login").text),
            "email": "nobody@hotel.example",
            "password": PASSWORD,
        },
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong e-mail or password." in wrong.text
    assert "Wrong e-mail or password." in unknown.text
    assert "innsync_session" not in client.cookies


def test_sign_in_without_the_form_token_is_refused(client: TestClient, hotel: Hotel) -> None:
    client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"csrf_token": "forged", "email": hotel.emails["owner"], "password": PASSWORD},
    )
    assert answer.status_code == 403
    assert "innsync_session" not in client.cookies


def test_failed_sign_ins_are_throttled_per_account(client: TestClient, hotel: Hotel) -> None:
    for _ in range(3):
        assert sign_in(client, hotel.emails["manager"], "wrong password!") == 401
    # The right password no longer helps while the account's budget is spent.
    form = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={
            "csrf_token": token_of(form.text),
            "email": hotel.emails["manager"],
            "password": PASSWORD,
        },
    )
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert "innsync_session" not in client.cookies
    assert sign_in(client, hotel.emails["owner"]) == 303  # another account is not affected


def test_post_without_the_session_token_is_refused(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    sign_in(client, hotel.emails["owner"])
    connection_id = hotel.connection_ids[0]
    for data in ({}, {"csrf_token": "another"}):
        answer = client.post(f"/admin/connections/{connection_id}/pause", data=data)
        assert answer.status_code == 403
        assert "did not come from innsync" in answer.text
    with db.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        assert connection.push_enabled


def test_read_only_users_cannot_post(client: TestClient, hotel: Hotel, db: Db) -> None:
    sign_in(client, hotel.emails["read_only"])
    page = client.get("/admin")
    assert "Pause" not in page.text  # no buttons they could not use
    connection_id = hotel.connection_ids[0]
    answer = client.post(
        f"/admin/connections/{connection_id}/pause", data={"csrf_token": token_of(page.text)}
    )
    assert answer.status_code == 403
    assert "read-only" in answer.text
    with db.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        assert connection.push_enabled


def test_manager_pauses_and_resumes_a_connection(client: TestClient, hotel: Hotel, db: Db) -> None:
    sign_in(client, hotel.emails["manager"])
    token = token_of(client.get("/admin").text)
    connection_id = hotel.connection_ids[0]
    paused = client.post(f"/admin/connections/{connection_id}/pause", data={"csrf_token": token})
    assert paused.status_code == 200
    assert "paused" in paused.text
    with db.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        assert (connection.push_enabled, connection.pull_enabled) == (False, False)
    client.post(f"/admin/connections/{connection_id}/resume", data={"csrf_token": token})
    with db.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        assert (connection.push_enabled, connection.pull_enabled) == (True, True)


def test_another_tenants_connection_is_not_found(
    client: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    other = build_hotel(db.sessions, secret_box, "Elsewhere")
    sign_in(client, hotel.emails["owner"])
    token = token_of(client.get("/admin").text)
    answer = client.post(
        f"/admin/connections/{other.connection_ids[0]}/pause", data={"csrf_token": token}
    )
    assert answer.status_code == 404
    unknown = client.post(f"/admin/connections/{uuid.uuid4()}/pause", data={"csrf_token": token})
    assert unknown.status_code == 404
    with db.sessions() as session:
        connection = session.get(Connection, other.connection_ids[0])
        assert connection is not None
        assert connection.push_enabled
    page = client.get("/admin")
    assert "Elsewhere" not in page.text


def test_sign_out_revokes_the_session(client: TestClient, hotel: Hotel, db: Db) -> None:
    sign_in(client, hotel.emails["read_only"])  # read-only users may sign out
    copied = client.cookies["innsync_session"]
    token = token_of(client.get("/admin").text)
    answer = client.post("/admin/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login"
    with db.sessions() as session:
        assert session.scalars(select(UserSession.revoked_at)).one() is not None
    # A copy of the cookie kept from before signing out opens nothing.
    client.cookies.set("innsync_session", copied, path="/admin")
    assert client.get("/admin", follow_redirects=False).status_code == 303
    # The next sign-in clears the ended session away: one row, the new live one.
    client.cookies.clear()
    assert sign_in(client, hotel.emails["read_only"]) == 303
    with db.sessions() as session:
        assert session.scalars(select(UserSession.revoked_at)).all() == [None]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/admin/dashboard/live", "/admin/dashboard/live"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/adminevil", "/admin"),
        ("/docs", "/admin"),
    ],
)
def test_after_sign_in_only_admin_paths(
    client: TestClient, hotel: Hotel, given: str, expected: str
) -> None:
    form = client.get("/admin/login", params={"next": given})
    answer = client.post(
        "/admin/login",
        data={
            "csrf_token": token_of(form.text),
            "email": hotel.emails["owner"],
            "password": PASSWORD,
            "next": given,
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == expected


def test_dashboard_shows_state_reason_and_live_part(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    needs_attention(db.sessions, hotel.connection_ids[0], "The channel refused the API key")
    sign_in(client, hotel.emails["owner"])
    live = client.get("/admin/dashboard/live")
    assert live.status_code == 200
    assert "<html" not in live.text  # only the part htmx swaps in
    assert "needs attention" in live.text
    assert "The channel refused the API key" in live.text
    assert "<strong>1</strong> connection needs attention" in live.text


@pytest.fixture
def statements(db: Db) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_dashboard_queries_do_not_grow_with_properties(
    client: TestClient, db: Db, secret_box: SecretBox, statements: list[str]
) -> None:
    small = build_hotel(db.sessions, secret_box, "Small", properties_count=1, connections_each=1)
    large = build_hotel(db.sessions, secret_box, "Large", properties_count=6, connections_each=3)
    counts = []
    for hotel in (small, large):
        client.cookies.clear()
        sign_in(client, hotel.emails["owner"])
        statements.clear()
        page = client.get("/admin")
        assert page.status_code == 200
        counts.append(len([s for s in statements if "SAVEPOINT" not in s]))
    assert "Large property 6" in page.text
    assert page.text.count("Channel ") >= 18
    # Session lookup, properties, connections, backlog, refused entries, last pushes, pull
    # cursors, bookings today, overbookings, conflicts, alert count, alert list.
    assert counts[0] == counts[1] == 12, [s[:60] for s in statements]


def test_docs_reference_no_external_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(sources) == 3
    assert all(source.startswith("/docs/static/") for source in sources), sources
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert '"validatorUrl": null' in page.text
    for source in sources:
        assert client.get(source).status_code == 200
    assert client.get("/redoc").status_code == 404


def test_admin_assets_are_served(client: TestClient) -> None:
    htmx = client.get("/admin/static/htmx-2.0.11.min.js")
    assert htmx.status_code == 200
    assert 'version:"2.0.11"' in htmx.text
    assert client.get("/admin/static/admin.css").status_code == 200


def test_connections_page_switches(client: TestClient, hotel: Hotel, db: Db) -> None:
    sign_in(client, hotel.emails["manager"])
    page = client.get("/admin/connections")
    assert page.status_code == 200
    assert page.text.count('aria-pressed="true"') == 3  # push, pull, webhooks on; shadow off
    connection_id = hotel.connection_ids[0]
    data = {"csrf_token": token_of(page.text), "switch": "webhook_enabled", "on": "false"}
    answer = client.post(f"/admin/connections/{connection_id}/switch", data=data)
    assert answer.status_code == 200
    assert answer.text.count('aria-pressed="true"') == 2
    with db.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        switches = (connection.push_enabled, connection.pull_enabled, connection.webhook_enabled)
        assert switches == (True, True, False)
    for bad in ({"switch": "state", "on": "false"}, {"switch": "push_enabled", "on": "maybe"}):
        refused = client.post(f"/admin/connections/{connection_id}/switch", data={**data, **bad})
        assert refused.status_code == 400
    with db.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        assert connection.push_enabled
        assert connection.state == "pending"


def test_shadow_mode_is_switched_from_the_page_and_audited_under_the_user(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    sign_in(client, hotel.emails["manager"])
    page = client.get("/admin/connections")
    assert "Shadow mode" in page.text
    connection_id = hotel.connection_ids[0]
    data = {"csrf_token": token_of(page.text), "switch": "shadow_mode", "on": "true"}
    answer = client.post(f"/admin/connections/{connection_id}/switch", data=data)
    assert answer.status_code == 200
    assert answer.text.count('aria-pressed="true"') == 4
    with db.sessions() as session:
        connection = session.get_one(Connection, connection_id)
        assert connection.shadow_mode
        (entry,) = session.scalars(
            select(ConnectionAudit).where(ConnectionAudit.connection_id == connection_id)
        )
        assert entry.actor.startswith("user:")
        assert entry.detail == {"field": "shadow_mode", "old": False, "new": True}


def test_read_only_sees_switches_without_buttons(client: TestClient, hotel: Hotel) -> None:
    sign_in(client, hotel.emails["read_only"])
    page = client.get("/admin/connections")
    assert page.status_code == 200
    assert "aria-pressed" not in page.text
    assert page.text.count(">On<") == 0
    assert "Channel 1.1" in page.text
