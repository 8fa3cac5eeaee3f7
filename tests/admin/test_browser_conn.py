"""The connection pages in a real browser against the Channex simulator, on SQLite and
PostgreSQL: a Channex connection added through the form generated from its config model,
tested and its webhooks registered, its room types and rate plans mapped to the channel's
with the editor's suggestions, and a full sync whose progress the page follows by itself
until the worker has sent everything. Each page is checked with axe-core and photographed.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from innsync.api.app import create_app
from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.schemas import RatePlanCreate, RoomTypeCreate
from innsync.settings import Settings
from innsync.simulators.channex import SimulatorConfig
from innsync.simulators.channex import create_app as create_simulator_app
from innsync.sync.worker import SyncWorker
from tests.admin.browser import Site, check_accessibility, photograph, sign_in
from tests.admin.hotels import CHEAP, build_hotel
from tests.channels.test_channex_sync_e2e import ChannexSide, create_channex_side
from tests.databases import truncate_all
from tests.servers import serving
from tests.simulators.conftest import SimClient

pytestmark = pytest.mark.backends("sqlite", "postgresql")
KEY = "browser-channex-key"
NAME = "Channex main"
T = TypeVar("T")


@dataclass
class ConnSite:
    site: Site
    sim_url: str
    channex: ChannexSide
    box: SecretBox


@pytest.fixture(scope="module")
def conn_site(backend: Engine, secret_box: SecretBox) -> Iterator[ConnSite]:
    """innsync in development mode (loopback channel URLs allowed) beside the Channex
    simulator, both on real ports; the hotel's room types and plans carry the simulator's names,
    so the editor can suggest them."""
    truncate_all(backend)
    sim_app = create_simulator_app(
        SimulatorConfig(api_keys=(KEY,), seed=7, pump_interval_seconds=None)
    )
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        development_mode=True,
        admin_cookie_secure=False,
        admin_refresh_seconds=1,
        password_hash_time_cost=CHEAP["time_cost"],
        password_hash_memory_kib=CHEAP["memory_kib"],
        password_hash_parallelism=CHEAP["parallelism"],
    )
    sessions = sessionmaker(bind=backend, expire_on_commit=False)
    hotel = build_hotel(sessions, secret_box, "Harbour Hotel")
    with transaction(sessions) as session:
        for code, title in (("DBL", "Double"), ("SGL", "Single")):
            room = properties.create_room_type(
                session,
                hotel.tenant_id,
                hotel.property_ids[0],
                RoomTypeCreate(
                    code=code,
                    name=title,
                    sellable_units=6,
                    max_adults=2,
                    max_occupancy=2,
                    default_occupancy=2,
                ),
            )
            for plan in ("BAR", "NRF"):
                properties.create_rate_plan(
                    session,
                    hotel.tenant_id,
                    hotel.property_ids[0],
                    RatePlanCreate(
                        room_type_id=room.id, code=f"{code}-{plan}", name=f"{title} {plan}"
                    ),
                )
    app = create_app(
        settings, engine=backend, sessions=sessions, secret_box=secret_box, run_loops=False
    )
    try:
        with serving(sim_app) as sim_url, serving(app) as url:
            channex = in_thread(lambda: create_channex_side(SimClient(sim_app, api_key=KEY)))
            site = Site(url, hotel, sessions, backend.dialect.name)
            yield ConnSite(site, sim_url, channex, secret_box)
    finally:
        truncate_all(backend)


def added(conn: ConnSite) -> Connection:
    with conn.site.sessions() as session:
        found: Connection = session.scalars(select(Connection).where(Connection.name == NAME)).one()
        return found


def test_add_a_channex_connection_through_the_generated_form(
    page: Any, conn_site: ConnSite
) -> None:
    site = conn_site.site
    sign_in(page, site, site.hotel.emails["owner"])
    page.goto(f"{site.url}/admin/connections")
    page.get_by_role("link", name="Add a connection").click()
    page.get_by_label("Channel", exact=True).select_option("channex")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Channex.io settings").wait_for()
    # Submitted without the key: the kind's model says what is missing, beside the field.
    page.get_by_label("Name (required)").fill(NAME)
    page.get_by_label("Base url").fill(f"{conn_site.sim_url}/api/v1")
    page.get_by_role("button", name="Add connection").click()
    page.locator("#f-api-key-error").wait_for()
    assert page.locator("#f-api-key-error").inner_text() == "Field required"
    check_accessibility(page)

    page.get_by_label("Api key").fill(KEY)
    page.get_by_text("More settings").click()
    page.get_by_label("Property id").fill(conn_site.channex.property_id)
    page.get_by_label("Webhook secret").fill("browser-webhook-secret")
    check_accessibility(page)
    photograph(page, site, "conn-add")
    page.get_by_role("button", name="Add connection").click()  # tested with the channel first
    page.get_by_role("heading", name=NAME).wait_for()
    assert "Connection added." in page.get_by_role("status").inner_text()
    assert KEY not in page.content()

    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("The channel accepted the connection test.").wait_for()
    page.get_by_role("button", name="Register webhooks").click()
    page.get_by_text("Webhooks registered on the channel.").wait_for()
    check_accessibility(page)
    stored = json.loads(conn_site.box.decrypt(added(conn_site).config_encrypted))
    assert stored["api_key"] == KEY
    assert stored["property_id"] == conn_site.channex.property_id


def test_map_with_suggestions_then_follow_a_full_sync(conn_site: ConnSite, page: Any) -> None:
    site = conn_site.site
    connection_id = added(conn_site).id
    sign_in(page, site, site.hotel.emails["manager"])
    page.goto(f"{site.url}/admin/connections/{connection_id}")
    page.get_by_role("link", name="Room types and rate plans on the channel").click()
    page.get_by_role("heading", name="Mappings").wait_for()
    assert page.locator("tr.unmapped").count() == 6
    assert "6 not mapped" in page.locator(".unmapped-count").inner_text()
    page.get_by_role("link", name="Fill in the suggestions").click()
    double = page.get_by_label("Channel room type for Double")
    double.wait_for()
    assert double.input_value() == conn_site.channex.room_type_ids[0]
    assert (
        page.get_by_label("Channel rate plan for Single NRF").input_value()
        == (conn_site.channex.rate_plan_ids[3])
    )
    check_accessibility(page)
    photograph(page, site, "conn-mapping")
    page.get_by_role("button", name="Save mappings").click()
    page.get_by_text("Mappings saved").wait_for()
    assert page.locator("tr.unmapped").count() == 0
    with site.sessions() as session:
        rooms = set(
            session.scalars(
                select(RoomTypeMapping.channel_code).where(
                    RoomTypeMapping.connection_id == connection_id
                )
            )
        )
        plans = set(
            session.scalars(
                select(RatePlanMapping.channel_code).where(
                    RatePlanMapping.connection_id == connection_id
                )
            )
        )
    assert rooms == set(conn_site.channex.room_type_ids)
    assert plans == set(conn_site.channex.rate_plan_ids)

    page.get_by_role("link", name=f"← {NAME}").click()
    page.get_by_role("button", name="Start a full sync").click()
    page.get_by_text("6 of 6 mapped room types and rate plans still to send").wait_for()
    check_accessibility(page)
    photograph(page, site, "conn-connection")
    # The worker sends everything to the simulator; the page, without a reload, follows.
    send_everything(conn_site)
    page.get_by_text("Up to date: nothing waits to be sent.").wait_for()
    assert "Last call to the channel" in page.locator("#progress").inner_text()


def send_everything(conn: ConnSite) -> None:
    """Sync worker passes until nothing is dirty."""
    sessions = conn.site.sessions

    async def passes() -> None:
        async with httpx.AsyncClient(timeout=30) as http:

            def build(connection: Connection) -> ChannexAdapter:
                stored = json.loads(conn.box.decrypt(connection.config_encrypted))
                return ChannexAdapter(ChannexConfig.model_validate(stored), http)

            worker = SyncWorker(sessions, build, holder="browser-test")
            for _ in range(10):
                await worker.run_once()
                with sessions() as session:
                    if session.scalars(select(DirtyMark.id).limit(1)).first() is None:
                        return
            raise AssertionError("still dirty after the passes")

    in_thread(lambda: asyncio.run(passes()))


def in_thread(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread of its own: Playwright's sync API keeps an event loop running
    in the test's thread, where nothing else may start one (the simulator's client, a worker)."""
    results: list[T] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    if failures:
        raise failures[0]
    return results[0]
