"""The admin's browser harness, shared by every ``test_browser*.py`` module: Debian's Chromium
driven by Playwright against innsync served over real HTTP, axe-core checks and screenshots at
1280x800 into tmp/artifacts/admin (docs/admin.md uses them).

Chromium cannot be downloaded here, so the distribution's is used (``.ci/run`` installs it);
where it is missing these tests fail under INNSYNC_TEST_REQUIRE_DATABASES=1 and skip otherwise.
The fixtures (``browser``, ``site``, ``page``) reach every module through tests/admin/conftest.py;
``browser`` and ``site`` are module-scoped, so each module gets its own Chromium and server.
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
    app.openapi()  # built once here, not inside the first /docs page's time-out
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
