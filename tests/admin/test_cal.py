"""The ARI calendar page through HTTP on every configured database: the month's grid, bounded
queries, bulk edit through the ARI service (values, weekdays, dirty marks), roles, channel-sourced
properties and bad input (the browser suite drives it against the Channex simulator)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, select

from innsync.api.app import create_app
from innsync.channels.encoding import rate_values_to_json
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.inventory.calendar import effective_calendar
from innsync.marketplace.models import AriSource
from innsync.outbox.models import RATES, DirtyMark
from innsync.properties.models import RatePlan
from innsync.settings import Settings
from innsync.stay_dates import DateRange
from innsync.sync.desired import channel_values
from innsync.sync.models import AckedRate
from tests.admin.calendar_hotel import CalendarProperty, add_calendar
from tests.admin.hotels import Hotel, admin_settings, build_hotel
from tests.admin.test_pages import sign_in, token_of
from tests.calendar_runs import plan_days
from tests.conftest import Db

MAPPED = ConnectionCreate(channel="fake", name="Mapped channel")


@pytest.fixture
def settings() -> Settings:
    return admin_settings()


@pytest.fixture
def client(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=db.engine, sessions=db.sessions, secret_box=secret_box, run_loops=False
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def statements(db: Db) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    return build_hotel(db.sessions, secret_box, "Harbour")


@pytest.fixture
def cal(db: Db, secret_box: SecretBox, hotel: Hotel) -> CalendarProperty:
    return add_calendar(
        db.sessions,
        secret_box,
        hotel.tenant_id,
        hotel.property_ids[0],
        2,
        2,
        connection=MAPPED,
        derived=True,
    )


def grid_of(html: str) -> str:
    """The calendar table alone (the key below it names every mark too)."""
    return html.split("<table", 1)[1].split("</table>", 1)[0]


def url(cal: CalendarProperty, query: str = "") -> str:
    return f"/admin/calendar/{cal.property_id}?month={cal.month_text}{query}"


def test_calendar_queries_do_not_grow_with_room_types_and_plans(
    client: TestClient, db: Db, secret_box: SecretBox, statements: list[str]
) -> None:
    counts = []
    for name, rooms, plans in (("Small", 2, 2), ("Large", 20, 10)):
        hotel = build_hotel(db.sessions, secret_box, name)
        cal = add_calendar(
            db.sessions,
            secret_box,
            hotel.tenant_id,
            hotel.property_ids[0],
            rooms,
            plans,
            connection=MAPPED,
        )
        client.cookies.clear()
        sign_in(client, hotel.emails["owner"])
        statements.clear()
        page = client.get(url(cal))
        assert page.status_code == 200, page.text
        counts.append(len([s for s in statements if "SAVEPOINT" not in s]))
        # Every plan's row is on the page, each with a cell per night of the month.
        assert page.text.count('<tr class="cal-plan">') == rooms * plans
        assert grid_of(page.text).count("sync-queued") >= rooms * plans * 28
    # Session, property, ARI source, room types, plans, calendar rows, ledger, blocks,
    # connections, mapped room types, mapped plans, acked units, acked rates, dirty marks,
    # bookings, blocks listed.
    assert counts[0] == counts[1] == 16, [s[:70] for s in statements]


def test_calendar_shows_values_bookings_blocks_and_overbooking(
    client: TestClient, hotel: Hotel, cal: CalendarProperty
) -> None:
    sign_in(client, hotel.emails["owner"])
    page = client.get(url(cal))
    assert page.status_code == 200
    text = page.text
    assert cal.month.strftime("%B %Y") in text
    # Month navigation keeps the connection shown.
    previous = cal.month - timedelta(days=1)
    assert f"month={previous:%Y-%m}&amp;connection=" in text
    # The booking's three nights as one bar; the block's night; that night overbooked by one.
    assert re.search(r'<td colspan="3" class="bar booking src-0"[^>]*>direct ', text)
    assert "1 blocked (out of order): Leak" in text
    assert text.count('class="over') == 1
    assert '<strong>-1</strong><span class="sr"> overbooked</span>' in text
    # Weekday prices and restrictions; the derived plan 10 % below its parent.
    assert '<span class="flag">CTA</span>' in text
    assert '<span class="flag">≤7</span>' in text
    assert '<span class="flag">SS</span>' in text
    assert "from R00-P00" in text
    assert ">90<" in text.replace('<span class="flag">', "<")  # 100 - 10 %
    # Everything mapped is on its way (dirty marks), nothing is acknowledged yet.
    assert "sync-queued" in grid_of(text)
    assert "sync-held" not in grid_of(text)


def test_sync_marks_follow_acknowledged_state(
    client: TestClient, hotel: Hotel, cal: CalendarProperty, db: Db
) -> None:
    plan_id = cal.rate_plan_ids[1]
    with transaction(db.sessions) as session:
        connection_id = session.scalar(select(Connection.id).where(Connection.name == MAPPED.name))
        assert connection_id is not None
        session.execute(delete(DirtyMark).where(DirtyMark.connection_id == connection_id))
        plan = session.get_one(RatePlan, plan_id)
        days = effective_calendar(session, plan, DateRange(cal.month, cal.month + timedelta(7)))
        for day, values in days.items():
            session.add(
                AckedRate(
                    connection_id=connection_id,
                    rate_plan_id=plan_id,
                    stay_date=day,
                    rate_values=rate_values_to_json(channel_values(values)),
                )
            )
    sign_in(client, hotel.emails["owner"])
    text = grid_of(client.get(url(cal, f"&connection={connection_id}")).text)
    assert text.count("sync-held") == 7
    assert "sync-queued" not in text  # no marks left: the rest differs, nothing is queued
    assert "sync-differs" in text
    other = client.get(url(cal, f"&connection={hotel.connection_ids[0]}")).text
    assert "sync-" not in grid_of(other)  # that connection maps nothing


def test_bulk_edit_writes_chosen_weekdays_with_dirty_marks(
    client: TestClient, hotel: Hotel, cal: CalendarProperty, db: Db
) -> None:
    sign_in(client, hotel.emails["manager"])
    form = client.get(url(cal))
    plan_id = cal.rate_plan_ids[2]
    first, last = cal.month + timedelta(days=7), cal.month + timedelta(days=20)
    answer = client.post(
        f"/admin/calendar/{cal.property_id}",
        data={
            "csrf_token": token_of(form.text),
            "month": cal.month_text,
            "date_from": str(first),
            "date_to": str(last),
            "weekdays": ["tu", "th"],
            "plans": [str(plan_id)],
            "price": "211.50",
            "stop_sell": "off",
            "closed_to_arrival": "",
            "max_stay": "9",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(url(cal, "&saved="))
    with db.sessions() as session:
        rows = plan_days(session, [plan_id])[plan_id]
        marks = list(
            session.scalars(
                select(DirtyMark).where(DirtyMark.subject_id == plan_id, DirtyMark.kind == RATES)
            )
        )
    chosen = [day for day in DateRange.inclusive(first, last) if day.weekday() in (1, 3)]
    assert len(chosen) == 4
    for day, row in rows.items():
        if day in chosen:
            assert (row.price, row.max_stay, row.stop_sell) == (211.5, 9, False)
        else:
            assert row.price != 211.5
            assert row.max_stay != 9
    # Marked for both connections of the property (the page's and the mapped one), as the
    # API's ARI write marks them.
    assert {mark.connection_id for mark in marks} >= set(hotel.connection_ids[:1])
    assert any(mark.start <= first and mark.end > last for mark in marks)
    shown = client.get(answer.headers["location"])
    assert "Saved: 4 date(s) changed." in shown.text


def test_bulk_edit_bad_input_is_400_beside_the_fields(
    client: TestClient, hotel: Hotel, cal: CalendarProperty
) -> None:
    sign_in(client, hotel.emails["owner"])
    token = token_of(client.get(url(cal)).text)
    target = f"/admin/calendar/{cal.property_id}"
    empty = client.post(target, data={"csrf_token": token, "month": cal.month_text})
    assert empty.status_code == 400
    assert 'id="error-plans">Choose at least one rate plan.' in empty.text
    assert 'id="error-weekdays">Choose at least one weekday.' in empty.text
    assert 'id="error-form">Give a price or a restriction to set.' in empty.text
    base = {
        "csrf_token": token,
        "month": cal.month_text,
        "date_from": str(cal.month),
        "date_to": str(cal.month + timedelta(days=3)),
        "weekdays": ["mo"],
    }
    bad_price = client.post(
        target, data={**base, "plans": [str(cal.rate_plan_ids[0])], "price": "abc"}
    )
    assert bad_price.status_code == 400
    assert 'id="error-price">' in bad_price.text
    assert 'aria-invalid="true" aria-describedby="error-price"' in bad_price.text
    assert 'value="abc"' in bad_price.text  # the form comes back as typed
    derived = client.post(target, data={**base, "plans": [str(cal.derived_id)], "price": "80"})
    assert derived.status_code == 400
    assert "R00-ZDERIVED: prices of a derived plan come from its parent" in derived.text
    backwards = client.post(
        target,
        data={
            **base,
            "date_to": str(cal.month - timedelta(days=3)),
            "plans": [str(cal.rate_plan_ids[0])],
            "max_stay": "3",
        },
    )
    assert backwards.status_code == 400
    assert 'id="error-date_from">Date_to must not be before date_from.' in backwards.text
    far = client.post(
        target,
        data={
            **base,
            "date_to": str(cal.month + timedelta(days=900)),
            "plans": [str(cal.rate_plan_ids[0])],
            "max_stay": "3",
        },
    )
    assert far.status_code == 400
    assert "dates must lie within" in far.text
    foreign = client.post(target, data={**base, "plans": [str(uuid.uuid4())], "max_stay": "3"})
    assert foreign.status_code == 400
    assert "Choose rate plans of this property." in foreign.text
    switch = client.post(
        target, data={**base, "plans": [str(cal.rate_plan_ids[0])], "stop_sell": "maybe"}
    )
    assert switch.status_code == 400
    assert 'id="error-stop_sell">Choose leave, on or off.' in switch.text


def test_read_only_users_see_no_form_and_cannot_post(
    client: TestClient, hotel: Hotel, cal: CalendarProperty
) -> None:
    sign_in(client, hotel.emails["read_only"])
    page = client.get(url(cal))
    assert page.status_code == 200
    assert "Bulk edit" not in page.text
    refused = client.post(
        f"/admin/calendar/{cal.property_id}",
        data={
            "csrf_token": token_of(page.text),
            "plans": [str(cal.rate_plan_ids[0])],
            "max_stay": "3",
        },
    )
    assert refused.status_code == 403
    missing_token = client.post(f"/admin/calendar/{cal.property_id}", data={"max_stay": "3"})
    assert missing_token.status_code == 403


def test_channel_sourced_property_is_read_only_with_provenance(
    client: TestClient, hotel: Hotel, cal: CalendarProperty, db: Db
) -> None:
    with transaction(db.sessions) as session:
        session.add(
            AriSource(
                property_id=cal.property_id,
                tenant_id=hotel.tenant_id,
                connection_id=hotel.connection_ids[0],
            )
        )
    sign_in(client, hotel.emails["owner"])
    page = client.get(url(cal))
    assert page.status_code == 200
    assert 'id="read-only"' in page.text
    assert "come from\n  <strong>Channel 1.1</strong> (fake), its ARI source" in page.text
    assert "Bulk edit" not in page.text
    refused = client.post(
        f"/admin/calendar/{cal.property_id}",
        data={
            "csrf_token": token_of(page.text),
            "month": cal.month_text,
            "date_from": str(cal.month),
            "date_to": str(cal.month),
            "weekdays": ["mo"],
            "plans": [str(cal.rate_plan_ids[0])],
            "max_stay": "3",
        },
    )
    assert refused.status_code == 409
    assert "read-only" in refused.text


def test_other_tenants_property_bad_month_and_property_list(
    client: TestClient, hotel: Hotel, cal: CalendarProperty, db: Db, secret_box: SecretBox
) -> None:
    other = build_hotel(db.sessions, secret_box, "Other", properties_count=2)
    sign_in(client, hotel.emails["owner"])
    assert client.get(f"/admin/calendar/{other.property_ids[0]}").status_code == 404
    assert client.get(f"/admin/calendar/{uuid.uuid4()}").status_code == 404
    assert client.get(url(cal)[: -len(cal.month_text)] + "2026-13").status_code == 400
    assert client.get(url(cal)[: -len(cal.month_text)] + "junk").status_code == 400
    assert client.get(url(cal, "&connection=nope")).status_code == 400
    assert client.get("/admin/calendar/not-a-uuid").status_code in (404, 422)
    # One property: straight to its calendar, in the current month by default.
    direct = client.get("/admin/calendar", follow_redirects=False)
    assert direct.headers["location"] == f"/admin/calendar/{cal.property_id}"
    client.cookies.clear()
    sign_in(client, other.emails["owner"])
    listing = client.get("/admin/calendar")
    assert listing.status_code == 200
    assert listing.text.count('href="/admin/calendar/') == 2  # the two properties
