"""The connection pages over HTTP (TestClient) on every configured database: the add form
generated from each kind's config model, validation beside the fields, secrets never echoed,
settings, actions, full sync progress, the mapping editor, roles and tenant scoping."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from innsync.connections import service as connections
from innsync.connections.accounts import create_account, grant_account
from innsync.connections.models import Connection, RoomTypeMapping
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.schemas import RatePlanCreate, RoomTypeCreate
from innsync.settings import Settings
from innsync.sync.desired import load_mappings
from innsync.sync.state import store_availability
from tests.admin.hotels import Hotel, admin_settings, build_hotel
from tests.admin.test_pages import sign_in, token_of
from tests.conftest import Db

SECRET = "s3cret-key-never-shown"


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    # Production rules unless a test asks for development mode (which offers the fake kind).
    development = bool(getattr(request, "param", False))
    return admin_settings(development_mode=development)


development = pytest.mark.parametrize("settings", [True], indirect=True, ids=["development"])


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    return build_hotel(db.sessions, secret_box, "Harbour")


def add_rooms(db: Db, hotel: Hotel, codes: tuple[str, ...] = ("DBL", "SGL")) -> None:
    """Room types named after their codes, each with one BAR plan."""
    with transaction(db.sessions) as session:
        for code in codes:
            room = properties.create_room_type(
                session,
                hotel.tenant_id,
                hotel.property_ids[0],
                RoomTypeCreate(
                    code=code,
                    name=f"Room {code}",
                    sellable_units=4,
                    max_adults=2,
                    max_occupancy=2,
                    default_occupancy=2,
                ),
            )
            properties.create_rate_plan(
                session,
                hotel.tenant_id,
                hotel.property_ids[0],
                RatePlanCreate(room_type_id=room.id, code=f"BAR-{code}", name=f"BAR {code}"),
            )


def options_of(html: str, name: str) -> list[str]:
    found = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert found is not None, name
    return re.findall(r'<option value="([^"]*)"', found.group(1))


def field_error(html: str, dom_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{dom_id}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def connections_of(db: Db, tenant_id: uuid.UUID) -> list[Connection]:
    with db.sessions() as session:
        return list(session.scalars(select(Connection).where(Connection.tenant_id == tenant_id)))


def test_add_form_is_generated_from_each_kinds_config_model(
    client: TestClient, hotel: Hotel
) -> None:
    sign_in(client, hotel.emails["owner"])
    prop = hotel.property_ids[0]
    chooser = client.get("/admin/connections/new")
    assert chooser.status_code == 200
    kinds = options_of(chooser.text, "channel")
    assert {"channex", "aiosell", "beds24"} <= set(kinds)
    assert "fake" not in kinds  # test-only, and this installation is not in development mode

    channex = client.get(f"/admin/connections/new?channel=channex&property={prop}").text
    assert re.search(r'<input type="password" id="f-api-key" name="config.api_key"', channex)
    assert 'Api key <span class="required">(required)</span>' in channex
    assert "Sent as the user-api-key header" in channex  # the field's description
    # A URL field offers only the kind's own endpoints (no overrides here).
    assert options_of(channex, "config.base_url") == [
        "https://app.channex.io/api/v1",
        "https://staging.channex.io/api/v1",
    ]
    assert options_of(channex, "config.cancellation_policies") == ["off", "linked"]
    assert re.search(r'type="number" id="f-feed-poll-seconds"[^>]* min="5" max="3600"', channex)
    assert "config.partner" not in channex

    aiosell = client.get(f"/admin/connections/new?channel=aiosell&property={prop}").text
    for name in ("partner", "hotel_code", "username"):
        assert f'name="config.{name}" value=""' in aiosell
    assert 'type="password" id="f-password" name="config.password"' in aiosell
    assert "config.api_key" not in aiosell
    assert options_of(aiosell, "config.base_url") == ["https://live.aiosell.com/api/v2/cm"]
    # Fields of shapes a form does not hold are named, left to the API.
    assert "Set through the API only: to_channels, occupancy_rate_plans." in aiosell


def test_validation_errors_are_shown_beside_the_fields_and_nothing_is_stored(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    sign_in(client, hotel.emails["manager"])
    before = len(connections_of(db, hotel.tenant_id))
    page = client.get(f"/admin/connections/new?channel=channex&property={hotel.property_ids[0]}")
    answer = client.post(
        "/admin/connections/new",
        data={
            "csrf_token": token_of(page.text),
            "channel": "channex",
            "property": str(hotel.property_ids[0]),
            "name": "Channex",
            "config.base_url": "https://app.channex.io/api/v1",
            "config.webhook_secret": SECRET,
            "config.property_id": "not-a-uuid",
            "config.feed_poll_seconds": "1",
            "test": "true",
        },
    )
    assert answer.status_code == 422
    assert field_error(answer.text, "f-api-key") == "Field required"
    assert "Channex property UUID" in field_error(answer.text, "f-property-id")
    assert "greater than or equal to 5" in field_error(answer.text, "f-feed-poll-seconds")
    assert field_error(answer.text, "f-base-url") == ""
    assert 'value="not-a-uuid"' in answer.text  # what was typed comes back
    assert SECRET not in answer.text  # a typed secret never does
    assert len(connections_of(db, hotel.tenant_id)) == before

    # A URL other than the kind's own is refused by the operator's rules, beside the field.
    wrong = client.post(
        "/admin/connections/new",
        data={
            "csrf_token": token_of(page.text),
            "channel": "channex",
            "property": str(hotel.property_ids[0]),
            "name": "",
            "config.base_url": "https://evil.example/api/v1",
            "config.api_key": SECRET,
        },
    )
    assert wrong.status_code == 422
    assert "1 to 200 characters" in field_error(wrong.text, "f-name")
    assert SECRET not in wrong.text
    named = client.post(
        "/admin/connections/new",
        data={
            "csrf_token": token_of(page.text),
            "channel": "channex",
            "property": str(hotel.property_ids[0]),
            "name": "Channex",
            "config.base_url": "https://evil.example/api/v1",
            "config.api_key": SECRET,
        },
    )
    assert named.status_code == 422
    assert "INNSYNC_CHANNEL_URL_OVERRIDES" in field_error(named.text, "f-base-url")
    assert SECRET not in named.text
    assert len(connections_of(db, hotel.tenant_id)) == before

    unknown = client.post(
        "/admin/connections/new",
        data={"csrf_token": token_of(page.text), "channel": "fake", "name": "x"},
    )
    assert unknown.status_code == 400


@development
def test_a_connection_added_through_the_form_keeps_its_secret_unshown(
    client: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    sign_in(client, hotel.emails["owner"])
    page = client.get(f"/admin/connections/new?channel=fake&property={hotel.property_ids[0]}")
    assert "fake" in options_of(page.text, "channel")
    answer = client.post(
        "/admin/connections/new",
        data={
            "csrf_token": token_of(page.text),
            "channel": "fake",
            "property": str(hotel.property_ids[0]),
            "name": "Fake from the form",
            "config.property_code": "HARBOUR",
            "config.webhook_secret": SECRET,
            "config.pull_interval_seconds": "45",
            "test": "true",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    (created,) = [c for c in connections_of(db, hotel.tenant_id) if c.name == "Fake from the form"]
    assert answer.headers["location"] == f"/admin/connections/{created.id}?done=created"
    stored = json.loads(secret_box.decrypt(created.config_encrypted))
    assert stored["property_code"] == "HARBOUR"
    assert stored["pull_interval_seconds"] == 45.0
    assert stored["webhook_secret"] == SECRET

    detail = client.get(answer.headers["location"])
    assert detail.status_code == 200
    assert "Connection added." in detail.text
    assert SECRET not in detail.text
    assert "A value is stored (never shown): leave blank to keep it." in detail.text

    # Saving the settings with the secret left blank keeps it; another field changes.
    saved = client.post(
        f"/admin/connections/{created.id}/settings",
        data={
            "csrf_token": token_of(detail.text),
            "name": "Fake renamed",
            "config.property_code": "HARBOUR-2",
            "config.webhook_secret": "",
            "config.pull_interval_seconds": "45",
            "test": "true",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with db.sessions() as session:
        again = session.get_one(Connection, created.id)
        stored = json.loads(secret_box.decrypt(again.config_encrypted))
        assert again.name == "Fake renamed"
    assert stored["property_code"] == "HARBOUR-2"
    assert stored["webhook_secret"] == SECRET

    refused = client.post(
        f"/admin/connections/{created.id}/settings",
        data={
            "csrf_token": token_of(detail.text),
            "config.pull_interval_seconds": "1",
            "config.webhook_secret": "a-new-secret-typed",
        },
    )
    assert refused.status_code == 422
    assert "at least 5.0 s" in refused.text
    assert "a-new-secret-typed" not in refused.text
    assert SECRET not in refused.text


@development
def test_actions_full_sync_progress_and_switches(client: TestClient, hotel: Hotel, db: Db) -> None:
    add_rooms(db, hotel)
    connection_id = hotel.connection_ids[0]
    sign_in(client, hotel.emails["manager"])
    detail = client.get(f"/admin/connections/{connection_id}")
    assert "Test connection" in detail.text
    assert "Provision on the channel" not in detail.text  # the fake channel cannot
    assert "Register webhooks" not in detail.text
    token = token_of(detail.text)

    tested = client.post(
        f"/admin/connections/{connection_id}/test",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert tested.headers["location"].endswith("?done=tested")

    mappings = client.get(f"/admin/connections/{connection_id}/mappings").text
    fields = dict(re.findall(r'name="((?:room|plan)\.[0-9a-f-]+)" value="([^"]*)"', mappings))
    assert len(fields) == 4
    assert set(fields.values()) == {""}
    assert mappings.count('class="badge">not mapped') == 4
    suggested = client.get(f"/admin/connections/{connection_id}/mappings?suggested=true").text
    filled = dict(re.findall(r'name="((?:room|plan)\.[0-9a-f-]+)" value="([^"]*)"', suggested))
    assert sorted(filled.values()) == ["BAR-DBL", "BAR-SGL", "DBL", "SGL"]  # by code
    saved = client.post(
        f"/admin/connections/{connection_id}/mappings",
        data={"csrf_token": token, **filled},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("/mappings?done=mappings")
    after = client.get(saved.headers["location"]).text
    assert "Everything is mapped." in after
    assert "not mapped</span>" not in after

    client.post(f"/admin/connections/{connection_id}/full-sync", data={"csrf_token": token})
    with db.sessions() as session:
        marks = session.scalar(select(func.count()).where(DirtyMark.connection_id == connection_id))
        assert marks
        assert marks >= 4
    progress = client.get(f"/admin/connections/{connection_id}/progress")
    assert "4 of 4 mapped room types and rate plans still to send" in progress.text
    assert 'hx-trigger="every' in progress.text  # polls while anything waits
    with transaction(db.sessions) as session:
        session.execute(
            DirtyMark.__table__.delete().where(DirtyMark.connection_id == connection_id)
        )
    done = client.get(f"/admin/connections/{connection_id}/progress")
    assert "Up to date" in done.text
    assert "hx-trigger" not in done.text

    switched = client.post(
        f"/admin/connections/{connection_id}/set",
        data={"csrf_token": token, "switch": "pull_enabled", "on": "false"},
        follow_redirects=False,
    )
    assert switched.headers["location"].endswith("?done=switched")
    with db.sessions() as session:
        assert session.get_one(Connection, connection_id).pull_enabled is False


def test_mapping_errors_are_shown_beside_the_rows(client: TestClient, hotel: Hotel, db: Db) -> None:
    add_rooms(db, hotel)
    connection_id = hotel.connection_ids[0]
    sign_in(client, hotel.emails["owner"])
    page = client.get(f"/admin/connections/{connection_id}/mappings").text
    rooms = re.findall(r'name="(room\.[0-9a-f-]+)"', page)
    plans = re.findall(r'name="(plan\.[0-9a-f-]+)"', page)
    answer = client.post(
        f"/admin/connections/{connection_id}/mappings",
        data={"csrf_token": token_of(page), rooms[0]: "SAME", rooms[1]: "SAME", plans[0]: "P"},
    )
    assert answer.status_code == 422
    assert "nothing was changed" in answer.text
    assert answer.text.count('class="field-error"') == 1  # beside the second SAME
    assert "is already mapped" in answer.text
    # A plan whose room type is left unmapped.
    orphan = client.post(
        f"/admin/connections/{connection_id}/mappings",
        data={"csrf_token": token_of(page), rooms[1]: "R2", plans[0]: "P"},
    )
    assert orphan.status_code == 422
    assert orphan.text.count('class="field-error"') == 1
    assert "map the plan&#39;s room type first" in orphan.text
    assert 'value="R2"' in orphan.text
    assert 'value="P"' in orphan.text
    with db.sessions() as session:
        count = session.scalar(
            select(func.count()).where(RoomTypeMapping.connection_id == connection_id)
        )
    assert count == 0


def test_mapping_editor_queries_do_not_grow_with_room_types(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    sign_in(client, hotel.emails["owner"])
    connection_id = hotel.connection_ids[0]

    def queries() -> int:
        seen: list[str] = []

        def count(*_: object) -> None:
            seen.append("q")

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(f"/admin/connections/{connection_id}/mappings").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    add_rooms(db, hotel, ("A1",))
    few = queries()
    add_rooms(db, hotel, ("B1", "B2", "B3", "B4", "B5"))
    assert queries() == few


def test_read_only_users_see_no_buttons_and_are_refused(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    add_rooms(db, hotel)
    connection_id = hotel.connection_ids[0]
    sign_in(client, hotel.emails["read_only"])
    detail = client.get(f"/admin/connections/{connection_id}")
    assert detail.status_code == 200
    assert "<button" not in detail.text.replace('<button type="submit">Sign out</button>', "")
    assert "read-only" in client.get("/admin/connections/new").text
    token = token_of(detail.text)
    posts = {
        "/admin/connections/new": {"channel": "channex", "name": "x"},
        f"/admin/connections/{connection_id}/settings": {"name": "Renamed"},
        f"/admin/connections/{connection_id}/test": {},
        f"/admin/connections/{connection_id}/provision": {},
        f"/admin/connections/{connection_id}/webhooks": {},
        f"/admin/connections/{connection_id}/full-sync": {},
        f"/admin/connections/{connection_id}/set": {"switch": "push_enabled", "on": "false"},
        f"/admin/connections/{connection_id}/mappings": {},
        f"/admin/connections/{connection_id}/oauth": {},
    }
    for path, fields in posts.items():
        answer = client.post(path, data={"csrf_token": token, **fields})
        assert answer.status_code == 403, path
        assert "read-only" in answer.text
    with db.sessions() as session:
        connection = session.get_one(Connection, connection_id)
        assert (connection.name, connection.push_enabled) == ("Channel 1.1", True)
        assert connection.last_full_sync_at is None
    assert len(connections_of(db, hotel.tenant_id)) == 1


def test_another_tenants_connection_is_not_found(
    client: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    other = build_hotel(db.sessions, secret_box, "Rival")
    theirs = other.connection_ids[0]
    sign_in(client, hotel.emails["owner"])
    token = token_of(client.get("/admin/connections").text)
    for path in ("", "/mappings", "/progress"):
        assert client.get(f"/admin/connections/{theirs}{path}").status_code == 404, path
    for path, fields in {
        "/settings": {"name": "Mine now"},
        "/test": {},
        "/provision": {},
        "/webhooks": {},
        "/full-sync": {},
        "/set": {"switch": "push_enabled", "on": "false"},
        "/mappings": {},
        "/oauth": {},
    }.items():
        answer = client.post(
            f"/admin/connections/{theirs}{path}", data={"csrf_token": token, **fields}
        )
        assert answer.status_code == 404, path
    # Nor can a connection be added to another tenant's property.
    page = client.get("/admin/connections/new?channel=channex")
    added = client.post(
        "/admin/connections/new",
        data={
            "csrf_token": token_of(page.text),
            "channel": "channex",
            "property": str(other.property_ids[0]),
            "name": "Sneaky",
            "config.api_key": SECRET,
        },
    )
    assert added.status_code == 422
    assert field_error(added.text, "f-property") == "Choose one of your properties."
    with db.sessions() as session:
        connection = session.get_one(Connection, theirs)
        assert (connection.name, connection.push_enabled) == ("Channel 1.1", True)
        assert connection.last_full_sync_at is None
    assert len(connections_of(db, other.tenant_id)) == 1


def test_fields_an_operators_account_holds_are_not_in_the_settings_form(
    client: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    with transaction(db.sessions) as session:
        create_account(
            session,
            secret_box,
            "channex",
            "operator-channex",
            {"base_url": "https://app.channex.io/api/v1", "api_key": SECRET},
        )
        grant_account(session, "operator-channex", hotel.tenant_id)
        connection = connections.create_connection(
            session,
            secret_box,
            hotel.tenant_id,
            hotel.property_ids[0],
            ConnectionCreate(
                channel="channex", name="On the account", config={"account": "operator-channex"}
            ),
        )
    sign_in(client, hotel.emails["owner"])
    detail = client.get(f"/admin/connections/{connection.id}")
    assert "operator-channex" in detail.text
    assert "config.api_key" not in detail.text
    assert "config.base_url" not in detail.text
    assert SECRET not in detail.text
    saved = client.post(
        f"/admin/connections/{connection.id}/settings",
        data={
            "csrf_token": token_of(detail.text),
            "config.feed_poll_seconds": "120",
            "config.cancellation_policies": "off",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with db.sessions() as session:
        stored = json.loads(
            secret_box.decrypt(session.get_one(Connection, connection.id).config_encrypted)
        )
    assert stored["feed_poll_seconds"] == 120.0
    assert "api_key" not in stored


def test_an_oauth_kind_gets_a_connect_button_that_starts_the_approval(
    client: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox, settings: Settings
) -> None:
    with transaction(db.sessions) as session:
        octorate = connections.create_connection(
            session,
            secret_box,
            hotel.tenant_id,
            hotel.property_ids[0],
            ConnectionCreate(channel="octorate", name="Octorate", config={"accommodation_id": 7}),
        ).id
    sign_in(client, hotel.emails["owner"])
    detail = client.get(f"/admin/connections/{octorate}")
    assert "Connect with Octorate" in detail.text
    assert (
        "Connect with Octorate"
        not in client.get(f"/admin/connections/{hotel.connection_ids[0]}").text
    )
    token = token_of(detail.text)
    # Without the app's client id the operator has not set Octorate up: refused, said why.
    unset = client.post(f"/admin/connections/{octorate}/oauth", data={"csrf_token": token})
    assert unset.status_code == 409
    assert "INNSYNC_OCTORATE_CLIENT_ID" in unset.text
    client.app.state.settings = settings.model_copy(update={"octorate_client_id": "app-1"})  # type: ignore[attr-defined]
    started = client.post(
        f"/admin/connections/{octorate}/oauth",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert started.status_code == 303
    target = started.headers["location"]
    assert target.startswith(settings.octorate_authorize_url)
    assert "client_id=app-1" in target
    assert "state=" in target
    # A non-OAuth kind has no approval to start.
    other = client.post(
        f"/admin/connections/{hotel.connection_ids[0]}/oauth", data={"csrf_token": token}
    )
    assert other.status_code == 409


@development
def test_a_drift_audit_queues_what_the_channel_lost(
    client: TestClient, hotel: Hotel, db: Db
) -> None:
    add_rooms(db, hotel, ("DBL",))
    connection_id = hotel.connection_ids[0]
    sign_in(client, hotel.emails["manager"])
    token = token_of(client.get(f"/admin/connections/{connection_id}").text)
    suggested = client.get(f"/admin/connections/{connection_id}/mappings?suggested=true").text
    filled = dict(re.findall(r'name="((?:room|plan)\.[0-9a-f-]+)" value="([^"]*)"', suggested))
    client.post(
        f"/admin/connections/{connection_id}/mappings", data={"csrf_token": token, **filled}
    )
    with transaction(db.sessions) as session:
        session.execute(
            DirtyMark.__table__.delete().where(DirtyMark.connection_id == connection_id)
        )
        connection = session.get_one(Connection, connection_id)
        # The channel acknowledged three nights a week ahead; a fresh fake channel shows none.
        first = datetime.now(UTC).date() + timedelta(days=7)
        nights = {first + timedelta(days=n): 2 for n in range(3)}
        store_availability(
            session, connection_id, load_mappings(session, connection), {"DBL": nights}
        )

    detail = client.get(f"/admin/connections/{connection_id}")
    assert "Audit drift" in detail.text  # the fake channel reads its ARI back
    audited = client.post(f"/admin/connections/{connection_id}/drift", data={"csrf_token": token})
    assert audited.status_code == 200
    assert "Drift audit: 3 availability dates and 0 rate dates differ" in audited.text
    with db.sessions() as session:
        marked = session.scalars(
            select(DirtyMark).where(
                DirtyMark.connection_id == connection_id, DirtyMark.kind == "availability"
            )
        ).all()
    covered = {day for mark in marked for day in nights if mark.start <= day < mark.end}
    assert covered == set(nights)
