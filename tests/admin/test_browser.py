"""The admin in a real browser: Debian's Chromium driven by Playwright against innsync served
over real HTTP, on SQLite and PostgreSQL. Each page is checked with axe-core (no critical
violations) and photographed at 1280x800 into tmp/artifacts/admin (docs/admin.md uses them).

Chromium cannot be downloaded here, so the distribution's is used (``.ci/run`` installs it);
where it is missing these tests fail under INNSYNC_TEST_REQUIRE_DATABASES=1 and skip otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from innsync.api.app import create_app
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.settings import Settings
from tests.admin.hotels import CHEAP, PASSWORD, Hotel, build_hotel, needs_attention
from tests.databases import missing, truncate_all
from tests.servers import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ARTIFACTS = Path(__file__).parents[2] / "tmp" / "artifacts" / "admin"
VIEWPORT = {"width": 1280, "height": 800}
# Chromium's own time-out for one step; generous for a loaded two-core CI machine.
STEP_MS = 20_000

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for this module (a fresh profile: Playwright makes a temporary one).

    Module scope, not session: Playwright's sync API keeps an event loop running in this
    thread while it is started, and every later test of the worker that calls ``asyncio.run``
    would fail; it stops when the module's last test is done."""
    if not CHROMIUM.exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Site:
    url: str
    hotel: Hotel
    sessions: sessionmaker[Any]
    backend: str


@pytest.fixture(scope="module")
def site(backend: Engine, secret_box: SecretBox) -> Iterator[Site]:
    """innsync on a real port over the backend's database; its rows really commit, so the
    tables are emptied before and after."""
    truncate_all(backend)
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        admin_cookie_secure=False,  # plain http on loopback
        admin_refresh_seconds=1,
        password_hash_time_cost=CHEAP["time_cost"],
        password_hash_memory_kib=CHEAP["memory_kib"],
        password_hash_parallelism=CHEAP["parallelism"],
    )
    sessions = sessionmaker(bind=backend, expire_on_commit=False)
    hotel = build_hotel(sessions, secret_box, "Harbour Hotel", properties_count=2)
    needs_attention(sessions, hotel.connection_ids[0], "The channel refused the API key")
    app = create_app(
        settings, engine=backend, sessions=sessions, secret_box=secret_box, run_loops=False
    )
    try:
        with serving(app) as url:
            yield Site(url, hotel, sessions, backend.dialect.name)
    finally:
        truncate_all(backend)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # axe is injected
    context.set_default_timeout(STEP_MS)
    opened = context.new_page()
    yield opened
    context.close()


def check_accessibility(page: Any) -> None:
    """axe-core on the page as shown: no critical violations."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))"
    )
    critical = [v for v in violations if v["impact"] == "critical"]
    assert critical == [], f"{page.url}: {violations}"


def photograph(page: Any, site: Site, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{site.backend}.png"))


def sign_in(page: Any, site: Site, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/admin")
    assert "/admin/login" in page.url
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_dashboard_and_sign_out(page: Any, site: Site) -> None:
    sign_in(page, site, site.hotel.emails["owner"], "not the password")
    page.get_by_role("alert").wait_for()
    assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."
    check_accessibility(page)
    photograph(page, site, "login")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert page.url == f"{site.url}/admin"
    broken = page.get_by_role("row", name="Channel 1.1")
    assert "needs attention" in broken.inner_text()
    assert "The channel refused the API key" in broken.inner_text()
    assert "connected" not in broken.inner_text()
    assert "pending" in page.get_by_role("row", name="Channel 2.1").inner_text()
    check_accessibility(page)
    photograph(page, site, "dashboard")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.goto(f"{site.url}/admin")
    assert "/admin/login" in page.url  # the session ended on the server, not just the page


def test_dashboard_refreshes_itself(page: Any, site: Site) -> None:
    sign_in(page, site, site.hotel.emails["manager"])
    row = page.get_by_role("row", name="Channel 2.1")
    assert "needs attention" not in row.inner_text()
    needs_attention(site.sessions, site.hotel.connection_ids[1], "Mapping missing for DBL")
    # No reload: htmx polls the live part (every second here) and swaps it in.
    page.get_by_text("Mapping missing for DBL").wait_for()
    assert "needs attention" in page.get_by_role("row", name="Channel 2.1").inner_text()


def test_form_with_a_forged_token_is_refused(page: Any, site: Site) -> None:
    sign_in(page, site, site.hotel.emails["owner"])
    button = page.get_by_role("button", name="Pause Channel 2.1")
    token = button.locator("xpath=..").locator("input[name=csrf_token]")
    token.evaluate("input => { input.value = 'forged' }")
    button.click()
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert "did not come from innsync" in page.get_by_role("alert").inner_text()
    check_accessibility(page)
    photograph(page, site, "refused")
    with site.sessions() as session:
        connection = session.get(Connection, site.hotel.connection_ids[1])
        assert connection is not None
        assert connection.push_enabled


def test_read_only_user_is_refused_a_post(page: Any, site: Site) -> None:
    sign_in(page, site, site.hotel.emails["read_only"])
    page.get_by_role("heading", name="Dashboard").wait_for()
    assert page.get_by_role("button", name="Pause Channel 2.1").count() == 0
    check_accessibility(page)
    # The buttons are hidden, but the server decides: post the form by hand, token included.
    connection_id = site.hotel.connection_ids[1]
    page.evaluate(
        """id => {
            const form = document.querySelector('form.signout');
            form.action = `/admin/connections/${id}/pause`;
            form.submit();
        }""",
        str(connection_id),
    )
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert "read-only" in page.get_by_role("alert").inner_text()
    with site.sessions() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        assert connection.push_enabled


def test_api_reference_works_offline(page: Any, site: Site) -> None:
    """Every request /docs makes goes to innsync itself."""
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(request.url.split("/")[2]))
    page.goto(f"{site.url}/docs")
    page.get_by_text("innsync", exact=False).first.wait_for()
    page.locator(".opblock").first.wait_for()
    assert set(hosts) == {site.url.split("/")[2]}
    photograph(page, site, "docs")


def test_connections_page_turns_a_switch(page: Any, site: Site) -> None:
    sign_in(page, site, site.hotel.emails["owner"])
    page.get_by_role("link", name="Connections").click()
    page.get_by_role("heading", name="Connections").wait_for()
    switch = page.get_by_role("button", name="Webhooks for Channel 1.1")
    assert switch.get_attribute("aria-pressed") == "true"
    switch.click()
    page.get_by_role("heading", name="Connections").wait_for()
    switch = page.get_by_role("button", name="Webhooks for Channel 1.1")
    assert switch.get_attribute("aria-pressed") == "false"
    assert switch.inner_text() == "Off"
    check_accessibility(page)
    photograph(page, site, "connections")
    with site.sessions() as session:
        connection = session.get(Connection, site.hotel.connection_ids[0])
        assert connection is not None
        assert not connection.webhook_enabled
        assert connection.push_enabled
