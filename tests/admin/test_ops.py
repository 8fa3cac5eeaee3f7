"""The operations pages over HTTP on every configured database: property set-up with its forms,
sync history with dead letters and their replay, inbox requeue, the event feed and webhook
deliveries with resend. Each checks tenant scoping (404), read-only refusals and query counts."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import service as events
from innsync.events.models import WebhookDelivery
from innsync.events.schemas import SubscriptionCreate
from innsync.inbox.models import InboxItem
from innsync.marketplace.schemas import AriSourceWrite
from innsync.marketplace.sources import set_ari_source
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.models import RatePlan, RoomType, Unit
from innsync.properties.schemas import RatePlanCreate, RoomTypeCreate, UnitCreate
from innsync.settings import Settings
from innsync.sync.models import DeadLetter, SyncLogEntry
from innsync.tenants.users import create_user
from tests.admin.hotels import PASSWORD, PASSWORDS, Hotel, admin_settings, build_hotel
from tests.admin.test_pages import sign_in, token_of
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel
from tests.sync.engine_fixtures import build_hotel as build_synced_hotel


@pytest.fixture
def settings() -> Settings:
    return admin_settings()


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    return build_hotel(db.sessions, secret_box, "Harbour")


@pytest.fixture
def other(db: Db, secret_box: SecretBox) -> Hotel:
    return build_hotel(db.sessions, secret_box, "Elsewhere")


@pytest.fixture
def statements(db: Db) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


ROOM_TYPE = {
    "code": "DBL",
    "name": "Double",
    "sellable_units": "4",
    "max_adults": "2",
    "max_children": "1",
    "max_occupancy": "3",
    "default_occupancy": "2",
}


def add_room_type(db: Db, hotel: Hotel, code: str = "DBL", units: int = 0) -> uuid.UUID:
    with transaction(db.sessions) as session:
        room_type = properties.create_room_type(
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
        for number in range(units):
            properties.create_unit(
                session, hotel.tenant_id, room_type.id, UnitCreate(name=f"{code}{number}")
            )
        return room_type.id


def add_rate_plan(db: Db, hotel: Hotel, room_type_id: uuid.UUID, code: str) -> uuid.UUID:
    with transaction(db.sessions) as session:
        plan = properties.create_rate_plan(
            session,
            hotel.tenant_id,
            hotel.property_ids[0],
            RatePlanCreate(room_type_id=room_type_id, code=code, name=f"Plan {code}"),
        )
        return plan.id


def post(client: TestClient, path: str, data: dict[str, Any], page: str = "/admin") -> Any:
    token = token_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def field_error(html: str, prefix: str, name: str) -> str:
    """The message shown under a field, which the field names as its description."""
    found = re.search(
        rf'<(?:input|select|textarea) id="{prefix}-{name}"[^>]*'
        rf'aria-describedby="[^"]*{prefix}-{name}-error"[^>]*aria-invalid="true">',
        html,
    )
    assert found is not None, f"{name} is not marked invalid"
    message = re.search(rf'<span class="ops-error" id="{prefix}-{name}-error">([^<]*)</span>', html)
    assert message is not None
    return unescape(message.group(1))


def count(db: Db, model: Any, *where: Any) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# Property set-up


def test_properties_and_a_property_page_show_its_set_up(
    client: TestClient, db: Db, hotel: Hotel, other: Hotel
) -> None:
    room_type_id = add_room_type(db, hotel, units=2)
    add_rate_plan(db, hotel, room_type_id, "BAR")
    add_room_type(db, other, "OTHER")
    sign_in(client, hotel.emails["manager"])
    listing = client.get("/admin/properties")
    assert listing.status_code == 200
    assert "Harbour property 1" in listing.text
    assert "Elsewhere" not in listing.text
    prop = client.get(f"/admin/properties/{hotel.property_ids[0]}")
    assert prop.status_code == 200
    assert "Room DBL" in prop.text
    assert "DBL0" in prop.text
    assert "DBL1" in prop.text
    assert "Plan BAR" in prop.text
    assert "OTHER" not in prop.text
    # Another tenant's objects are not found, whatever the page.
    for path in (
        f"/admin/properties/{other.property_ids[0]}",
        f"/admin/room-types/{add_room_type(db, other, 'SGL')}",
        f"/admin/rate-plans/{add_rate_plan(db, other, add_room_type(db, other, 'TWN'), 'X')}",
        f"/admin/properties/{uuid.uuid4()}",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text
    assert client.get("/admin/properties/not-an-id").status_code == 422


def test_a_room_type_form_shows_each_problem_next_to_its_field(
    client: TestClient, db: Db, hotel: Hotel
) -> None:
    sign_in(client, hotel.emails["owner"])
    path = f"/admin/properties/{hotel.property_ids[0]}/room-types"
    bad = post(client, path, {**ROOM_TYPE, "code": "bad code!", "max_adults": "0"})
    assert bad.status_code == 422
    assert field_error(bad.text, "rt", "code").startswith("Use letters, digits")
    assert field_error(bad.text, "rt", "max_adults") == "Input should be greater than or equal to 1"
    assert 'value="bad code!"' in bad.text  # what was typed is kept
    assert "Please correct the 2 fields marked below." in bad.text
    # A rule across fields (checked once each field is valid) lands on the field it names.
    too_many = post(client, path, {**ROOM_TYPE, "default_occupancy": "4"})
    assert too_many.status_code == 422
    assert field_error(too_many.text, "rt", "default_occupancy") == (
        "default_occupancy cannot exceed max_occupancy"
    )
    not_a_number = post(client, path, {**ROOM_TYPE, "sellable_units": "four"})
    assert not_a_number.status_code == 422
    assert field_error(not_a_number.text, "rt", "sellable_units") == "Enter a whole number."
    assert count(db, RoomType, RoomType.tenant_id == hotel.tenant_id) == 0

    created = post(client, path, ROOM_TYPE)
    assert created.status_code == 303
    assert created.headers["location"].endswith("?done=room-type-saved#main")
    page = client.get(created.headers["location"])
    assert "Room type saved." in page.text
    assert "Double" in page.text
    twice = post(client, path, ROOM_TYPE)
    assert twice.status_code == 409
    assert field_error(twice.text, "rt", "code") == "a room type with code 'DBL' already exists"
    assert count(db, RoomType, RoomType.tenant_id == hotel.tenant_id) == 1


def test_room_types_and_units_are_edited_and_deleted(
    client: TestClient, db: Db, hotel: Hotel
) -> None:
    room_type_id = add_room_type(db, hotel)
    sign_in(client, hotel.emails["owner"])
    edit = client.get(f"/admin/room-types/{room_type_id}")
    assert edit.status_code == 200
    wrong = post(client, f"/admin/room-types/{room_type_id}", {**ROOM_TYPE, "max_adults": "9"})
    assert wrong.status_code == 422
    assert field_error(wrong.text, "rt", "max_adults") == "max_adults cannot exceed max_occupancy"
    saved = post(client, f"/admin/room-types/{room_type_id}", {**ROOM_TYPE, "code": "IGNORED"})
    assert saved.status_code == 303
    with db.sessions() as session:
        room_type = session.get_one(RoomType, room_type_id)
        assert (room_type.code, room_type.name, room_type.max_occupancy) == ("DBL", "Double", 3)

    added = post(client, f"/admin/room-types/{room_type_id}/units", {"name": "101"})
    assert added.status_code == 303
    same = post(client, f"/admin/room-types/{room_type_id}/units", {"name": "101"})
    assert same.status_code == 409
    assert "a unit named &#39;101&#39; already exists" in same.text
    empty = post(client, f"/admin/room-types/{room_type_id}/units", {"name": ""})
    assert empty.status_code == 422
    with db.sessions() as session:
        unit_id = session.scalars(select(Unit.id).where(Unit.room_type_id == room_type_id)).one()
    assert post(client, f"/admin/units/{unit_id}/delete", {}).status_code == 303
    assert count(db, Unit, Unit.room_type_id == room_type_id) == 0

    plan_id = add_rate_plan(db, hotel, room_type_id, "BAR")
    refused = post(client, f"/admin/room-types/{room_type_id}/delete", {})
    assert refused.status_code == 409
    assert "Refused: delete the room type&#39;s rate plans first" in refused.text
    assert post(client, f"/admin/rate-plans/{plan_id}/delete", {}).status_code == 303
    assert post(client, f"/admin/room-types/{room_type_id}/delete", {}).status_code == 303
    assert count(db, RoomType, RoomType.id == room_type_id) == 0


def test_rate_plans_derived_and_per_person_through_the_forms(
    client: TestClient, db: Db, hotel: Hotel
) -> None:
    room_type_id = str(add_room_type(db, hotel))
    sign_in(client, hotel.emails["owner"])
    path = f"/admin/properties/{hotel.property_ids[0]}/rate-plans"
    base = {"room_type_id": room_type_id, "meal_plan": "breakfast", "rule_kind": "percent"}
    bar = post(client, path, {**base, "code": "BAR", "name": "Best", "pricing": "per_room"})
    assert bar.status_code == 303
    no_occupancies = post(
        client, path, {**base, "code": "PP", "name": "PP", "pricing": "per_person"}
    )
    assert no_occupancies.status_code == 422
    assert field_error(no_occupancies.text, "rp", "occupancies") == (
        "a per_person plan needs occupancies, e.g. [1, 2]"
    )
    too_many = post(
        client,
        path,
        {**base, "code": "PP", "name": "PP", "pricing": "per_person", "occupancies": "1, 5"},
    )
    assert too_many.status_code == 422
    assert "exceed the room type's max_occupancy 2" in field_error(
        too_many.text, "rp", "occupancies"
    )
    per_person = {
        **base,
        "code": "PP",
        "name": "PP",
        "pricing": "per_person",
        "occupancies": "2, 1",
    }
    assert post(client, path, per_person).status_code == 303
    with db.sessions() as session:
        plans = {p.code: p for p in session.scalars(select(RatePlan))}
    assert plans["PP"].occupancies == [1, 2]
    assert plans["BAR"].meal_plan == "breakfast"

    derived = {
        **base,
        "code": "NRF",
        "name": "Non refundable",
        "pricing": "per_room",
        "parent_id": str(plans["BAR"].id),
        "rule_value": "-10",
        "inherit": ["stop_sell", "min_stay_arrival"],
        "children_fee": "12.50",
    }
    bad_value = post(client, path, {**derived, "rule_value": "ten"})
    assert bad_value.status_code == 422
    assert field_error(bad_value.text, "rp", "rule_value") == "Input should be a valid decimal"
    wrong_parent = post(client, path, {**derived, "parent_id": str(plans["PP"].id)})
    assert wrong_parent.status_code == 422
    assert field_error(wrong_parent.text, "rp", "parent_id") == (
        "a per_room plan cannot derive from a per_person plan"
    )
    assert post(client, path, derived).status_code == 303
    with db.sessions() as session:
        nrf = session.scalars(select(RatePlan).where(RatePlan.code == "NRF")).one()
    assert nrf.parent_id == plans["BAR"].id
    assert nrf.derivation_rules == [{"kind": "percent", "value": "-10"}]
    assert nrf.inherited_restrictions == ["min_stay_arrival", "stop_sell"]
    assert str(nrf.children_fee) == "12.50"
    shown = client.get(f"/admin/properties/{hotel.property_ids[0]}").text
    assert "inherits min stay arrival, stop sell" in shown

    edit = client.get(f"/admin/rate-plans/{nrf.id}")
    assert edit.status_code == 200
    assert 'value="-10"' in edit.text
    changed = {**derived, "name": "Prepaid", "rule_value": "-15", "children_fee": ""}
    assert post(client, f"/admin/rate-plans/{nrf.id}", changed).status_code == 303
    with db.sessions() as session:
        nrf = session.get_one(RatePlan, nrf.id)
        assert (nrf.name, nrf.derivation_rules, nrf.children_fee) == (
            "Prepaid",
            [{"kind": "percent", "value": "-15"}],
            None,
        )
    refused = post(client, f"/admin/rate-plans/{plans['BAR'].id}/delete", {})
    assert refused.status_code == 409
    assert "other rate plans derive from this one" in refused.text


def test_a_property_set_up_by_a_connection_refuses_changes_clearly(
    client: TestClient, db: Db, hotel: Hotel
) -> None:
    room_type_id = add_room_type(db, hotel)
    with transaction(db.sessions) as session:
        set_ari_source(
            session,
            hotel.tenant_id,
            hotel.property_ids[0],
            AriSourceWrite(connection_id=hotel.connection_ids[0]),
            datetime.now(UTC),
        )
    sign_in(client, hotel.emails["owner"])
    page = client.get(f"/admin/properties/{hotel.property_ids[0]}")
    assert "come from a connection" in page.text
    assert "a connection (channel)" in client.get("/admin/properties").text
    refused = post(client, f"/admin/properties/{hotel.property_ids[0]}/room-types", ROOM_TYPE)
    assert refused.status_code == 409
    assert "only that connection writes its room types" in refused.text
    deleted = post(client, f"/admin/room-types/{room_type_id}/delete", {})
    assert deleted.status_code == 409
    assert "Refused: ARI of property" in deleted.text
    assert count(db, RoomType, RoomType.tenant_id == hotel.tenant_id) == 1


# Sync history, dead letters and inbox items


def synced_with_dead_letters(db: Db, secret_box: SecretBox) -> tuple[SyncedHotel, dict[str, str]]:
    """The sync engine's hotel on the fake channel, which refuses room type R0's availability:
    the worker's real pass leaves dead letters and a log. Returns it with its users' e-mails."""
    synced = build_synced_hotel(db.sessions, secret_box, Clock())
    synced.channel.reject_entries(
        lambda update: (
            "Room R0 is closed on the channel"
            if getattr(update, "room_type_code", None) == "R0"
            and not hasattr(update, "rate_plan_code")
            else None
        )
    )
    asyncio.run(synced.drain())
    synced.channel.clear_faults()
    emails = {}
    with transaction(db.sessions) as session:
        for role in ("owner", "read_only"):
            emails[role] = f"{role}-{uuid.uuid4().hex[:8]}@sync.example"
            create_user(session, PASSWORDS, synced.tenant_id, emails[role], PASSWORD, role)
    return synced, emails


def test_sync_history_lists_calls_by_outcome_and_replays_dead_letters(
    client: TestClient, db: Db, secret_box: SecretBox, other: Hotel
) -> None:
    synced, emails = synced_with_dead_letters(db, secret_box)
    letters = count(db, DeadLetter, DeadLetter.connection_id == synced.connection_id)
    assert letters > 0
    sign_in(client, emails["owner"])
    index = client.get("/admin/sync")
    assert index.status_code == 200
    assert f'<strong class="ops-bad">{letters}</strong>' in index.text
    assert "Elsewhere" not in index.text
    path = f"/admin/connections/{synced.connection_id}/history"
    page = client.get(path)
    assert page.status_code == 200
    reason = '<td class="reason">Room R0 is closed on the channel</td>'
    assert page.text.count(reason) == letters
    assert f"{letters} waiting." in page.text
    assert "Replay dead letters" in page.text
    partial = client.get(path, params={"outcome": "partial"})
    rejected_rows = count(
        db,
        SyncLogEntry,
        SyncLogEntry.connection_id == synced.connection_id,
        SyncLogEntry.outcome == "partial",
    )
    assert rejected_rows > 0
    assert partial.text.count('ops-outcome-partial">') == rejected_rows
    assert 'ops-outcome-accepted">' not in partial.text
    assert 'ops-outcome-accepted">' in page.text
    assert client.get(path, params={"outcome": "bogus"}).status_code == 400
    assert client.get(f"/admin/connections/{other.connection_ids[0]}/history").status_code == 404

    marks_before = count(db, DirtyMark, DirtyMark.connection_id == synced.connection_id)
    wrong_kind = post(
        client, f"/admin/connections/{synced.connection_id}/dead-letters/replay", {"kind": "x"}
    )
    assert wrong_kind.status_code == 400
    replayed = post(client, f"/admin/connections/{synced.connection_id}/dead-letters/replay", {})
    assert replayed.status_code == 303
    after = client.get(replayed.headers["location"])
    assert f"{letters} dead letter{'' if letters == 1 else 's'} replayed" in after.text
    assert "0 waiting." in after.text
    assert count(db, DeadLetter, DeadLetter.replayed_at.is_(None)) == 0
    assert count(db, DirtyMark, DirtyMark.connection_id == synced.connection_id) == (
        marks_before + letters
    )
    elsewhere = post(
        client, f"/admin/connections/{other.connection_ids[0]}/dead-letters/replay", {}
    )
    assert elsewhere.status_code == 404


def add_item(db: Db, hotel: Hotel, key: str, status: str) -> int:
    with transaction(db.sessions) as session:
        item = InboxItem(
            connection_id=hotel.connection_ids[0],
            tenant_id=hotel.tenant_id,
            source="webhook",
            dedupe_key=key,
            headers={},
            body=b"{}",
            status=status,
            reason=f"{status} because the room is unmapped",
            attempts=3,
        )
        session.add(item)
        session.flush()
        return item.id


def test_waiting_inbox_items_are_requeued(
    client: TestClient, db: Db, hotel: Hotel, other: Hotel
) -> None:
    parked = add_item(db, hotel, "parked-1", "parked")
    never = add_item(db, hotel, "rejected:1", "rejected")
    theirs = add_item(db, other, "parked-2", "parked")
    sign_in(client, hotel.emails["manager"])
    path = f"/admin/connections/{hotel.connection_ids[0]}/history"
    page = client.get(path)
    assert "parked because the room is unmapped" in page.text
    assert f"Requeue inbox item {parked}" in page.text
    assert f"Requeue inbox item {never}" not in page.text  # it can never apply: no button
    assert "failed verification" in page.text
    requeued = post(
        client, f"/admin/connections/{hotel.connection_ids[0]}/inbox-items/{parked}/requeue", {}
    )
    assert requeued.status_code == 303
    assert "1 inbox item requeued" in client.get(requeued.headers["location"]).text
    refused = post(
        client, f"/admin/connections/{hotel.connection_ids[0]}/inbox-items/{never}/requeue", {}
    )
    assert refused.status_code == 409
    foreign = post(
        client, f"/admin/connections/{other.connection_ids[0]}/inbox-items/{theirs}/requeue", {}
    )
    assert foreign.status_code == 404
    through_ours = post(
        client, f"/admin/connections/{hotel.connection_ids[0]}/inbox-items/{theirs}/requeue", {}
    )
    assert through_ours.status_code == 404
    with db.sessions() as session:
        states = dict(session.execute(select(InboxItem.id, InboxItem.status)).all())
    assert states == {parked: "pending", never: "rejected", theirs: "parked"}


# Events and webhooks


def subscribed(db: Db, secret_box: SecretBox, hotel: Hotel, url: str) -> tuple[uuid.UUID, int]:
    """A subscription of the hotel and one delivery of one event to it."""
    with transaction(db.sessions) as session:
        subscription, _ = events.create_subscription(
            session, secret_box, hotel.tenant_id, SubscriptionCreate.model_validate({"url": url})
        )
        events.emit(
            session, hotel.tenant_id, "reservation.created", {"guest": "Ada"}, subject_id="R-1"
        )
    with transaction(db.sessions) as session:
        events.sequence_pending(session)
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
        ).one()
        delivery.status = "failed"
        return subscription.id, delivery.id


def test_events_and_deliveries_with_resend(
    client: TestClient, db: Db, secret_box: SecretBox, hotel: Hotel, other: Hotel
) -> None:
    subscription_id, delivery_id = subscribed(db, secret_box, hotel, "https://pms.example/in")
    theirs, their_delivery = subscribed(db, secret_box, other, "https://other.example/in")
    sign_in(client, hotel.emails["manager"])
    feed = client.get("/admin/events")
    assert feed.status_code == 200
    assert "reservation.created" in feed.text
    assert "https://pms.example/in" in feed.text
    assert "other.example" not in feed.text
    assert client.get("/admin/events", params={"after": -1}).status_code == 422
    page = client.get(f"/admin/webhooks/{subscription_id}")
    assert page.status_code == 200
    assert f"Resend delivery {delivery_id}" in page.text
    assert client.get(f"/admin/webhooks/{theirs}").status_code == 404

    resend = f"/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/resend"
    first = post(client, resend, {})
    assert first.status_code == 303
    assert "Queued again as delivery" in client.get(first.headers["location"]).text
    second = post(client, resend, {})
    assert (
        "already waiting to be sent: nothing was added"
        in client.get(second.headers["location"]).text
    )
    assert count(db, WebhookDelivery, WebhookDelivery.subscription_id == subscription_id) == 2
    foreign = post(client, f"/admin/webhooks/{theirs}/deliveries/{their_delivery}/resend", {})
    assert foreign.status_code == 404
    mixed = post(
        client, f"/admin/webhooks/{subscription_id}/deliveries/{their_delivery}/resend", {}
    )
    assert mixed.status_code == 404
    assert count(db, WebhookDelivery, WebhookDelivery.subscription_id == theirs) == 1

    # A URL's query may hold the PMS's own token: pages show the URL without it.
    tokened, _ = subscribed(db, secret_box, hotel, "https://pms.example/in?token=s3cret")
    listed = client.get("/admin/events").text
    assert "https://pms.example/in?…" in listed
    assert "s3cret" not in listed + client.get(f"/admin/webhooks/{tokened}").text


# Roles and query counts


def test_read_only_users_see_no_forms_and_their_posts_are_refused(
    client: TestClient, db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    room_type_id = add_room_type(db, hotel)
    subscription_id, delivery_id = subscribed(db, secret_box, hotel, "https://pms.example/in")
    parked = add_item(db, hotel, "parked-1", "parked")
    sign_in(client, hotel.emails["read_only"])
    prop = client.get(f"/admin/properties/{hotel.property_ids[0]}")
    assert prop.status_code == 200
    assert "New room type" not in prop.text
    assert "<button" not in prop.text.split("</header>")[1]
    assert "Resend" not in client.get(f"/admin/webhooks/{subscription_id}").text
    assert "Requeue" not in client.get(f"/admin/connections/{hotel.connection_ids[0]}/history").text
    connection = hotel.connection_ids[0]
    for path, data in (
        (f"/admin/properties/{hotel.property_ids[0]}/room-types", ROOM_TYPE),
        (f"/admin/room-types/{room_type_id}", ROOM_TYPE),
        (f"/admin/room-types/{room_type_id}/delete", {}),
        (f"/admin/room-types/{room_type_id}/units", {"name": "101"}),
        (f"/admin/properties/{hotel.property_ids[0]}/rate-plans", {"code": "X"}),
        (f"/admin/connections/{connection}/dead-letters/replay", {}),
        (f"/admin/connections/{connection}/inbox-items/{parked}/requeue", {}),
        (f"/admin/webhooks/{subscription_id}/deliveries/{delivery_id}/resend", {}),
    ):
        answer = post(client, path, data)
        assert answer.status_code == 403, path
        assert "read-only" in answer.text
    assert count(db, RoomType, RoomType.tenant_id == hotel.tenant_id) == 1
    assert count(db, Unit) == 0
    assert count(db, WebhookDelivery) == 1
    assert count(db, InboxItem, InboxItem.status == "parked") == 1
    # Without the form's token, even a writer is refused before anything is read.
    client.cookies.clear()
    sign_in(client, hotel.emails["owner"])
    forged = client.post(
        f"/admin/properties/{hotel.property_ids[0]}/room-types",
        data={**ROOM_TYPE, "csrf_token": "forged"},
    )
    assert forged.status_code == 403
    assert count(db, RoomType, RoomType.tenant_id == hotel.tenant_id) == 1


def queries(client: TestClient, statements: list[str], path: str) -> int:
    statements.clear()
    answer = client.get(path)
    assert answer.status_code == 200, path
    return len([s for s in statements if "SAVEPOINT" not in s])


def test_page_queries_do_not_grow_with_rows(
    client: TestClient, db: Db, secret_box: SecretBox, statements: list[str]
) -> None:
    counts: list[dict[str, int]] = []
    for size in (1, 4):
        hotel = build_hotel(db.sessions, secret_box, f"Size {size}", size, size)
        for number in range(size):
            room_type_id = add_room_type(db, hotel, f"RT{number}", units=size)
            add_rate_plan(db, hotel, room_type_id, f"P{number}")
            subscription_id, _ = subscribed(
                db, secret_box, hotel, f"https://pms{number}.example/in"
            )
            add_item(db, hotel, f"parked-{number}", "parked")
        client.cookies.clear()
        sign_in(client, hotel.emails["owner"])
        counts.append(
            {
                path: queries(client, statements, path)
                for path in (
                    "/admin/properties",
                    f"/admin/properties/{hotel.property_ids[0]}",
                    "/admin/sync",
                    f"/admin/connections/{hotel.connection_ids[0]}/history",
                    "/admin/events",
                    f"/admin/webhooks/{subscription_id}",
                )
            }
        )
    small, large = (list(c.values()) for c in counts)
    assert small == large, counts
    # Session, the property, its ARI source, room types, units, rate plans.
    assert large[1] == 6, counts
