"""Provisioning a Channex connection and reading its remote catalog through the API.

The Channex side is the simulator, reached in process through httpx's ASGI transport; the
database is real. What Channex holds is read through the simulator's public API.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from innsync.cli.connections import describe, provision_connection
from innsync.connections.catalog import account_marker
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from tests.api.channex_site import BASE_URL, KEY, listed, make_site, sim_writes
from tests.api.helpers import new_tenant, ok, problem
from tests.conftest import Db
from tests.simulators.conftest import SimClient


def stored_config(db: Db, box: SecretBox, connection_id: str) -> dict[str, Any]:
    with db.sessions() as session:
        connection = session.get_one(Connection, uuid.UUID(connection_id))
        config: dict[str, Any] = json.loads(box.decrypt(connection.config_encrypted))
        return config


def test_provision_then_again_then_check_the_mappings(
    api: TestClient, db: Db, sim: SimClient, secret_box: SecretBox
) -> None:
    caller = new_tenant(db.sessions, "Acme Hotels")
    site = make_site(api, caller)
    path = f"/api/v1/connections/{site.connection_id}"
    ok(api.get(f"{path}/remote-catalog", headers=caller.headers), 409)

    first = ok(api.post(f"{path}/provision", headers=caller.headers))

    assert (first["created"], first["matched"], first["updated"]) == (6, 0, 0)
    groups = listed(sim, "/api/v1/groups")
    assert [g["title"] for g in groups] == [
        f"Acme Hotels ({account_marker(uuid.UUID(caller.tenant_id))})"
    ]
    (prop,) = listed(sim, "/api/v1/properties")
    assert prop["id"] == first["remote_property_id"]
    assert stored_config(db, secret_box, site.connection_id)["property_id"] == prop["id"]
    remote_rooms = {r["title"]: r for r in listed(sim, "/api/v1/room_types")}
    remote_plans = {p["title"]: p for p in listed(sim, "/api/v1/rate_plans")}
    assert set(remote_rooms) == {"Double", "Triple"}
    assert [
        (o["occupancy"], o["is_primary"]) for o in remote_plans["Best available"]["options"]
    ] == [(2, True)]
    assert [
        (o["occupancy"], o["is_primary"]) for o in remote_plans["Triple per person"]["options"]
    ] == [(1, False), (2, True), (3, False)]
    assert sorted(first["mappings"]["room_types"], key=lambda m: m["channel_code"]) == sorted(
        [
            {
                "room_type_id": site.room_type_ids["DBL"],
                "channel_code": remote_rooms["Double"]["id"],
            },
            {
                "room_type_id": site.room_type_ids["TRP"],
                "channel_code": remote_rooms["Triple"]["id"],
            },
        ],
        key=lambda m: m["channel_code"],
    )
    mapped_plans = {m["rate_plan_id"]: m["channel_code"] for m in first["mappings"]["rate_plans"]}
    assert mapped_plans == {
        site.rate_plan_ids["BAR"]: remote_plans["Best available"]["id"],
        site.rate_plan_ids["PP"]: remote_plans["Triple per person"]["id"],
    }
    assert ok(api.get(f"{path}/mappings", headers=caller.headers)) == first["mappings"]
    # The new mappings are queued for sending: availability of 2 rooms, rates of 2 plans.
    assert ok(api.get(path, headers=caller.headers))["pending_marks"] == 4

    writes = sim_writes(sim)
    second = ok(api.post(f"{path}/provision", headers=caller.headers))
    assert (second["created"], second["matched"], second["updated"]) == (0, 6, 0)
    assert second["remote_property_id"] == first["remote_property_id"]
    assert second["mappings"] == first["mappings"]
    assert {(i["kind"], i["remote_id"]) for i in second["items"]} == {
        (i["kind"], i["remote_id"]) for i in first["items"]
    }
    assert sim_writes(sim) == writes

    catalog = ok(api.get(f"{path}/remote-catalog", headers=caller.headers))
    assert catalog["remote_property_id"] == prop["id"]
    assert {r["title"] for r in catalog["room_types"]} == {"Double", "Triple"}
    per_person = next(p for p in catalog["rate_plans"] if p["pricing"] == "per_person")
    assert (per_person["occupancies"], per_person["primary_occupancy"]) == ([1, 2, 3], 2)
    assert catalog["check"] == {
        "is_consistent": True,
        "unmapped_room_types": [],
        "unmapped_rate_plans": [],
        "dangling_room_types": [],
        "dangling_rate_plans": [],
        "room_type_mismatches": [],
        "unused_remote_room_types": [],
        "unused_remote_rate_plans": [],
    }

    # A new room type (unmapped), a plan mapped to a code Channex lacks (dangling), and a plan
    # mapped to a remote plan of the other room type (mismatch).
    single = ok(
        api.post(
            f"/api/v1/properties/{site.property_id}/room-types",
            json={
                "code": "SGL",
                "name": "Single",
                "sellable_units": 1,
                "max_adults": 1,
                "max_occupancy": 1,
                "default_occupancy": 1,
            },
            headers=caller.headers,
        ),
        201,
    )
    mappings = first["mappings"]
    ok(
        api.put(
            f"{path}/mappings",
            json={
                "room_types": mappings["room_types"],
                "rate_plans": [
                    {"rate_plan_id": site.rate_plan_ids["BAR"], "channel_code": "gone-plan"},
                    {
                        "rate_plan_id": site.rate_plan_ids["PP"],
                        "channel_code": remote_plans["Best available"]["id"],
                    },
                ],
            },
            headers=caller.headers,
        )
    )
    check = ok(api.get(f"{path}/remote-catalog", headers=caller.headers))["check"]
    assert check == {
        "is_consistent": False,
        "unmapped_room_types": [single["id"]],
        "unmapped_rate_plans": [],
        "dangling_room_types": [],
        "dangling_rate_plans": [
            {"rate_plan_id": site.rate_plan_ids["BAR"], "channel_code": "gone-plan"}
        ],
        "room_type_mismatches": [
            {
                "rate_plan_id": site.rate_plan_ids["PP"],
                "channel_code": remote_plans["Best available"]["id"],
                "expected_room_type_code": remote_rooms["Triple"]["id"],
                "remote_room_type_code": remote_rooms["Double"]["id"],
            }
        ],
        "unused_remote_room_types": [],
        "unused_remote_rate_plans": [remote_plans["Triple per person"]["id"]],
    }


def test_another_tenants_connection_is_not_found_and_channex_is_not_called(
    api: TestClient, db: Db, sim: SimClient
) -> None:
    a = make_site(api, new_tenant(db.sessions, "hotel-a"), tested=False)
    b = new_tenant(db.sessions, "hotel-b")
    for method, suffix in (("POST", "provision"), ("GET", "remote-catalog"), ("POST", "test")):
        response = api.request(
            method, f"/api/v1/connections/{a.connection_id}/{suffix}", headers=b.headers
        )
        problem(response, 404, f"connection {a.connection_id} not found")
    assert sim.get("/_sim/requests").json()["data"] == []
    assert ok(
        api.get(f"/api/v1/connections/{a.connection_id}/mappings", headers=a.caller.headers)
    ) == {
        "room_types": [],
        "rate_plans": [],
    }


def test_a_key_channex_refuses_is_refused_on_creation_and_nothing_is_stored(
    api: TestClient, db: Db, sim: SimClient
) -> None:
    caller = new_tenant(db.sessions)
    site = make_site(api, caller)  # a hotel and a tested connection with the right key
    body = problem(
        api.post(
            f"/api/v1/properties/{site.property_id}/connections",
            json={
                "channel": "channex",
                "name": "Channex, wrong key",
                "config": {"base_url": BASE_URL, "api_key": "not-the-key"},
            },
            headers=caller.headers,
        ),
        422,
        "Channex GET /groups answered 401 unauthorized",
        "nothing was stored",
        "?test=false",
    )
    assert body["title"] == "Channel refused the credentials"
    assert "not-the-key" not in json.dumps(body)
    listed_connections = ok(
        api.get(f"/api/v1/properties/{site.property_id}/connections", headers=caller.headers)
    )
    assert [c["id"] for c in listed_connections] == [site.connection_id]

    # A PATCH to a key Channex refuses is refused the same way, and the good key stays.
    path = f"/api/v1/connections/{site.connection_id}"
    problem(
        api.patch(path, json={"config": {"api_key": "not-the-key"}}, headers=caller.headers),
        422,
        "answered 401 unauthorized",
        "nothing was stored",
    )
    ok(api.post(f"{path}/test", headers=caller.headers))


def test_a_key_stored_untested_is_a_clear_problem_on_provisioning_and_nothing_is_stored(
    api: TestClient, db: Db, sim: SimClient, secret_box: SecretBox
) -> None:
    site = make_site(api, new_tenant(db.sessions), key="not-the-key", tested=False)
    path = f"/api/v1/connections/{site.connection_id}"
    assert sim.get("/_sim/requests").json()["data"] == []  # ?test=false: Channex not called
    body = problem(
        api.post(f"{path}/provision", headers=site.caller.headers),
        502,
        "Channex GET /groups answered 401 unauthorized",
        "check the connection's credentials",
    )
    assert body["title"] == "Channel refused the credentials"
    assert "not-the-key" not in json.dumps(body)
    problem(api.post(f"{path}/test", headers=site.caller.headers), 502, "answered 401")
    assert ok(api.get(f"{path}/mappings", headers=site.caller.headers)) == {
        "room_types": [],
        "rate_plans": [],
    }
    assert stored_config(db, secret_box, site.connection_id)["property_id"] is None
    assert listed(sim, "/api/v1/groups") == []


def test_an_unavailable_channel_is_503(api: TestClient, db: Db, sim: SimClient) -> None:
    site = make_site(api, new_tenant(db.sessions))
    assert sim.post("/_sim/faults", {"server_error_rate": 1.0}).status_code == 200
    problem(
        api.post(
            f"/api/v1/properties/{site.property_id}/connections",
            json={
                "channel": "channex",
                "name": "Again",
                "config": {"base_url": BASE_URL, "api_key": KEY},
            },
            headers=site.caller.headers,
        ),
        503,
        "Channex GET /groups answered 5",
        "?test=false",
    )
    response = api.post(
        f"/api/v1/connections/{site.connection_id}/provision", headers=site.caller.headers
    )
    problem(response, 503, "Channex GET /groups answered 5")


def test_a_channel_without_provisioning_is_a_conflict(api: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    site = make_site(api, caller)
    fake = ok(
        api.post(
            f"/api/v1/properties/{site.property_id}/connections",
            json={"channel": "fake", "name": "Fake"},
            headers=caller.headers,
        ),
        201,
    )
    problem(
        api.post(f"/api/v1/connections/{fake['id']}/provision", headers=caller.headers),
        409,
        "the fake channel cannot provision properties",
    )
    problem(
        api.get(f"/api/v1/connections/{fake['id']}/remote-catalog", headers=caller.headers),
        409,
        "the fake channel cannot list its room types and rate plans",
    )


def test_the_cli_use_case_provisions_like_the_api(
    api: TestClient, db: Db, sim: SimClient, sim_app: FastAPI, secret_box: SecretBox
) -> None:
    site = make_site(api, new_tenant(db.sessions, "Acme"))

    async def run() -> list[str]:
        transport = httpx.ASGITransport(app=sim_app)
        async with httpx.AsyncClient(transport=transport) as http:
            report = await provision_connection(
                db.sessions, secret_box, uuid.UUID(site.connection_id), http
            )
        return describe(report)

    lines = asyncio.run(run())
    assert len(lines) == 7
    assert lines[-1].endswith(
        "6 created, 0 updated, 0 unchanged; 2 room types and 2 rate plans mapped"
    )
    assert len(listed(sim, "/api/v1/rate_plans")) == 2
    mapped = ok(
        api.get(f"/api/v1/connections/{site.connection_id}/mappings", headers=site.caller.headers)
    )
    assert len(mapped["room_types"]) == 2
    assert len(mapped["rate_plans"]) == 2


def test_a_config_patch_merges_and_keeps_what_provisioning_stored(
    api: TestClient, db: Db, sim: SimClient, secret_box: SecretBox
) -> None:
    site = make_site(api, new_tenant(db.sessions))
    headers = site.caller.headers
    path = f"/api/v1/connections/{site.connection_id}"
    provisioned = ok(api.post(f"{path}/provision", headers=headers))
    remote_property_id = provisioned["remote_property_id"]

    # Without a webhook secret every webhook would be refused: a clear 409 before any call.
    calls = len(sim.get("/_sim/requests").json()["data"])
    problem(
        api.post(f"{path}/webhooks/register", headers=headers),
        409,
        "set the connection's webhook_secret first",
    )
    assert len(sim.get("/_sim/requests").json()["data"]) == calls

    # Naming one field changes that field: the key and the provisioned property id stay.
    patched = ok(
        api.patch(path, json={"config": {"webhook_secret": "hook-secret"}}, headers=headers)
    )
    assert stored_config(db, secret_box, site.connection_id) == {
        "base_url": BASE_URL,
        "api_key": KEY,
        "property_id": remote_property_id,
        "webhook_secret": "hook-secret",
        "timeout_seconds": 30.0,
        "connect_timeout_seconds": 10.0,
        "feed_poll_seconds": 60.0,
        "channels_poll_seconds": 3600.0,
        "cancellation_policies": "off",
    }
    # The read shows the config without secrets, and which secrets are set.
    assert patched["config"]["property_id"] == remote_property_id
    assert patched["config"]["base_url"] == BASE_URL
    assert patched["secrets_set"] == ["api_key", "webhook_secret"]
    assert patched["account"] is None
    assert KEY not in json.dumps(patched)
    assert "hook-secret" not in json.dumps(patched)
    registered = ok(api.post(f"{path}/webhooks/register", headers=headers))
    assert registered["changed"] > 0

    # A field given as null is cleared; the rest is kept.
    cleared = ok(api.patch(path, json={"config": {"webhook_secret": None}}, headers=headers))
    assert cleared["secrets_set"] == ["api_key"]
    assert cleared["config"]["property_id"] == remote_property_id
    problem(api.post(f"{path}/webhooks/register", headers=headers), 409, "webhook_secret")
    # A renamed connection keeps its config untouched.
    ok(api.patch(path, json={"name": "Channex main"}, headers=headers))
    assert stored_config(db, secret_box, site.connection_id)["property_id"] == remote_property_id
