"""The operations pages in a real browser (harness: tests/admin/browser.py), on SQLite and
PostgreSQL: a dead letter made by the real sync path (the fake channel refusing) is replayed
from its connection's history; a room type is refused with the problem next to its field, then
created; a webhook delivery is resent. Each page is checked with axe-core and photographed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import service as events
from innsync.events.models import WebhookDelivery
from innsync.events.schemas import SubscriptionCreate
from innsync.outbox.models import DirtyMark
from innsync.properties.models import RoomType
from innsync.settings import Settings
from innsync.sync.models import DeadLetter
from innsync.tenants.users import create_user
from tests.admin.browser import Site, check_accessibility, photograph, sign_in
from tests.admin.hotels import CHEAP, PASSWORD, PASSWORDS, Hotel
from tests.databases import truncate_all
from tests.servers import serving
from tests.sync.engine_fixtures import Clock, build_hotel

pytestmark = pytest.mark.backends("sqlite", "postgresql")

REFUSAL = "Room R0 is closed on the channel"


@pytest.fixture(scope="module")
def ops_site(backend: Engine, secret_box: SecretBox) -> Iterator[Site]:
    """innsync on a real port over a hotel the sync worker has pushed to the fake channel,
    which refused room type R0's availability; and a webhook delivery that failed."""
    truncate_all(backend)
    sessions = sessionmaker(bind=backend, expire_on_commit=False)
    synced = build_hotel(sessions, secret_box, Clock())
    synced.channel.reject_entries(
        lambda update: (
            REFUSAL
            if getattr(update, "room_type_code", None) == "R0"
            and not hasattr(update, "rate_plan_code")
            else None
        )
    )
    # In a thread of its own: Playwright's sync API may hold an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, synced.drain()).result()
    synced.channel.clear_faults()
    email = "owner@ops.example"
    with transaction(sessions) as session:
        create_user(session, PASSWORDS, synced.tenant_id, email, PASSWORD, "owner")
        events.create_subscription(
            session,
            secret_box,
            synced.tenant_id,
            SubscriptionCreate.model_validate({"url": "https://pms.example/innsync"}),
        )
        events.emit(
            session, synced.tenant_id, "reservation.created", {"id": "R-1"}, subject_id="R-1"
        )
    with transaction(sessions) as session:
        events.sequence_pending(session)
        for delivery in session.scalars(select(WebhookDelivery)):
            delivery.status, delivery.attempts = "failed", 20
            delivery.last_error = "delivery failed: the URL did not answer with a 2xx status"
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        admin_cookie_secure=False,
        password_hash_time_cost=CHEAP["time_cost"],
        password_hash_memory_kib=CHEAP["memory_kib"],
        password_hash_parallelism=CHEAP["parallelism"],
    )
    app = create_app(
        settings, engine=backend, sessions=sessions, secret_box=secret_box, run_loops=False
    )
    hotel = Hotel(synced.tenant_id, [synced.property_id], [synced.connection_id], {"owner": email})
    try:
        with serving(app) as url:
            yield Site(url, hotel, sessions, backend.dialect.name)
    finally:
        truncate_all(backend)


