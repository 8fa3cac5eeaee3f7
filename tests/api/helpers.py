"""Small builders for API tests: a tenant with a key, and a hotel made through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from innsync.tenants.service import create_tenant, issue_key


@dataclass
class Caller:
    """A tenant as seen through the API."""

    tenant_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_tenant(
    sessions: sessionmaker[Session], name: str = "Hotel Group", scopes: list[str] | None = None
) -> Caller:
    with sessions() as session:
        tenant, issued = create_tenant(session, name)
        if scopes is not None:
            issued = issue_key(session, tenant.id, "scoped", scopes)
        session.commit()
        return Caller(str(tenant.id), issued.secret)


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


PROBLEM_JSON = "application/problem+json"


def problem(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    """Assert an RFC 9457 answer with this status whose ``detail`` contains every fragment."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers["content-type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    assert isinstance(body.get("title"), str), body
    assert body["title"], body
    for fragment in fragments:
        assert fragment in body["detail"], f"{fragment!r} not in {body['detail']!r}"
    return body


def pointers(body: dict[str, Any]) -> dict[str, str]:
    """A 422 body's field problems, pointer to message."""
    return {error["pointer"]: error["detail"] for error in body.get("errors", [])}


# The installation operator's routes: no tenant key is ever accepted there, so the per-tenant
# route suites leave them out; tests/backups/test_api_backups.py covers them.
OPERATOR_PATHS = ("/api/v1/backups",)


def api_routes(app: FastAPI, prefix: str = "/api/v1") -> list[tuple[str, str]]:
    """Every tenant-facing (method, path) the app serves under ``prefix``, in registration order.

    Newer FastAPI keeps included routers as lazy entries of ``app.routes``; its
    ``iter_route_contexts`` flattens them. Older versions list the APIRoutes directly.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    found: list[tuple[str, str]] = []
    for context in contexts:
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute) or not context.path.startswith(prefix):
            continue
        if context.path.startswith(OPERATOR_PATHS):
            continue
        found.extend((method, context.path) for method in sorted(context.methods))
    return found


@dataclass
class Hotel:
    """A property with one room type (``units`` rooms) and a per-room BAR plan priced at 100."""

    caller: Caller
    property_id: str
    room_type_id: str
    rate_plan_id: str


def make_hotel(
    client: TestClient,
    caller: Caller,
    units: int = 5,
    price: str = "100.00",
    currency: str = "EUR",
) -> Hotel:
    prop = ok(
        client.post(
            "/api/v1/properties",
            json={"name": "Seaside", "timezone": "Europe/Rome", "currency": currency},
            headers=caller.headers,
        ),
        201,
    )
    room_type = ok(
        client.post(
            f"/api/v1/properties/{prop['id']}/room-types",
            json={
                "code": "DBL",
                "name": "Double",
                "sellable_units": units,
                "max_adults": 2,
                "max_occupancy": 3,
                "default_occupancy": 2,
            },
            headers=caller.headers,
        ),
        201,
    )
    plan = ok(
        client.post(
            f"/api/v1/properties/{prop['id']}/rate-plans",
            json={"room_type_id": room_type["id"], "code": "BAR", "name": "Best available"},
            headers=caller.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/properties/{prop['id']}/ari",
            json={
                "entries": [
                    {
                        "rate_plan_id": plan["id"],
                        "date_from": day(0),
                        "date_to": day(60),
                        "price": price,
                    }
                ]
            },
            headers=caller.headers,
        )
    )
    return Hotel(caller, prop["id"], room_type["id"], plan["id"])


def book(client: TestClient, hotel: Hotel, arrival: int = 3, departure: int = 5) -> Any:
    """A direct booking of one room at the BAR plan, ``arrival``/``departure`` days from today."""
    room = {"room_type_id": hotel.room_type_id, "rate_plan_id": hotel.rate_plan_id, "adults": 2}
    return ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(arrival),
                "departure": day(departure),
                "rooms": [room],
                "guest": {"first_name": "Ada", "last_name": "Lovelace"},
            },
            headers=hotel.caller.headers,
        ),
        201,
    )
