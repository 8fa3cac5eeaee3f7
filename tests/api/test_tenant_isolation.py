"""Tenant isolation over every endpoint, and who may call what.

Tenant B, with its own admin key, calls every route that takes an id with tenant A's ids and a
body that is valid (B's own ids, proven valid by the same call on B's own objects): each answer
must be 404 problem+json, and A's objects must read back exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.settings import Settings
from tests.api.helpers import (
    Caller,
    api_routes,
    day,
    make_hotel,
    new_tenant,
    ok,
    pointers,
    problem,
)
from tests.conftest import Db
from tests.reservations.builders import conflict_through_api

PARAM = re.compile(r"\{(\w+)\}")
SEND_YOUR_KEY = "send your API key as 'Authorization: Bearer <key>'"
BAD_KEY = "invalid or revoked API key"


@dataclass(frozen=True)
class Tenant:
    """One tenant's objects, built through the API; attribute names match the path parameters."""

    caller: Caller
    read_key: str
    property_id: str
    room_type_id: str
    rate_plan_id: str
    derived_plan_id: str
    unit_id: str
    block_id: str
    reservation_id: str
    subscription_id: str
    delivery_id: str  # a delivery of the subscription
    key_id: str  # the read key's id: revoking it never locks the tenant out
    connection_id: str
    conflict_id: str
    ical_connection_id: str  # the iCal routes' connection: a fake one has no .ics export
    target_id: str  # a notification target

    @property
    def headers(self) -> dict[str, str]:
        return self.caller.headers


def build_tenant(client: TestClient, db: Db, name: str) -> Tenant:
    caller = new_tenant(db.sessions, name)
    hotel = make_hotel(client, caller, units=3)
    headers = caller.headers
    prop, room_type, plan = hotel.property_id, hotel.room_type_id, hotel.rate_plan_id
    unit = ok(
        client.post(f"/api/v1/room-types/{room_type}/units", json={"name": "101"}, headers=headers),
        201,
    )
    derived = ok(
        client.post(
            f"/api/v1/properties/{prop}/rate-plans",
            json={
                "room_type_id": room_type,
                "code": "NRF",
                "name": "Non refundable",
                "derived_from": {
                    "parent_id": plan,
                    "rules": [{"kind": "percent", "value": "-10"}],
                    "inherit": ["stop_sell"],
                },
            },
            headers=headers,
        ),
        201,
    )
    block = ok(
        client.post(
            f"/api/v1/room-types/{room_type}/blocks",
            json={"date_from": day(10), "date_to": day(11), "units": 1, "reason": "painting"},
            headers=headers,
        ),
        201,
    )
    reservation = ok(
        client.post(
            f"/api/v1/properties/{prop}/reservations",
            json={
                "arrival": day(3),
                "departure": day(5),
                "rooms": [{"room_type_id": room_type, "rate_plan_id": plan, "adults": 2}],
                "guest": {"first_name": "Ada", "last_name": name, "email": f"ada@{name}.example"},
            },
            headers=headers,
        ),
        201,
    )
    subscription = ok(
        client.post(
            "/api/v1/webhook-subscriptions",
            json={"url": f"https://{name}.example/hooks"},
            headers=headers,
        ),
        201,
    )
    key = ok(
        client.post(
            "/api/v1/api-keys", json={"name": "front desk", "scopes": ["read"]}, headers=headers
        ),
        201,
    )
    connection = ok(
        client.post(
            f"/api/v1/properties/{prop}/connections",
            json={"channel": "fake", "name": "Fake OTA"},
            headers=headers,
        ),
        201,
    )
    mappings = {
        "room_types": [{"room_type_id": room_type, "channel_code": f"{name}-R"}],
        "rate_plans": [{"rate_plan_id": plan, "channel_code": f"{name}-P"}],
    }
    ok(
        client.put(
            f"/api/v1/connections/{connection['id']}/mappings", json=mappings, headers=headers
        )
    )
    ical = ok(
        client.post(
            f"/api/v1/properties/{prop}/connections",
            json={"channel": "ical", "name": "Airbnb listing", "push_enabled": False},
            headers=headers,
        ),
        201,
    )
    ok(client.put(f"/api/v1/connections/{ical['id']}/ical-export", json={}, headers=headers))
    ok(client.get("/api/v1/events", headers=headers))  # sequence: the subscription gets deliveries
    deliveries = ok(
        client.get(
            f"/api/v1/webhook-subscriptions/{subscription['id']}/deliveries", headers=headers
        )
    )
    target = ok(
        client.post(
            "/api/v1/notification-targets",
            json={"kind": "slack", "name": "desk", "address": f"https://{name}.example/slack"},
            headers=headers,
        ),
        201,
    )
    _, conflict_id = conflict_through_api(
        client, db.sessions, headers, connection["id"], room_type, (f"{name}-R", f"{name}-P")
    )
    return Tenant(
        caller=caller,
        read_key=key["key"],
        property_id=prop,
        room_type_id=room_type,
        rate_plan_id=plan,
        derived_plan_id=derived["id"],
        unit_id=unit["id"],
        block_id=block["id"],
        reservation_id=reservation["id"],
        subscription_id=subscription["id"],
        delivery_id=str(deliveries[0]["id"]),
        key_id=key["id"],
        connection_id=connection["id"],
        conflict_id=conflict_id,
        ical_connection_id=ical["id"],
        target_id=target["id"],
    )


