"""The ARI calendar in a real browser (harness: tests/admin/browser.py), on SQLite and PostgreSQL:
a bulk edit of some weekdays reaches the Channex simulator through the real sync worker over
HTTP, and only on those weekdays. The page is checked with axe-core and photographed (with a
booking bar, a block and an overbooked night) for docs/admin.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from innsync.api.app import create_app
from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.outbox.models import DirtyMark
from innsync.settings import Settings
from innsync.simulators.channex import SimulatorConfig
from innsync.simulators.channex import create_app as create_simulator
from innsync.stay_dates import DateRange
from innsync.sync.worker import SyncWorker
from tests.admin.browser import Site, check_accessibility, photograph, sign_in
from tests.admin.calendar_hotel import CalendarProperty, add_calendar
from tests.admin.hotels import CHEAP, build_hotel
from tests.channels.test_channex_sync_e2e import ChannexSide, create_channex_side
from tests.databases import truncate_all
from tests.servers import serving
from tests.simulators.conftest import RecordingSleep
from tests.sync.engine_fixtures import Clock

pytestmark = pytest.mark.backends("sqlite", "postgresql")
KEY = "admin-calendar-key"


class HttpSim:
    """The simulator over its real port with a plain synchronous client: ``SimClient`` runs an
    event loop of its own, which Playwright's running one forbids in this thread."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"user-api-key": KEY})

    def post(self, path: str, json_body: Any) -> httpx.Response:
        return self.http.post(path, json=json_body)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)


@dataclass
class ChannexSite:
    site: Site
    cal: CalendarProperty
    channex: ChannexSide
    sim: HttpSim
    worker: SyncWorker
    connection_id: Any

    def drain(self, clock: Clock, max_passes: int = 30) -> None:
        """Run the sync worker until no dirty mark is left, in a thread of its own: the
        Playwright sync API keeps an event loop running in the test's thread."""

        def pending() -> int:
            with self.site.sessions() as session:
                return len(list(session.scalars(select(DirtyMark.id))))

        async def passes() -> None:
            for _ in range(max_passes):
                await self.worker.run_once()
                if not pending():
                    return
                clock.advance(6)
            raise AssertionError(f"still {pending()} dirty marks after {max_passes} passes")

        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, passes()).result()

    def rates(self, plan_index: int) -> dict[str, str]:
        """What the simulator holds for one rate plan: stay date to its price (occupancy 2)."""
        held = self.sim.get("/_sim/ari").json()["data"][self.channex.property_id]
        days = held["restrictions"][self.channex.rate_plan_ids[plan_index]]
        return {day: values["rates"][0]["rate"] for day, values in days.items()}


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def site(backend: Engine, secret_box: SecretBox, clock: Clock) -> Iterator[ChannexSite]:
    """innsync and the Channex simulator, each on a real port; one property of two room types
    with two plans each, mapped to the simulator's, and the worker to push between them."""
    truncate_all(backend)
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        admin_cookie_secure=False,
        password_hash_time_cost=CHEAP["time_cost"],
        password_hash_memory_kib=CHEAP["memory_kib"],
        password_hash_parallelism=CHEAP["parallelism"],
    )
    sessions = sessionmaker(bind=backend, expire_on_commit=False)
    with ExitStack() as stack:
        simulator = create_simulator(
            SimulatorConfig(
                api_keys=(KEY,),
                seed=7,
                clock=clock,
                sleep=RecordingSleep(),
                pump_interval_seconds=None,
            )
        )
        sim_url = stack.enter_context(serving(simulator))
        base_url = sim_url + "/api/v1"
        sim = HttpSim(sim_url)
        stack.callback(sim.http.close)
        channex = create_channex_side(sim)  # type: ignore[arg-type]  # the same two calls
        hotel = build_hotel(sessions, secret_box, "Harbour Hotel", connections_each=0)
        cal = add_calendar(
            sessions,
            secret_box,
            hotel.tenant_id,
            hotel.property_ids[0],
            2,
            2,
            connection=ConnectionCreate(
                channel="channex",
                name="Channex",
                config={"base_url": base_url, "api_key": KEY, "property_id": channex.property_id},
            ),
            codes=(channex.room_type_ids, channex.rate_plan_ids),
        )
        # No kept-alive connections: each drain runs its own event loop.
        http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        )

        def adapter_for(connection: Connection) -> ChannexAdapter:
            stored = json.loads(secret_box.decrypt(connection.config_encrypted))
            return ChannexAdapter(ChannexConfig.model_validate(stored), http, now=clock)

        worker = SyncWorker(sessions, adapter_for, clock=clock, holder="admin-calendar")
        with sessions() as session:
            connection_id = session.scalar(select(Connection.id))
        app = create_app(
            settings, engine=backend, sessions=sessions, secret_box=secret_box, run_loops=False
        )
        innsync_url = stack.enter_context(serving(app))
        try:
            yield ChannexSite(
                Site(innsync_url, hotel, sessions, backend.dialect.name),
                cal,
                channex,
                sim,
                worker,
                connection_id,
            )
        finally:
            truncate_all(backend)


