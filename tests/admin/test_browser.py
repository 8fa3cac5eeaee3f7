"""The admin in a real browser (harness: tests/admin/browser.py), on SQLite and PostgreSQL:
sign-in, the dashboard, CSRF and role refusals, the offline API reference, the connections page.
Each page is checked with axe-core and photographed at 1280x800.
"""

from __future__ import annotations

from typing import Any

import pytest

from innsync.connections.models import Connection
from tests.admin.browser import STEP_MS, Site, check_accessibility, photograph, sign_in
from tests.admin.hotels import PASSWORD, needs_attention

pytestmark = pytest.mark.backends("sqlite", "postgresql")


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
    # Swagger UI lays out every operation before it shows any: on a loaded two-core machine
    # that alone can take longer than one ordinary step.
    page.locator(".opblock").first.wait_for(timeout=3 * STEP_MS)
    page.get_by_role("heading", name="innsync", exact=False).first.wait_for()
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