def snapshot(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """Everything the tenant can read about its objects, read with its own admin key."""
    dates = {"date_from": day(0), "date_to": day(20)}
    reads: dict[str, tuple[str, dict[str, str]]] = {
        "properties": ("/api/v1/properties", {}),
        "room_types": (f"/api/v1/properties/{tenant.property_id}/room-types", {}),
        "units": (f"/api/v1/room-types/{tenant.room_type_id}/units", {}),
        "blocks": (f"/api/v1/room-types/{tenant.room_type_id}/blocks", {}),
        "rate_plans": (f"/api/v1/properties/{tenant.property_id}/rate-plans", {}),
        "calendar": (f"/api/v1/rate-plans/{tenant.rate_plan_id}/calendar", dates),
        "derived_calendar": (f"/api/v1/rate-plans/{tenant.derived_plan_id}/calendar", dates),
        "availability": (f"/api/v1/properties/{tenant.property_id}/availability", dates),
        "reservations": (f"/api/v1/properties/{tenant.property_id}/reservations", {}),
        "events": ("/api/v1/events", {}),
        "subscriptions": ("/api/v1/webhook-subscriptions", {}),
        "deliveries": (f"/api/v1/webhook-subscriptions/{tenant.subscription_id}/deliveries", {}),
        "api_keys": ("/api/v1/api-keys", {}),
        "connections": (f"/api/v1/properties/{tenant.property_id}/connections", {}),
        "mappings": (f"/api/v1/connections/{tenant.connection_id}/mappings", {}),
        "conflicts": ("/api/v1/conflicts", {}),
        "alerts": ("/api/v1/alerts", {}),
        "notification_targets": ("/api/v1/notification-targets", {}),
        "notification_target": (f"/api/v1/notification-targets/{tenant.target_id}", {}),
    }
    return {
        name: ok(client.get(path, params=params, headers=tenant.headers))
        for name, (path, params) in reads.items()
    }


# How to call each route, and the least scope a key needs for it. ``request`` gives the keyword
# arguments of ``client.request`` (json body, query) from the tenant whose ids go into the body.
# Every /api/v1 route must be listed here: a new route declares its scope and a valid call.
Request = Callable[[Tenant], dict[str, Any]]


def _nothing(_tenant: Tenant) -> dict[str, Any]:
    return {}


def _dates(_tenant: Tenant) -> dict[str, Any]:
    return {"params": {"date_from": day(0), "date_to": day(20)}}


def _json(build: Callable[[Tenant], dict[str, Any]]) -> Request:
    return lambda tenant: {"json": build(tenant)}


@dataclass(frozen=True)
class Route:
    scope: str  # "read", "write" or "admin"
    request: Request = _nothing
    # What a key with the scope gets on the tenant's own objects (its connection is "fake").
    permitted_status: int = 200


ROOM_TYPE = {
    "code": "STE",
    "name": "Suite",
    "sellable_units": 1,
    "max_adults": 2,
    "max_occupancy": 2,
    "default_occupancy": 2,
}

ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/v1/properties"): Route(
        "write", _json(lambda _t: {"name": "Annex", "timezone": "Europe/Rome", "currency": "EUR"})
    ),
    ("GET", "/api/v1/properties"): Route("read"),
    ("GET", "/api/v1/properties/{property_id}"): Route("read"),
    ("PATCH", "/api/v1/properties/{property_id}"): Route(
        "write", _json(lambda _t: {"name": "Taken over", "currency": "USD"})
    ),
    ("DELETE", "/api/v1/properties/{property_id}"): Route("write"),
    ("POST", "/api/v1/properties/{property_id}/room-types"): Route(
        "write", _json(lambda _t: ROOM_TYPE)
    ),
    ("GET", "/api/v1/properties/{property_id}/room-types"): Route("read"),
    ("GET", "/api/v1/room-types/{room_type_id}"): Route("read"),
    ("PATCH", "/api/v1/room-types/{room_type_id}"): Route(
        "write", _json(lambda _t: {"name": "Taken over", "max_children": 1})
    ),
    ("DELETE", "/api/v1/room-types/{room_type_id}"): Route("write"),
    ("POST", "/api/v1/room-types/{room_type_id}/units"): Route(
        "write", _json(lambda _t: {"name": "666"})
    ),
    ("GET", "/api/v1/room-types/{room_type_id}/units"): Route("read"),
    ("DELETE", "/api/v1/units/{unit_id}"): Route("write"),
    ("POST", "/api/v1/properties/{property_id}/rate-plans"): Route(
        "write", _json(lambda t: {"room_type_id": t.room_type_id, "code": "HACK", "name": "Hack"})
    ),
    ("GET", "/api/v1/properties/{property_id}/rate-plans"): Route("read"),
    ("GET", "/api/v1/rate-plans/{rate_plan_id}"): Route("read"),
    ("PATCH", "/api/v1/rate-plans/{rate_plan_id}"): Route(
        "write", _json(lambda _t: {"name": "Taken over", "meal_plan": "breakfast"})
    ),
    ("DELETE", "/api/v1/rate-plans/{rate_plan_id}"): Route("write"),
    ("POST", "/api/v1/properties/{property_id}/ari"): Route(
        "write",
        _json(
            lambda t: {
                "entries": [
                    {
                        "rate_plan_id": t.rate_plan_id,
                        "date_from": day(1),
                        "date_to": day(2),
                        "price": "1.00",
                        "stop_sell": True,
                    },
                    {
                        "room_type_id": t.room_type_id,
                        "date_from": day(1),
                        "date_to": day(2),
                        "block": {"units": 1},
                    },
                ]
            }
        ),
    ),
    ("GET", "/api/v1/rate-plans/{rate_plan_id}/calendar"): Route("read", _dates),
    ("GET", "/api/v1/properties/{property_id}/availability"): Route("read", _dates),
    ("GET", "/api/v1/properties/{property_id}/ari-source"): Route("read"),
    # Cleared (null) rather than set: setting it would refuse the PMS writes of later checks.
    ("PUT", "/api/v1/properties/{property_id}/ari-source"): Route(
        "write", _json(lambda _t: {"connection_id": None})
    ),
    ("GET", "/api/v1/offers"): Route(
        "read", lambda _t: {"params": {"arrival": day(1), "departure": day(3), "adults": 2}}
    ),
    ("POST", "/api/v1/room-types/{room_type_id}/blocks"): Route(
        "write", _json(lambda _t: {"date_from": day(20), "date_to": day(21), "units": 1})
    ),
    ("GET", "/api/v1/room-types/{room_type_id}/blocks"): Route("read"),
    ("DELETE", "/api/v1/blocks/{block_id}"): Route("write"),
    ("POST", "/api/v1/properties/{property_id}/reservations"): Route(
        "write",
        _json(
            lambda t: {
                "arrival": day(6),
                "departure": day(7),
                "rooms": [
                    {"room_type_id": t.room_type_id, "rate_plan_id": t.rate_plan_id, "adults": 1}
                ],
            }
        ),
    ),
    ("GET", "/api/v1/properties/{property_id}/reservations"): Route(
        "read", lambda _t: {"params": {"staying_from": day(0), "staying_to": day(30)}}
    ),
    ("GET", "/api/v1/reservations/{reservation_id}"): Route("read"),
    ("PATCH", "/api/v1/reservations/{reservation_id}"): Route(
        "write", _json(lambda _t: {"departure": day(6), "notes": "moved by someone else"})
    ),
    ("POST", "/api/v1/reservations/{reservation_id}/cancel"): Route("write"),
    ("POST", "/api/v1/reservations/{reservation_id}/no-show"): Route("write"),
    # A direct reservation has no OTA to report to: 409 on the tenant's own.
    ("POST", "/api/v1/reservations/{reservation_id}/ota/no-show"): Route(
        "write", _json(lambda _t: {"waived_fees": True}), permitted_status=409
    ),
    ("POST", "/api/v1/reservations/{reservation_id}/ota/invalid-card"): Route(
        "write", permitted_status=409
    ),
    ("POST", "/api/v1/reservations/{reservation_id}/ota/cancel-invalid-card"): Route(
        "write", permitted_status=409
    ),
    ("GET", "/api/v1/reservations/{reservation_id}/changes"): Route("read"),
    ("POST", "/api/v1/reservations/{reservation_id}/erase-guest"): Route("write"),
    # No guest of the tenant has this e-mail: 404, as another tenant's guest would be.
    ("POST", "/api/v1/guests/erase"): Route(
        "write", _json(lambda _t: {"email": "nobody@example.com"}), permitted_status=404
    ),
    ("PUT", "/api/v1/reservations/{reservation_id}/unit"): Route(
        "write", _json(lambda t: {"position": 0, "unit_id": t.unit_id})
    ),
    ("GET", "/api/v1/properties/{property_id}/unassigned-stays"): Route("read", _dates),
    ("GET", "/api/v1/conflicts"): Route("read", lambda _t: {"params": {"status": "open"}}),
    ("GET", "/api/v1/alerts"): Route("read", lambda _t: {"params": {"state": "open"}}),
    ("POST", "/api/v1/notification-targets"): Route(
        "admin",
        _json(lambda _t: {"kind": "webhook", "name": "x", "address": "https://else.example/h"}),
    ),
    ("GET", "/api/v1/notification-targets"): Route("admin"),
    ("GET", "/api/v1/notification-targets/{target_id}"): Route("admin"),
    ("PATCH", "/api/v1/notification-targets/{target_id}"): Route(
        "admin", _json(lambda _t: {"min_severity": "critical"})
    ),
    ("DELETE", "/api/v1/notification-targets/{target_id}"): Route("admin"),
    ("POST", "/api/v1/notification-targets/{target_id}/test"): Route("admin"),
    ("GET", "/api/v1/conflicts/{conflict_id}"): Route("read"),
    ("POST", "/api/v1/conflicts/{conflict_id}/resolve"): Route(
        "write", _json(lambda _t: {"accept": "pms"})
    ),
    ("GET", "/api/v1/events"): Route("read", lambda _t: {"params": {"after": 0}}),
    ("POST", "/api/v1/webhook-subscriptions"): Route(
        "admin", _json(lambda _t: {"url": "https://elsewhere.example/hook"})
    ),
    ("GET", "/api/v1/webhook-subscriptions"): Route("admin"),
    ("DELETE", "/api/v1/webhook-subscriptions/{subscription_id}"): Route("admin"),
    ("GET", "/api/v1/webhook-subscriptions/{subscription_id}/deliveries"): Route(
        "admin", lambda _t: {"params": {"limit": 10}}
    ),
    ("POST", "/api/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/resend"): (
        Route("admin")
    ),
    ("POST", "/api/v1/api-keys"): Route(
        "admin", _json(lambda _t: {"name": "backdoor", "scopes": ["admin"]})
    ),
    ("GET", "/api/v1/api-keys"): Route("admin"),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Route("admin"),
    ("GET", "/api/v1/channels"): Route("read"),
    # Lists only the operator's accounts granted to the caller (tests/api/test_channel_accounts.py).
    ("GET", "/api/v1/channel-accounts"): Route("read"),
    ("POST", "/api/v1/properties/{property_id}/connections"): Route(
        "admin", _json(lambda _t: {"channel": "fake", "name": "Another OTA"})
    ),
    ("GET", "/api/v1/properties/{property_id}/connections"): Route("read"),
    ("GET", "/api/v1/connections/{connection_id}"): Route("read"),
    ("PATCH", "/api/v1/connections/{connection_id}"): Route(
        "admin", _json(lambda _t: {"name": "Taken over", "push_enabled": False})
    ),
    ("DELETE", "/api/v1/connections/{connection_id}"): Route("admin"),
    ("PUT", "/api/v1/connections/{connection_id}/mappings"): Route(
        "write",
        _json(
            lambda t: {
                "room_types": [{"room_type_id": t.room_type_id, "channel_code": "OTHER"}],
                "rate_plans": [],
            }
        ),
    ),
    ("GET", "/api/v1/connections/{connection_id}/mappings"): Route("read"),
    ("POST", "/api/v1/connections/{connection_id}/full-sync"): Route("write"),
    ("GET", "/api/v1/connections/{connection_id}/sync-log"): Route(
        "read", lambda _t: {"params": {"limit": 10}}
    ),
    ("GET", "/api/v1/connections/{connection_id}/dead-letters"): Route("read"),
    ("GET", "/api/v1/connections/{connection_id}/channels"): Route("read"),
    ("POST", "/api/v1/connections/{connection_id}/dead-letters/replay"): Route("write"),
    ("POST", "/api/v1/connections/{connection_id}/provision"): Route("admin"),
    # The fake connection has no webhook secret: a clear 409 (tests/api/test_provisioning.py).
    ("POST", "/api/v1/connections/{connection_id}/webhooks/register"): Route(
        "admin", permitted_status=409
    ),
    ("POST", "/api/v1/connections/{connection_id}/test"): Route("write"),
    # The fake channel does not connect by OAuth: a clear 409 on the tenant's own.
    ("GET", "/api/v1/connections/{connection_id}/oauth/start"): Route(
        "write", permitted_status=409
    ),
    # The fake channel keeps no catalog: a clear 409 (tests/api/test_provisioning.py).
    # The fake channel cannot list or remove rate plans: 409 on the tenant's own.
    ("POST", "/api/v1/connections/{connection_id}/remote-catalog/remove-unused"): Route(
        "admin", permitted_status=409
    ),
    ("GET", "/api/v1/connections/{connection_id}/remote-catalog"): Route(
        "read", permitted_status=409
    ),
    # The iCal routes take the tenant's iCal connection (see fill()).
    ("PUT", "/api/v1/connections/{connection_id}/ical-export"): Route(
        "write", _json(lambda _t: {"horizon_days": 365})
    ),
    ("GET", "/api/v1/connections/{connection_id}/ical-export"): Route("read"),
    ("DELETE", "/api/v1/connections/{connection_id}/ical-export"): Route("write"),
    ("GET", "/api/v1/connections/{connection_id}/ical-health"): Route("read"),
    ("GET", "/api/v1/inbox-items"): Route("read"),
    ("POST", "/api/v1/inbox-items/requeue"): Route("write", _json(lambda _t: {"state": "parked"})),
    # The fake channel built per request holds no bookings: the booking is not found.
    ("POST", "/api/v1/connections/{connection_id}/bookings/{channel_booking_id}/pull"): Route(
        "write", permitted_status=404
    ),
    ("GET", "/api/v1/connections/{connection_id}/reconciliation"): Route(
        "read", lambda _t: {"params": {"from": day(0), "to": day(20)}}
    ),
}

