"""Connections through the API: create, map, full sync, and what an operator can read back."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from innsync.connections.models import Connection
from tests.api.helpers import make_hotel, new_tenant, ok
from tests.conftest import Db


def test_connect_map_and_full_sync(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    assert "fake" in ok(client.get("/api/v1/channels", headers=caller.headers))
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "Test OTA"},
            headers=caller.headers,
        ),
        201,
    )
    assert connection["state"] == "pending"
    assert connection["webhook_path"].startswith("/hooks/")
    assert {"pushes_availability", "pushes_rates"} <= set(connection["capabilities"])
    assert connection["pending_marks"] == 0  # nothing mapped yet: nothing to send

    mapped = ok(
        client.put(
            f"/api/v1/connections/{connection['id']}/mappings",
            json={
                "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "DBL"}],
                "rate_plans": [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "BAR"}],
            },
            headers=caller.headers,
        )
    )
    assert mapped["rate_plans"] == [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "BAR"}]
    after_mapping = ok(
        client.get(f"/api/v1/connections/{connection['id']}", headers=caller.headers)
    )
    assert after_mapping["pending_marks"] == 2  # the room type's availability and the plan's rates

    started = ok(
        client.post(f"/api/v1/connections/{connection['id']}/full-sync", headers=caller.headers),
        202,
    )
    assert started["marks"] == 2
    again = ok(client.get(f"/api/v1/connections/{connection['id']}", headers=caller.headers))
    assert again["last_full_sync_at"] is not None
    assert (
        ok(client.get(f"/api/v1/connections/{connection['id']}/sync-log", headers=caller.headers))
        == []
    )
    assert (
        ok(
            client.get(
                f"/api/v1/connections/{connection['id']}/dead-letters", headers=caller.headers
            )
        )
        == []
    )

    # A rate change marks the connection dirty in the same transaction.
    before = again["pending_marks"]
    ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/ari",
            json={
                "entries": [
                    {
                        "rate_plan_id": hotel.rate_plan_id,
                        "date_from": started["date_from"],
                        "date_to": started["date_from"],
                        "price": "333.00",
                    }
                ]
            },
            headers=caller.headers,
        )
    )
    assert (
        ok(client.get(f"/api/v1/connections/{connection['id']}", headers=caller.headers))[
            "pending_marks"
        ]
        == before + 1
    )


def test_mapping_mistakes_are_refused_with_pointers(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "Test OTA"},
            headers=caller.headers,
        ),
        201,
    )
    refused = client.put(
        f"/api/v1/connections/{connection['id']}/mappings",
        json={
            "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "X"}],
            "rate_plans": [
                {"rate_plan_id": hotel.rate_plan_id, "channel_code": "X"},
                {"rate_plan_id": hotel.rate_plan_id, "channel_code": "X"},
            ],
        },
        headers=caller.headers,
    )
    assert refused.status_code == 422
    errors = {error["pointer"]: error["detail"] for error in refused.json()["errors"]}
    assert errors == {
        "/rate_plans/1/channel_code": "code 'X' is already mapped at /rate_plans/0",
        "/rate_plans/1": "mapped twice (see /rate_plans/0)",
    }
    unmapped_room = client.put(
        f"/api/v1/connections/{connection['id']}/mappings",
        json={"rate_plans": [{"rate_plan_id": hotel.rate_plan_id, "channel_code": "BAR"}]},
        headers=caller.headers,
    )
    assert unmapped_room.status_code == 422
    assert unmapped_room.json()["errors"] == [
        {"pointer": "/rate_plans/0/rate_plan_id", "detail": "map the plan's room type first"}
    ]
    current = ok(
        client.get(f"/api/v1/connections/{connection['id']}/mappings", headers=caller.headers)
    )
    assert current == {"room_types": [], "rate_plans": []}

    unknown = client.post(
        f"/api/v1/properties/{hotel.property_id}/connections",
        json={"channel": "telepathy", "name": "x"},
        headers=caller.headers,
    )
    assert unknown.status_code == 422
    assert "unknown channel 'telepathy'" in unknown.json()["detail"]


ACCOUNT_WIDE_LIMITS = {"requests_per_window": 5, "window_seconds": 60.0, "window_scope": "account"}


def bucket_of(db: Db, connection_id: str) -> str:
    with db.sessions() as session:
        return session.get_one(Connection, uuid.UUID(connection_id)).bucket_key


def test_connections_on_one_account_share_a_bucket_and_a_new_key_moves_it(
    client: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    first_hotel = make_hotel(client, caller)
    second_hotel = make_hotel(client, caller)

    def connect(hotel: Any, property_code: str, key: str) -> str:
        created = ok(
            client.post(
                f"/api/v1/properties/{hotel.property_id}/connections",
                json={
                    "channel": "fake",
                    "name": property_code,
                    "config": {
                        "property_code": property_code,
                        "account_key": key,
                        "limits": ACCOUNT_WIDE_LIMITS,
                    },
                },
                headers=caller.headers,
            ),
            201,
        )
        identifier: str = created["id"]
        return identifier

    # Two properties (configs that differ) on one account: one rate-limit window, one bucket.
    first = connect(first_hotel, "hotel-1", "machine-account-key")
    second = connect(second_hotel, "hotel-2", "machine-account-key")
    other = connect(second_hotel, "hotel-3", "another-account-key")
    assert bucket_of(db, first) == bucket_of(db, second)
    assert bucket_of(db, first).startswith("fake:account:")
    assert bucket_of(db, other) not in (bucket_of(db, first), f"fake:connection:{other}")
    assert "machine-account-key" not in bucket_of(db, first)

    # PATCHing the key moves the connection to the other account's bucket, and back.
    path = f"/api/v1/connections/{second}"
    ok(
        client.patch(
            path, json={"config": {"account_key": "another-account-key"}}, headers=caller.headers
        )
    )
    assert bucket_of(db, second) == bucket_of(db, other) != bucket_of(db, first)
    ok(
        client.patch(
            path, json={"config": {"account_key": "machine-account-key"}}, headers=caller.headers
        )
    )
    assert bucket_of(db, second) == bucket_of(db, first)

    # Limits counted per property stay the connection's own, whatever the account.
    ok(
        client.patch(
            path,
            json={"config": {"limits": {**ACCOUNT_WIDE_LIMITS, "window_scope": "property"}}},
            headers=caller.headers,
        )
    )
    assert bucket_of(db, second) == f"fake:connection:{second}"


def test_the_openapi_document_shows_each_channel_kinds_config(client: TestClient) -> None:
    schemas = ok(client.get("/openapi.json"))["components"]["schemas"]
    create = schemas["ConnectionCreate"]["properties"]["config"]["anyOf"]
    by_title = {variant["title"]: variant for variant in create}
    # Other tests may register kinds of their own in this process; the built-in ones are these.
    assert [title for title in by_title if title.split()[0] in {"channex", "fake"}] == [
        "channex config",
        "channex config through a channel account",
        "fake config",
        "fake config through a channel account",
    ]
    channex = by_title["channex config"]
    assert channex["x-channel"] == "channex"
    assert channex["required"] == ["api_key"]
    assert channex["additionalProperties"] is False
    assert channex["properties"]["api_key"]["writeOnly"] is True
    through_account = by_title["channex config through a channel account"]
    assert through_account["required"] == ["account"]
    assert through_account["properties"]["account"]["type"] == "string"
    # Nested models are inlined: the document holds no reference it cannot resolve.
    limits = by_title["fake config"]["properties"]["limits"]
    assert limits["properties"]["window_scope"]["enum"] == ["property", "account"]
    # An update is merged into the stored config: nothing is required.
    update = schemas["ConnectionUpdate"]["properties"]["config"]["anyOf"]
    assert len(update) == len(create) + 1  # every kind's variants, and null
    assert [variant.get("required") for variant in update] == [None] * len(update)
    assert update[-1] == {"type": "null"}


def test_remove_remote_on_a_channel_that_cannot_remove_is_409_and_keeps_it(
    client: TestClient, db: Db
) -> None:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    connection = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": "Test OTA"},
            headers=caller.headers,
        ),
        201,
    )
    url = f"/api/v1/connections/{connection['id']}"
    refused = client.delete(url, params={"remove_remote": "true"}, headers=caller.headers)
    assert refused.status_code == 409, refused.text
    assert "cannot remove" in refused.json()["detail"]
    assert ok(client.get(url, headers=caller.headers))["state"] == "pending"
    assert ok(client.get(url, headers=caller.headers))["otas"] == []

    assert client.delete(url, headers=caller.headers).status_code == 204
    assert ok(client.get(url, headers=caller.headers))["state"] == "disabled"
