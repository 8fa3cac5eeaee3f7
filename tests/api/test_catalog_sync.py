"""The property's address, contact and content, and rate plans' child and infant fees, on
Channex: sent by provisioning, then kept in step by the catalog pass (level-triggered).

The Channex side is the in-process simulator; the database is real.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from innsync.connections.catalog_sync import keep_catalogs_in_step
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from tests.api.channex_site import listed, make_site, sim_writes
from tests.api.helpers import new_tenant, ok
from tests.conftest import Db
from tests.simulators.conftest import SimClient

ADDRESS = {
    "email": "desk@harbour.example",
    "phone": "+351 21 000 0000",
    "zip_code": "1100-148",
    "country": "PT",
    "state": "Lisboa",
    "city": "Lisbon",
    "address": "Rua do Cais 1",
    "latitude": "38.7077",
    "longitude": "-9.1365",
    "website": "https://harbour.example",
}


def catalog_pass(db: Db, box: SecretBox, sim_app: FastAPI) -> int:
    async def run() -> int:
        transport = httpx.ASGITransport(app=sim_app)
        async with httpx.AsyncClient(transport=transport) as http:
            return await keep_catalogs_in_step(db.sessions, box, http)

    return asyncio.run(run())


def remote_property(sim: SimClient) -> dict[str, Any]:
    (prop,) = listed(sim, "/api/v1/properties")
    return prop


def test_an_address_change_reaches_channex_through_the_catalog_pass(
    api: TestClient, db: Db, sim: SimClient, sim_app: FastAPI, secret_box: SecretBox
) -> None:
    site = make_site(api, new_tenant(db.sessions))
    headers = site.caller.headers
    # Not provisioned yet: the pass leaves the connection alone.
    assert catalog_pass(db, secret_box, sim_app) == 0
    assert sim_writes(sim) == 0
    ok(api.post(f"/api/v1/connections/{site.connection_id}/provision", headers=headers))
    before = remote_property(sim)
    assert (before["address"], before["country"], before["content"]) == (None, None, {})
    # In step: nothing to send, nothing sent.
    writes = sim_writes(sim)
    assert catalog_pass(db, secret_box, sim_app) == 0
    assert sim_writes(sim) == writes

    read = ok(
        api.patch(
            f"/api/v1/properties/{site.property_id}",
            json={**ADDRESS, "description": "Rooms over the river."},
            headers=headers,
        )
    )
    assert {name: read[name] for name in ADDRESS} == ADDRESS

    assert catalog_pass(db, secret_box, sim_app) == 1
    after = remote_property(sim)
    assert {name: after[name] for name in ADDRESS} == ADDRESS
    assert after["content"] == {"description": "Rooms over the river."}
    assert after["title"] == "Harbour"
    assert sim_writes(sim) == writes + 1  # one PUT of the property, nothing else
    # Sent once: the next pass finds the catalog in step.
    assert catalog_pass(db, secret_box, sim_app) == 0
    assert sim_writes(sim) == writes + 1

    # A changed address goes again; a field cleared in innsync keeps what Channex holds.
    ok(
        api.patch(
            f"/api/v1/properties/{site.property_id}",
            json={"address": "Rua Nova 9", "website": None},
            headers=headers,
        )
    )
    assert catalog_pass(db, secret_box, sim_app) == 1
    again = remote_property(sim)
    assert (again["address"], again["website"]) == ("Rua Nova 9", ADDRESS["website"])
    assert ok(api.get(f"/api/v1/properties/{site.property_id}", headers=headers))["website"] is None


def test_rate_plan_fees_are_sent_on_creation_and_kept_in_step(
    api: TestClient, db: Db, sim: SimClient, sim_app: FastAPI, secret_box: SecretBox
) -> None:
    site = make_site(api, new_tenant(db.sessions))
    headers = site.caller.headers
    bar = site.rate_plan_ids["BAR"]
    ok(
        api.patch(
            f"/api/v1/rate-plans/{bar}",
            json={"children_fee": "12.50", "infant_fee": "0"},
            headers=headers,
        )
    )
    ok(api.post(f"/api/v1/connections/{site.connection_id}/provision", headers=headers))
    plans = {p["title"]: p for p in listed(sim, "/api/v1/rate_plans")}
    assert (plans["Best available"]["children_fee"], plans["Best available"]["infant_fee"]) == (
        "12.50",
        "0.00",
    )
    # A plan without fees charges none on Channex either (§1.4 default).
    assert plans["Triple per person"]["children_fee"] == "0.00"

    plan = ok(api.patch(f"/api/v1/rate-plans/{bar}", json={"children_fee": "15"}, headers=headers))
    assert (plan["children_fee"], plan["infant_fee"]) == ("15.00", "0.00")
    assert catalog_pass(db, secret_box, sim_app) == 1
    plans = {p["title"]: p for p in listed(sim, "/api/v1/rate_plans")}
    assert plans["Best available"]["children_fee"] == "15.00"

    cleared = ok(
        api.patch(f"/api/v1/rate-plans/{bar}", json={"children_fee": None}, headers=headers)
    )
    assert cleared["children_fee"] is None
    assert catalog_pass(db, secret_box, sim_app) == 1
    plans = {p["title"]: p for p in listed(sim, "/api/v1/rate_plans")}
    assert plans["Best available"]["children_fee"] == "0.00"


def test_property_contact_fields_are_validated(api: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    base = {"name": "Harbour", "timezone": "Europe/Lisbon", "currency": "EUR"}
    for field, value in (
        ("country", "XX"),
        ("country", "pt"),
        ("country", "EU"),
        ("latitude", "91"),
        ("longitude", "12,5"),
        ("latitude", 45.1),
        ("phone", "1" * 33),
        ("email", "desk.harbour.example"),
        ("website", "harbour.example"),
    ):
        answer = api.post("/api/v1/properties", json={**base, field: value}, headers=caller.headers)
        assert answer.status_code == 422, (field, value, answer.text)
    assert ok(api.get("/api/v1/properties", headers=caller.headers)) == []
    created = ok(
        api.post("/api/v1/properties", json={**base, **ADDRESS}, headers=caller.headers), 201
    )
    assert {name: created[name] for name in ADDRESS} == ADDRESS
    assert created["description"] is None


def test_a_fee_finer_than_the_currency_is_refused(api: TestClient, db: Db) -> None:
    site_caller = new_tenant(db.sessions)
    headers = site_caller.headers
    prop = ok(
        api.post(
            "/api/v1/properties",
            json={"name": "Tokyo", "timezone": "Asia/Tokyo", "currency": "JPY"},
            headers=headers,
        ),
        201,
    )
    room = ok(
        api.post(
            f"/api/v1/properties/{prop['id']}/room-types",
            json={
                "code": "TWN",
                "name": "Twin",
                "sellable_units": 2,
                "max_adults": 2,
                "max_occupancy": 2,
                "default_occupancy": 2,
            },
            headers=headers,
        ),
        201,
    )
    body = {"room_type_id": room["id"], "code": "BAR", "name": "Best"}
    refused = api.post(
        f"/api/v1/properties/{prop['id']}/rate-plans",
        json={**body, "children_fee": "100.5"},
        headers=headers,
    )
    assert refused.status_code == 422, refused.text
    assert "JPY" in refused.text
    negative = api.post(
        f"/api/v1/properties/{prop['id']}/rate-plans",
        json={**body, "infant_fee": "-1"},
        headers=headers,
    )
    assert negative.status_code == 422
    made = ok(
        api.post(
            f"/api/v1/properties/{prop['id']}/rate-plans",
            json={**body, "children_fee": "1000"},
            headers=headers,
        ),
        201,
    )
    assert (made["children_fee"], made["infant_fee"]) == ("1000.00", None)


def test_a_connection_another_process_is_provisioning_is_left_alone(
    api: TestClient, db: Db, sim: SimClient, sim_app: FastAPI, secret_box: SecretBox
) -> None:
    site = make_site(api, new_tenant(db.sessions))
    headers = site.caller.headers
    ok(api.post(f"/api/v1/connections/{site.connection_id}/provision", headers=headers))
    ok(api.patch(f"/api/v1/properties/{site.property_id}", json=ADDRESS, headers=headers))
    held_until = datetime(2100, 1, 1, tzinfo=UTC)  # held by another process
    with db.sessions() as session:
        connection = session.get_one(Connection, uuid.UUID(site.connection_id))
        connection.catalog_lease_until = held_until
        session.commit()
    writes = sim_writes(sim)
    assert catalog_pass(db, secret_box, sim_app) == 1  # out of step, but held elsewhere
    assert sim_writes(sim) == writes
    assert remote_property(sim)["address"] is None
    with db.sessions() as session:
        connection = session.get_one(Connection, uuid.UUID(site.connection_id))
        connection.catalog_lease_until = datetime(2000, 1, 1, tzinfo=UTC)  # long expired
        session.commit()
    assert catalog_pass(db, secret_box, sim_app) == 1
    assert remote_property(sim)["address"] == ADDRESS["address"]
    with db.sessions() as session:
        released = session.get_one(Connection, uuid.UUID(site.connection_id))
        assert released.catalog_lease_until is None