# Statuses that would mean the request itself was wrong, so a 404 could hide behind them.
MALFORMED = {400, 401, 403, 404, 405, 413, 422}


def fill(path: str, target: Tenant) -> tuple[str, str]:
    """The path with the target's ids, and the id the answer must name."""
    names = PARAM.findall(path)
    # After the object's id may come a channel's own id, which no tenant owns: a plain value.
    channel_ids = {"channel_booking_id": "BK-1"}
    # Or an id of something inside the first object, taken from the same tenant.
    inner_ids = {"delivery_id"}
    assert len(names) == 1 or set(names[1:]) <= set(channel_ids) | inner_ids, (
        f"{path}: teach fill() about routes with {len(names)} ids"
    )
    attribute = "ical_connection_id" if "/ical-" in path else names[0]
    target_id = str(getattr(target, attribute))
    for name, value in channel_ids.items():
        path = path.replace(f"{{{name}}}", value)
    for name in inner_ids & set(names[1:]):
        path = path.replace(f"{{{name}}}", str(getattr(target, name)))
    return path.replace(f"{{{names[0]}}}", target_id), target_id


def targets_for(path: str, tenant: Tenant) -> list[Tenant]:
    """The tenant, and for rate-plan routes also with its derived plan as the rate plan."""
    if "{rate_plan_id}" in path:
        return [tenant, replace(tenant, rate_plan_id=tenant.derived_plan_id)]
    return [tenant]


