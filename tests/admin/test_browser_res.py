"""The reservations and conflicts pages in Chromium (harness: tests/admin/browser.py), on SQLite
and PostgreSQL: a search leads to a booking's revisions and raw bodies, and a conflict held by
the inbox processor is resolved field by field. Each page is checked with axe and photographed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.reservations.models import Reservation, ReservationConflict
from innsync.settings import Settings
from tests.admin.browser import VIEWPORT, Site, check_accessibility, photograph, sign_in
from tests.admin.hotels import CHEAP, Hotel
from tests.admin.res_data import Bookings, build_bookings
from tests.databases import truncate_all
from tests.servers import serving

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@dataclass
class ResSite(Site):
    bookings: Bookings


@pytest.fixture(scope="module")
def res_site(backend: Engine, secret_box: SecretBox) -> Iterator[ResSite]:
    """innsync on a real port with bookings made through the inbox (tests/admin/res_data.py)."""
    truncate_all(backend)
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        admin_cookie_secure=False,  # plain http on loopback
        password_hash_time_cost=CHEAP["time_cost"],
        password_hash_memory_kib=CHEAP["memory_kib"],
        password_hash_parallelism=CHEAP["parallelism"],
    )
    sessions = sessionmaker(bind=backend, expire_on_commit=False)
    bookings = build_bookings(sessions, secret_box, "harbour")
    hotel = Hotel(bookings.tenant_id, [bookings.property_id], [], bookings.emails)
    app = create_app(
        settings, engine=backend, sessions=sessions, secret_box=secret_box, run_loops=False
    )
    try:
        with serving(app) as url:
            yield ResSite(url, hotel, sessions, backend.dialect.name, bookings)
    finally:
        truncate_all(backend)


def fits_a_tablet(page: Any) -> None:
    """At a portrait tablet's width the page needs no sideways scrolling (wide tables scroll
    inside their own box)."""
    page.set_viewport_size({"width": 768, "height": 1024})
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.set_viewport_size(VIEWPORT)


def test_search_leads_to_a_reservation_and_its_revisions(res_site: ResSite, page: Any) -> None:
    sign_in(page, res_site, res_site.bookings.emails["read_only"])
    page.get_by_role("link", name="Reservations", exact=True).click()
    page.get_by_role("heading", name="Reservations").wait_for()
    page.get_by_label("Guest name").fill("ada lovelace")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("1 reservation, page 1 of 1").wait_for()
    assert page.get_by_role("row").count() == 2  # the header and Ada's booking
    check_accessibility(page)
    photograph(page, res_site, "reservations")
    fits_a_tablet(page)

    page.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("heading", name="Revision history").wait_for()
    assert page.get_by_role("heading", name="Revision 1: created").is_visible()
    assert page.get_by_role("heading", name="Revision 2: modified").is_visible()
    body = page.locator("details.res-payload").first
    assert not body.locator("pre").is_visible()
    body.locator("summary").click()
    assert '"revision_id": "OTA-100-1"' in body.locator("pre").inner_text()
    assert page.get_by_role("link", name="resolve the conflict").is_visible()
    check_accessibility(page)
    page.evaluate("window.scrollTo(0, 0)")
    photograph(page, res_site, "reservation")


def test_conflict_is_resolved_field_by_field(res_site: ResSite, page: Any) -> None:
    bookings = res_site.bookings
    sign_in(page, res_site, bookings.emails["manager"])
    page.get_by_role("link", name="Conflicts", exact=True).click()
    page.get_by_role("heading", name="Conflicts").wait_for()
    check_accessibility(page)
    photograph(page, res_site, "conflicts")

    page.get_by_role("link", name="OTA-100").click()
    page.get_by_role("heading", name="Conflict on booking OTA-100").wait_for()
    differing = page.locator("tr.res-differs th")
    assert [text.split()[0] for text in differing.all_inner_texts()] == [
        "Dates",
        "Amount",
        "Guest",
    ]
    amount = page.get_by_role("row", name="Amount")
    assert "360.00 EUR" in amount.inner_text()
    assert "500.00 EUR" in amount.inner_text()
    page.get_by_label("Take the channel's amount").check()
    page.get_by_label("Take the channel's guest").check()
    check_accessibility(page)
    photograph(page, res_site, "conflict")
    fits_a_tablet(page)

    page.get_by_role("button", name="Merge the ticked fields").click()
    page.get_by_text("Resolved: merged (from the channel: amount, guest)").wait_for()
    assert page.get_by_role("button", name="Merge the ticked fields").count() == 0
    with res_site.sessions() as session:
        conflict = session.get_one(ReservationConflict, bookings.conflict_id)
        assert (conflict.status, conflict.resolved_fields) == ("resolved", ["amount", "guest"])
        reservation = session.get_one(Reservation, bookings.conflicted)
        assert reservation.total_amount == Decimal("360.00")

    page.get_by_role("link", name="the reservation", exact=True).click()
    page.get_by_role("link", name="conflict resolution").wait_for()
    assert page.get_by_role("link", name="resolve the conflict").count() == 0