def waiting_letters(site: Site) -> int:
    with site.sessions() as session:
        query = select(func.count()).select_from(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        return int(session.scalar(query) or 0)


def test_a_dead_letter_from_the_channel_is_replayed(page: Any, ops_site: Site) -> None:
    site = ops_site
    letters = waiting_letters(site)
    assert letters > 0
    sign_in(page, site, site.hotel.emails["owner"])
    page.get_by_role("link", name="Operations").click()
    page.get_by_role("link", name="Sync history").click()
    page.get_by_role("heading", name="Sync history").wait_for()
    check_accessibility(page)
    photograph(page, site, "ops-sync")
    page.get_by_role("link", name="Fake OTA").click()
    page.get_by_role("heading", name="Dead letters").wait_for()
    assert page.get_by_role("cell", name=REFUSAL).count() == letters
    page.get_by_label("Outcome").select_option("partial")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**outcome=partial")
    assert page.locator(".ops-outcome-accepted").count() == 0
    assert page.locator(".ops-outcome-partial").count() > 0
    check_accessibility(page)
    photograph(page, site, "ops-dead-letters")

    with site.sessions() as session:
        marks_before = session.scalar(select(func.count()).select_from(DirtyMark)) or 0
    page.get_by_role("button", name="Replay dead letters").click()
    status = page.get_by_role("status")
    status.wait_for()
    assert "replayed: their dates are sent again" in status.inner_text()
    assert page.get_by_role("button", name="Replay dead letters").count() == 0
    check_accessibility(page)
    assert waiting_letters(site) == 0
    with site.sessions() as session:
        marks = session.scalar(select(func.count()).select_from(DirtyMark)) or 0
    assert marks == marks_before + letters  # the refused dates will be sent again


def test_a_room_type_is_refused_then_created(page: Any, ops_site: Site) -> None:
    site = ops_site
    sign_in(page, site, site.hotel.emails["owner"])
    page.get_by_role("link", name="Operations").click()
    page.get_by_role("heading", name="Properties").wait_for()
    check_accessibility(page)
    photograph(page, site, "ops-properties")
    page.get_by_role("link", name="Harbour").click()
    page.get_by_role("heading", name="Room types and units").wait_for()
    form = page.locator("form", has=page.get_by_role("heading", name="New room type"))
    form.get_by_label("Code").fill("STE")
    form.get_by_label("Name").fill("Suite")
    form.get_by_label("Sellable units").fill("2")
    form.get_by_label("Most adults").fill("2")
    form.get_by_label("Most guests").fill("2")
    form.get_by_label("Usual guests").fill("3")
    form.get_by_role("button", name="Add room type").click()
    page.get_by_role("alert").wait_for()
    usual = page.get_by_label("Usual guests").first
    assert usual.get_attribute("aria-invalid") == "true"
    assert page.locator("#rt-default_occupancy-error").inner_text() == (
        "default_occupancy cannot exceed max_occupancy"
    )
    assert page.get_by_label("Code").first.input_value() == "STE"  # what was typed is kept
    check_accessibility(page)
    photograph(page, site, "ops-property-error")

    usual.fill("2")
    page.get_by_role("button", name="Add room type").click()
    page.get_by_role("status").wait_for()
    assert page.get_by_role("status").inner_text() == "Room type saved."
    assert page.get_by_role("row", name="Suite").count() == 1
    with site.sessions() as session:
        codes = set(session.scalars(select(RoomType.code)))
    assert codes == {"DBL", "SGL", "STE"}
    check_accessibility(page)
    photograph(page, site, "ops-property")

    page.get_by_role("link", name="Edit room type STE").click()
    page.get_by_role("heading", name="Room type STE").wait_for()
    check_accessibility(page)
    photograph(page, site, "ops-room-type")
    page.go_back()
    page.get_by_role("link", name="Edit rate plan DBL-BAR").click()
    page.get_by_role("heading", name="Rate plan DBL-BAR").wait_for()
    check_accessibility(page)
    photograph(page, site, "ops-rate-plan")


def test_a_failed_webhook_delivery_is_resent(page: Any, ops_site: Site) -> None:
    site = ops_site
    sign_in(page, site, site.hotel.emails["owner"])
    page.goto(f"{site.url}/admin/events")
    page.get_by_role("heading", name="Event feed").wait_for()
    assert page.get_by_role("cell", name="reservation.created").count() == 1
    check_accessibility(page)
    photograph(page, site, "ops-events")
    page.get_by_role("link", name="https://pms.example/innsync").click()
    resend = page.get_by_role("button", name="Resend delivery")
    resend.first.click()
    page.get_by_role("status").wait_for()
    assert "Queued again as delivery" in page.get_by_role("status").inner_text()
    assert page.locator(".ops-delivery-pending").count() == 1
    check_accessibility(page)
    photograph(page, site, "ops-webhook")
    with site.sessions() as session:
        pending = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.status == "pending")
        ).one()
    # Due at once: the delivery loop's next pass sends it.
    assert pending.next_attempt_at <= datetime.now(UTC) + timedelta(seconds=1)