def call(
    client: TestClient, method: str, path: str, target: Tenant, body_from: Tenant, headers: Any
) -> Any:
    url, _ = fill(path, target) if PARAM.search(path) else (path, "")
    return client.request(method, url, headers=headers, **ROUTES[(method, path)].request(body_from))


def app_of(client: TestClient) -> FastAPI:
    assert isinstance(client.app, FastAPI)
    return client.app


def with_path_parameters(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(method, path) for method, path in routes if PARAM.search(path)]


def test_the_isolation_table_covers_every_route(secret_box: SecretBox) -> None:
    app = create_app(
        Settings(database_url="sqlite://", background_loops=False),
        secret_box=secret_box,
        run_loops=False,
    )
    routes = api_routes(app)
    assert len(routes) > 30, routes  # the enumeration itself works
    uncovered = [route for route in with_path_parameters(routes) if route not in ROUTES]
    assert not uncovered, f"routes with ids missing from ROUTES (add them): {uncovered}"
    unlisted = [route for route in routes if route not in ROUTES]
    assert not unlisted, f"routes missing from ROUTES (add them): {unlisted}"
    stale = [route for route in ROUTES if route not in routes]
    assert not stale, f"ROUTES lists routes the app no longer has: {stale}"
    assert {route.scope for route in ROUTES.values()} == {"read", "write", "admin"}