def test_bulk_edit_of_some_weekdays_reaches_channex(
    page: Any, site: ChannexSite, clock: Clock
) -> None:
    cal = site.cal
    site.drain(clock)  # Channex holds the property's month as it was set up
    before, other_plan = site.rates(0), site.rates(1)
    first, last = cal.month + timedelta(days=7), cal.month + timedelta(days=20)
    sign_in(page, site.site, site.site.hotel.emails["manager"])
    page.goto(f"{site.site.url}/admin/calendar/{cal.property_id}?month={cal.month_text}")
    page.get_by_role("heading", name=cal.month.strftime("%B %Y")).wait_for()
    # Everything was pushed: every mapped cell from today on shows Channex holds it.
    assert page.locator(".cal td.sync-held").count() >= 6 * 28
    assert page.locator(".cal td.sync-queued").count() == 0

    page.get_by_text("Bulk edit").click()
    page.get_by_label("From").fill(str(first))
    page.get_by_label("To (included)").fill(str(last))
    for day in ("Mon", "Wed", "Fri", "Sat", "Sun"):
        page.get_by_label(day, exact=True).uncheck()
    page.get_by_label("R00-P00", exact=True).check()
    page.get_by_label("Price (EUR)").fill("321")
    page.get_by_label("Stop sell").select_option("off")
    page.get_by_role("button", name="Apply to the range").click()
    page.get_by_role("status").wait_for()
    assert "Saved: 4 date(s) changed." in page.get_by_role("status").inner_text()
    # On their way: the four nights are queued for Channex, nothing else is.
    assert page.locator(".cal td.sync-queued").count() == 4

    site.drain(clock)
    after = site.rates(0)
    chosen = {
        day.isoformat() for day in DateRange.inclusive(first, last) if day.weekday() in (1, 3)
    }
    assert len(chosen) == 4
    assert {day for day, rate in after.items() if rate != before.get(day)} == chosen
    assert {after[day] for day in chosen} == {"321.00"}
    assert site.rates(1) == other_plan  # a plan not chosen is untouched
    page.reload()
    page.get_by_role("heading", name=cal.month.strftime("%B %Y")).wait_for()
    assert page.locator(".cal td.sync-queued").count() == 0
    assert page.locator(".cal td.over").count() == 1  # the overbooked night, in red
    assert page.locator(".cal td.bar.booking").count() == 1
    check_accessibility(page)
    photograph(page, site.site, "calendar")


def test_read_only_user_sees_no_bulk_edit(page: Any, site: ChannexSite) -> None:
    sign_in(page, site.site, site.site.hotel.emails["read_only"])
    page.goto(f"{site.site.url}/admin/calendar")
    page.get_by_role("heading", name="Calendar").wait_for()
    assert page.get_by_text("Bulk edit").count() == 0
    page.get_by_role("link", name="Next month →").click()  # the calendar opens on this month
    page.get_by_role("heading", name=site.cal.month.strftime("%B %Y")).wait_for()
    assert "connection=" in page.url
    check_accessibility(page)