def test_another_tenants_ids_are_not_found_on_every_route(client: TestClient, db: Db) -> None:
    a = build_tenant(client, db, "hotel-a")
    b = build_tenant(client, db, "hotel-b")
    a_before = snapshot(client, a)
    routes = with_path_parameters(api_routes(app_of(client)))

    for method, path in routes:
        for target in targets_for(path, a):
            response = call(client, method, path, target, b, b.headers)
            _, target_id = fill(path, target)
            where = f"{method} {path} with A's {target_id}"
            assert response.status_code == 404, f"{where}: {response.status_code} {response.text}"
            body = problem(response, 404, target_id, "not found")
            assert "errors" not in body, where

    assert snapshot(client, a) == a_before

    # Control: the same calls on B's own ids are understood (no validation error, no 404), so
    # the 404s above came from the tenant check. Reads first, deletions last.
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}
    for method, path in sorted(routes, key=lambda route: order[route[0]]):
        response = call(client, method, path, b, b, b.headers)
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        # A route's own documented answer on the tenant's objects is understood too (a forced
        # pull of a booking the fake channel does not hold: 404 naming the booking, not an id).
        expected = ROUTES[(method, path)].permitted_status
        assert response.status_code not in MALFORMED or response.status_code == expected, (
            f"{method} {path} on B: {response.text}"
        )
    assert snapshot(client, a) == a_before


def test_lists_show_only_the_callers_own_items(client: TestClient, db: Db) -> None:
    a = build_tenant(client, db, "hotel-a")
    b = build_tenant(client, db, "hotel-b")
    a_view = snapshot(client, a)
    a_key_ids = {key["id"] for key in a_view["api_keys"]}
    a_event_ids = {event["id"] for event in a_view["events"]["events"]}
    assert len(a_key_ids) == 2
    assert a_event_ids

    properties = ok(client.get("/api/v1/properties", headers=b.headers))
    assert [p["id"] for p in properties] == [b.property_id]

    feed = ok(client.get("/api/v1/events", params={"limit": 500}, headers=b.headers))
    assert feed["events"], "B sees its own events"
    assert not {event["id"] for event in feed["events"]} & a_event_ids
    assert {event["property_id"] for event in feed["events"]} == {b.property_id}
    assert a.reservation_id not in {event["subject_id"] for event in feed["events"]}
    assert a.reservation_id not in repr(feed)
    assert a.property_id not in repr(feed)

    subscriptions = ok(client.get("/api/v1/webhook-subscriptions", headers=b.headers))
    assert [s["id"] for s in subscriptions] == [b.subscription_id]

    keys = ok(client.get("/api/v1/api-keys", headers=b.headers))
    assert len(keys) == 2
    assert b.key_id in {key["id"] for key in keys}
    assert not {key["id"] for key in keys} & a_key_ids

    assert snapshot(client, a) == a_view


def test_another_tenants_ids_in_a_body_are_refused(client: TestClient, db: Db) -> None:
    a = build_tenant(client, db, "hotel-a")
    b = build_tenant(client, db, "hotel-b")
    a_before, b_before = snapshot(client, a), snapshot(client, b)
    plans = f"/api/v1/properties/{b.property_id}/rate-plans"

    response = client.post(
        plans, json={"room_type_id": a.room_type_id, "code": "X", "name": "X"}, headers=b.headers
    )
    problem(response, 404, f"room type {a.room_type_id} not found")
    response = client.post(
        plans,
        json={
            "room_type_id": b.room_type_id,
            "code": "X",
            "name": "X",
            "derived_from": {"parent_id": a.rate_plan_id},
        },
        headers=b.headers,
    )
    problem(response, 404, f"rate plan {a.rate_plan_id} not found")
    response = client.patch(
        f"/api/v1/rate-plans/{b.derived_plan_id}",
        json={"derived_from": {"parent_id": a.rate_plan_id}},
        headers=b.headers,
    )
    problem(response, 404, f"rate plan {a.rate_plan_id} not found")

    ari = f"/api/v1/properties/{b.property_id}/ari"
    entries = [
        {"rate_plan_id": b.rate_plan_id, "date_from": day(1), "date_to": day(2), "price": "5.00"},
        {"rate_plan_id": a.rate_plan_id, "date_from": day(1), "date_to": day(2), "price": "5.00"},
        {
            "room_type_id": a.room_type_id,
            "date_from": day(1),
            "date_to": day(2),
            "block": {"units": 1},
        },
    ]
    body = problem(client.post(ari, json={"entries": entries}, headers=b.headers), 422)
    assert {e["pointer"] for e in body["errors"]} == {
        "/entries/1/rate_plan_id",
        "/entries/2/room_type_id",
    }

    bookings = f"/api/v1/properties/{b.property_id}/reservations"
    stay = {"arrival": day(6), "departure": day(7)}
    response = client.post(
        bookings,
        json={**stay, "rooms": [{"room_type_id": a.room_type_id, "adults": 1, "amount": "10"}]},
        headers=b.headers,
    )
    problem(response, 422, "rooms/0: no such room type in this property")
    response = client.post(
        bookings,
        json={
            **stay,
            "rooms": [
                {"room_type_id": b.room_type_id, "rate_plan_id": a.rate_plan_id, "adults": 1}
            ],
        },
        headers=b.headers,
    )
    problem(response, 404, f"rate plan {a.rate_plan_id} not found")
    response = client.patch(
        f"/api/v1/reservations/{b.reservation_id}",
        json={"rooms": [{"room_type_id": a.room_type_id, "adults": 1, "amount": "10"}]},
        headers=b.headers,
    )
    problem(response, 422, "rooms/0: no such room type in this property")

    mappings = {
        "room_types": [
            {"room_type_id": b.room_type_id, "channel_code": "B-R"},
            {"room_type_id": a.room_type_id, "channel_code": "A-R"},
        ],
        "rate_plans": [{"rate_plan_id": a.rate_plan_id, "channel_code": "A-P"}],
    }
    response = client.put(
        f"/api/v1/connections/{b.connection_id}/mappings", json=mappings, headers=b.headers
    )
    assert pointers(problem(response, 422, "nothing was changed")) == {
        "/room_types/1/room_type_id": "no such room type in this property",
        "/rate_plans/0/rate_plan_id": "no such rate plan in this property",
    }

    assert snapshot(client, a) == a_before
    assert snapshot(client, b) == b_before


def test_each_route_refuses_keys_without_its_scope(client: TestClient, db: Db) -> None:
    a = build_tenant(client, db, "hotel-a")
    writer = ok(
        client.post(
            "/api/v1/api-keys", json={"name": "pms", "scopes": ["write"]}, headers=a.headers
        ),
        201,
    )
    before = snapshot(client, a)
    read_key = {"Authorization": f"Bearer {a.read_key}"}
    write_key = {"Authorization": f"Bearer {writer['key']}"}

    refused = 0
    for method, path in api_routes(app_of(client)):
        scope = ROUTES[(method, path)].scope
        response = call(client, method, path, a, a, read_key)
        if scope == "read":
            expected = ROUTES[(method, path)].permitted_status
            assert response.status_code == expected, f"{method} {path}: a read key may read"
        else:
            problem(response, 403, f"this API key lacks the '{scope}' scope")
            refused += 1
        if scope == "admin":
            response = call(client, method, path, a, a, write_key)
            problem(response, 403, "this API key lacks the 'admin' scope")
    assert refused >= 25

    assert snapshot(client, a) == before


def test_revoked_missing_and_garbled_keys_get_401(client: TestClient, db: Db) -> None:
    a = build_tenant(client, db, "hotel-a")
    ok(client.delete(f"/api/v1/api-keys/{a.key_id}", headers=a.headers), 204)
    before = snapshot(client, a)
    prefix = a.caller.key.split("_")[1]

    refused: list[tuple[dict[str, str], str]] = [
        ({"Authorization": f"Bearer {a.read_key}"}, BAD_KEY),  # revoked
        ({}, SEND_YOUR_KEY),
    ]
    for method, path in api_routes(app_of(client)):
        for headers, message in refused:
            response = call(client, method, path, a, a, headers)
            assert response.status_code == 401, f"{method} {path} {headers}: {response.text}"
            problem(response, 401, message)
            assert response.headers["www-authenticate"].startswith("Bearer")

    garbled: list[tuple[str, str]] = [
        ("Basic dXNlcjpwYXNzd29yZA==", SEND_YOUR_KEY),
        ("Bearer", SEND_YOUR_KEY),
        ("Bearer ", SEND_YOUR_KEY),
        (a.caller.key, SEND_YOUR_KEY),  # the key without its scheme
        (f"Token {a.caller.key}", SEND_YOUR_KEY),
        (f"Bearer {a.caller.key}x", BAD_KEY),  # right prefix, wrong secret
        (f"Bearer isk_{prefix}_", BAD_KEY),
        (f"Bearer isk_{prefix}", BAD_KEY),
        ("Bearer not-a-key", BAD_KEY),
        ("Bearer isk__", BAD_KEY),
        ("Bearer isk_\x00_x", BAD_KEY),
        (f"Bearer isk_{'a' * 5000}_x", BAD_KEY),
        (f"Bearer {a.caller.key.upper()}", BAD_KEY),
    ]
    for index, (value, message) in enumerate(garbled):
        method, path = ("GET", "/api/v1/properties") if index % 2 else ("POST", "/api/v1/api-keys")
        response = call(client, method, path, a, a, {"Authorization": value})
        assert response.status_code == 401, f"{value[:40]!r}: {response.text}"
        problem(response, 401, message)

    assert snapshot(client, a) == before
