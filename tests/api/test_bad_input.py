"""Bad input never yields a 5xx and never changes stored data.

Every refusal is problem+json with a status that says whose fault it is (400 unreadable body,
413 too large, 422 invalid fields, with a JSON pointer to each), and the hotel reads back
exactly as before.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.schema import metadata
from innsync.settings import Settings
from tests.api.helpers import (
    PROBLEM_JSON,
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

ROOM_TYPE = {
    "code": "SGL",
    "name": "Single",
    "sellable_units": 2,
    "max_adults": 1,
    "max_occupancy": 1,
    "default_occupancy": 1,
}
NOT_JSON = "the body is not valid JSON: "
INVALID_FIELDS = "the request has invalid fields"
ARI_REFUSED = "some ARI entries are invalid; nothing was written"


@dataclass(frozen=True)
class Site:
    """A hotel (5 units of DBL priced at 100 for 60 days) with one booking, seen by its owner."""

    caller: Caller
    property_id: str
    room_type_id: str
    rate_plan_id: str
    reservation_id: str

    @property
    def headers(self) -> dict[str, str]:
        return self.caller.headers

    def fill(self, path: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda match: str(getattr(self, match.group(1))), path)


@pytest.fixture
def site(client: TestClient, db: Db) -> Site:
    caller = new_tenant(db.sessions)
    hotel = make_hotel(client, caller)
    booked = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(3),
                "departure": day(5),
                "rooms": [
                    {
                        "room_type_id": hotel.room_type_id,
                        "rate_plan_id": hotel.rate_plan_id,
                        "adults": 2,
                    }
                ],
                "guest": {"first_name": "Ada", "last_name": "Lovelace"},
            },
            headers=caller.headers,
        ),
        201,
    )
    return Site(caller, hotel.property_id, hotel.room_type_id, hotel.rate_plan_id, booked["id"])


def state(client: TestClient, db: Db, site: Site) -> dict[str, Any]:
    """What the owner reads about its hotel, and every stored row: a refused request changes
    neither (the rows also hold what these reads do not show: keys, guests, events...)."""
    window = {"date_from": day(-1), "date_to": day(40)}
    reads: dict[str, tuple[str, dict[str, str]]] = {
        "properties": ("/api/v1/properties", {}),
        "room_types": ("/api/v1/properties/{property_id}/room-types", {}),
        "rate_plans": ("/api/v1/properties/{property_id}/rate-plans", {}),
        "calendar": ("/api/v1/rate-plans/{rate_plan_id}/calendar", window),
        "availability": ("/api/v1/properties/{property_id}/availability", window),
        "reservations": ("/api/v1/properties/{property_id}/reservations", {}),
    }
    api = {
        name: ok(client.get(site.fill(path), params=params, headers=site.headers))
        for name, (path, params) in reads.items()
    }
    return api | {"rows": stored_rows(db)}


def stored_rows(db: Db) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: calendar, ledger, blocks, bookings and the rest."""
    return {
        table.name: [
            tuple(row)
            for row in db.connection.execute(select(table).order_by(*table.primary_key.columns))
        ]
        for table in metadata.sorted_tables
    }


def ari_entry(site: Site, first: int, last: int, **values: Any) -> dict[str, Any]:
    """An entry for the BAR plan from ``day(first)`` to ``day(last)``; ``values`` override."""
    entry = {"rate_plan_id": site.rate_plan_id, "date_from": day(first), "date_to": day(last)}
    return entry | values


def good_entries(site: Site) -> list[dict[str, Any]]:
    """Two entries that would change the calendar and availability if they were applied."""
    return [
        ari_entry(site, 1, 5, price="150.00", min_stay_arrival=2),
        {
            "room_type_id": site.room_type_id,
            "date_from": day(6),
            "date_to": day(7),
            "block": {"units": 2, "reason": "painting"},
        },
    ]


def booking(site: Site, arrival: int, departure: int, **room: Any) -> dict[str, Any]:
    return {
        "arrival": day(arrival),
        "departure": day(departure),
        "rooms": [{"room_type_id": site.room_type_id, "rate_plan_id": site.rate_plan_id} | room],
    }


def test_malformed_json_is_a_400_with_the_parsers_message(
    client: TestClient, db: Db, site: Site
) -> None:
    before = state(client, db, site)
    targets = [
        ("POST", "/api/v1/properties"),
        ("PATCH", "/api/v1/properties/{property_id}"),
        ("POST", "/api/v1/properties/{property_id}/ari"),
        ("POST", "/api/v1/properties/{property_id}/reservations"),
        ("PATCH", "/api/v1/reservations/{reservation_id}"),
        ("POST", "/api/v1/webhook-subscriptions"),
    ]
    bodies = {
        b'{"name": "Seaside"': "Expecting ',' delimiter",
        b"{name: 1}": "Expecting property name enclosed in double quotes",
        b'{"entries": [1, 2,]}': "Expecting value",
        b"{'name': 'Seaside'}": "Expecting property name enclosed in double quotes",
        b'{"name": "Seaside"} trailing': "Extra data",
        b"\x00": "Expecting value",
    }
    for method, path in targets:
        for body, message in bodies.items():
            response = client.request(
                method,
                site.fill(path),
                content=body,
                headers={**site.headers, "content-type": "application/json"},
            )
            problem(response, 400, NOT_JSON + message)
    # Bytes that are not even UTF-8 are refused before any JSON parsing.
    for body in (b"\x80\x81", b'{"name": "\xe9"}'):
        response = client.post(
            site.fill("/api/v1/properties/{property_id}/ari"),
            content=body,
            headers={**site.headers, "content-type": "application/json"},
        )
        problem(response, 400, "error parsing the body")
    assert state(client, db, site) == before


# (method, path, body or query, pointer, message): each body is valid but for one field.
FIELD_CASES: list[tuple[str, str, Any, str, str]] = [
    (
        "POST",
        "/api/v1/properties",
        {"name": 42, "timezone": "Europe/Rome", "currency": "EUR"},
        "/name",
        "Input should be a valid string",
    ),
    (
        "POST",
        "/api/v1/properties",
        {"name": "Annex", "timezone": "Europe/Rome", "currency": "EUR", "stars": 5},
        "/stars",
        "Extra inputs are not permitted",
    ),
    (
        "POST",
        "/api/v1/properties",
        {"name": "Annex", "timezone": "Europe/Rome", "currency": "EUR", "horizon_days": 10},
        "/horizon_days",
        "greater than or equal to 365",
    ),
    (
        "POST",
        "/api/v1/properties",
        {"timezone": "Europe/Rome", "currency": "EUR"},
        "/name",
        "Field required",
    ),
    (
        "PATCH",
        "/api/v1/properties/{property_id}",
        {"horizon_days": "soon"},
        "/horizon_days",
        "valid integer",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/room-types",
        ROOM_TYPE | {"sellable_units": -1},
        "/sellable_units",
        "greater than or equal to 0",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/room-types",
        ROOM_TYPE | {"code": "two words"},
        "/code",
        "should match pattern",
    ),
    ("PATCH", "/api/v1/room-types/{room_type_id}", {"max_adults": 0}, "/max_adults", "greater"),
    (
        "PATCH",
        "/api/v1/room-types/{room_type_id}",
        {"sellable_units": 1.5},
        "/sellable_units",
        "fractional part",
    ),
    (
        "POST",
        "/api/v1/room-types/{room_type_id}/units",
        {"name": "x" * 65},
        "/name",
        "at most 64 characters",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/rate-plans",
        {"room_type_id": "{room_type_id}", "code": "X", "name": "X", "pricing": "per_week"},
        "/pricing",
        "'per_room' or 'per_person'",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/rate-plans",
        {
            "room_type_id": "{room_type_id}",
            "code": "X",
            "name": "X",
            "derived_from": {
                "parent_id": "{rate_plan_id}",
                "rules": [{"kind": "percent", "value": "5"}, {"kind": "double", "value": "1"}],
            },
        },
        "/derived_from/rules/1/kind",
        "'percent' or 'amount'",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/rate-plans",
        {"room_type_id": "room-101", "code": "X", "name": "X"},
        "/room_type_id",
        "valid UUID",
    ),
    (
        "PATCH",
        "/api/v1/rate-plans/{rate_plan_id}",
        {"meal_plan": "buffet"},
        "/meal_plan",
        "'room_only'",
    ),
    (
        "POST",
        "/api/v1/room-types/{room_type_id}/blocks",
        {"date_from": "+1", "date_to": "+2", "units": 0},
        "/units",
        "greater than or equal to 1",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/reservations",
        {"rooms": [{"adults": 0}]},
        "/rooms/0/adults",
        "greater than or equal to 1",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/reservations",
        {"rooms": [{"adults": 1, "amount": "10.0005"}]},
        "/rooms/0/amount",
        "3 decimal places",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/reservations",
        {"guest": {"country": "Italy"}},
        "/guest/country",
        "should match pattern",
    ),
    (
        "POST",
        "/api/v1/properties/{property_id}/reservations",
        {"arrival": "2031-02-30"},
        "/arrival",
        "valid date",
    ),
    (
        "PATCH",
        "/api/v1/reservations/{reservation_id}",
        {"rooms": [{"room_type_id": "{room_type_id}", "adults": "two"}]},
        "/rooms/0/adults",
        "valid integer",
    ),
    (
        "PATCH",
        "/api/v1/reservations/{reservation_id}",
        {"status": "cancelled"},
        "/status",
        "Extra inputs are not permitted",
    ),
    ("POST", "/api/v1/webhook-subscriptions", {"url": "not a url"}, "/url", "valid URL"),
    (
        "POST",
        "/api/v1/webhook-subscriptions",
        {"url": "https://pms.example/hook", "kinds": ["reservation.eaten"]},
        "/kinds",
        "unknown event kinds ['reservation.eaten']",
    ),
    (
        "POST",
        "/api/v1/api-keys",
        {"name": "pms", "scopes": ["read"], "admin": True},
        "/admin",
        "Extra inputs are not permitted",
    ),
    ("POST", "/api/v1/api-keys", {"name": "pms", "scopes": []}, "/scopes", "at least 1 item"),
    ("GET", "/api/v1/events", {"limit": 0}, "/query/limit", "greater than or equal to 1"),
    ("GET", "/api/v1/events", {"after": -1}, "/query/after", "greater than or equal to 0"),
    (
        "GET",
        "/api/v1/rate-plans/{rate_plan_id}/calendar",
        {"date_from": "tomorrow", "date_to": "+1"},
        "/query/date_from",
        "valid date",
    ),
    (
        "GET",
        "/api/v1/properties/{property_id}/availability",
        {"date_from": "+0"},
        "/query/date_to",
        "Field required",
    ),
]


def _resolve(value: Any, site: Site) -> Any:
    """Fill ``{ids}`` and relative days (``"+3"``) into a case's body."""
    if isinstance(value, dict):
        return {key: _resolve(item, site) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, site) for item in value]
    if isinstance(value, str) and re.fullmatch(r"[+-]\d+", value):
        return day(int(value))
    if isinstance(value, str) and "{" in value:
        return site.fill(value)
    return value


def _complete(method: str, path: str, body: dict[str, Any], site: Site) -> dict[str, Any]:
    """Reservation cases give only what is wrong; the rest of a valid booking is added."""
    if method == "POST" and path.endswith("/reservations"):
        valid = booking(site, 10, 12, adults=1)
        rooms = [valid["rooms"][0] | room for room in body.get("rooms", [{}])]
        return valid | body | {"rooms": rooms}
    return body


def test_invalid_fields_are_422_with_a_pointer_to_the_field(
    client: TestClient, db: Db, site: Site
) -> None:
    before = state(client, db, site)
    for method, path, raw, pointer, message in FIELD_CASES:
        where = f"{method} {path} {raw}"
        data = _complete(method, path, _resolve(raw, site), site)
        kwargs = {"params": data} if method == "GET" else {"json": data}
        response = client.request(method, site.fill(path), headers=site.headers, **kwargs)
        assert response.status_code == 422, f"{where}: {response.status_code} {response.text}"
        found = pointers(problem(response, 422, INVALID_FIELDS))
        assert list(found) == [pointer], f"{where}: {found}"
        assert message in found[pointer], f"{where}: {found}"
    assert state(client, db, site) == before


def test_a_bad_third_ari_entry_is_pointed_at_and_nothing_is_written(
    client: TestClient, db: Db, site: Site
) -> None:
    before = state(client, db, site)
    path = f"/api/v1/properties/{site.property_id}/ari"
    bad_entries: list[tuple[dict[str, Any], str, str]] = [
        (ari_entry(site, 1, 2, max_stay=5000), "/entries/2/max_stay", "less than or equal to 999"),
        (ari_entry(site, 1, 2, price="-1"), "/entries/2/price", "greater than or equal to 0"),
        (ari_entry(site, 1, 2, price="12.3456"), "/entries/2/price", "3 decimal places"),
        (ari_entry(site, 1, 2, price="NaN"), "/entries/2/price", "finite number"),
        (ari_entry(site, 1, 2, stop_sell="maybe"), "/entries/2/stop_sell", "valid boolean"),
        (ari_entry(site, 1, 2, weekdays=["fr", "xx"]), "/entries/2/weekdays/1", "'mo'"),
        (ari_entry(site, 1, 2, colour="red"), "/entries/2/colour", "Extra inputs"),
        (
            ari_entry(site, 1, 2, date_from="2031-13-01", price="1"),
            "/entries/2/date_from",
            "valid date",
        ),
        (
            ari_entry(site, 1, 2, occupancy_prices={"two": "10"}),
            "/entries/2/occupancy_prices/two/[key]",
            "valid integer",
        ),
    ]
    for entry, pointer, message in bad_entries:
        response = client.post(
            path, json={"entries": [*good_entries(site), entry]}, headers=site.headers
        )
        found = pointers(problem(response, 422, INVALID_FIELDS))
        assert list(found) == [pointer], f"{entry}: {found}"
        assert message in found[pointer], f"{entry}: {found}"

    response = client.post(path, json={"entries": []}, headers=site.headers)
    assert pointers(problem(response, 422))["/entries"].startswith("List should have at least 1")
    assert state(client, db, site) == before


def test_an_ari_write_with_one_refused_entry_writes_nothing(
    client: TestClient, db: Db, site: Site
) -> None:
    derived = ok(
        client.post(
            f"/api/v1/properties/{site.property_id}/rate-plans",
            json={
                "room_type_id": site.room_type_id,
                "code": "NRF",
                "name": "Non refundable",
                "derived_from": {"parent_id": site.rate_plan_id, "inherit": ["stop_sell"]},
            },
            headers=site.headers,
        ),
        201,
    )
    before = state(client, db, site)
    path = f"/api/v1/properties/{site.property_id}/ari"
    unknown_plan = str(uuid.uuid4())
    refused: list[tuple[dict[str, Any], str, str]] = [
        (ari_entry(site, 600, 601, price="90"), "/entries/2", "dates must lie within"),
        (ari_entry(site, -5, -4, price="90"), "/entries/2", "dates must lie within"),
        (
            ari_entry(site, 1, 2, occupancy_prices={"1": "90"}),
            "/entries/2/occupancy_prices",
            "a per_room plan takes price",
        ),
        (
            ari_entry(site, 1, 2, rate_plan_id=derived["id"], price="90"),
            "/entries/2/price",
            "prices of a derived plan come from its parent",
        ),
        (
            ari_entry(site, 1, 2, rate_plan_id=derived["id"], stop_sell=True),
            "/entries/2/stop_sell",
            "inherited from the parent plan",
        ),
        (
            ari_entry(site, 1, 2, rate_plan_id=unknown_plan, price="90"),
            "/entries/2/rate_plan_id",
            "no such rate plan in this property",
        ),
        (
            {
                "room_type_id": site.room_type_id,
                "date_from": day(1),
                "date_to": day(2),
                "block": {"units": 6},
            },
            "/entries/2/block/units",
            "cannot block more than the room type's 5 units",
        ),
    ]
    for entry, pointer, message in refused:
        response = client.post(
            path, json={"entries": [*good_entries(site), entry]}, headers=site.headers
        )
        found = pointers(problem(response, 422, ARI_REFUSED))
        assert pointer in found, f"{entry}: {found}"
        assert message in found[pointer], f"{entry}: {found}"
        assert all(p.startswith("/entries/2") for p in found), f"good entries blamed: {found}"
    assert state(client, db, site) == before

    # The same two good entries alone are applied: the refusals above were all-or-nothing.
    ok(client.post(path, json={"entries": good_entries(site)}, headers=site.headers))
    after = state(client, db, site)
    assert after["calendar"] != before["calendar"]
    assert after["availability"] != before["availability"]


def test_unknown_timezone_or_currency_is_422_naming_the_value(
    client: TestClient, db: Db, site: Site
) -> None:
    before = state(client, db, site)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"timezone": "Mars/Olympus_Mons"}, "/timezone", "'Mars/Olympus_Mons' is not an IANA"),
        ({"timezone": "europe/rome"}, "/timezone", "'europe/rome' is not an IANA"),
        ({"currency": "XYZ"}, "/currency", "'XYZ' is not an ISO 4217 currency code"),
        ({"currency": "eur"}, "/currency", "'eur' is not an ISO 4217 currency code"),
    ]
    for change, pointer, message in cases:
        create = {"name": "Annex", "timezone": "Europe/Rome", "currency": "EUR"} | change
        for method, path, body in (
            ("POST", "/api/v1/properties", create),
            ("PATCH", f"/api/v1/properties/{site.property_id}", change),
        ):
            response = client.request(method, path, json=body, headers=site.headers)
            found = pointers(problem(response, 422, INVALID_FIELDS))
            assert list(found) == [pointer], found
            assert message in found[pointer], found
    assert state(client, db, site) == before


def test_a_body_over_the_configured_limit_is_413(
    db: Db, secret_box: SecretBox, site: Site, client: TestClient
) -> None:
    limit = 400
    app = create_app(
        Settings(database_url="sqlite://", background_loops=False, max_request_bytes=limit),
        engine=db.engine,
        sessions=db.sessions,
        secret_box=secret_box,
        run_loops=False,
    )
    before = state(client, db, site)
    headers = {**site.headers, "content-type": "application/json"}

    def sized(size: int) -> bytes:
        """A valid new property, padded with JSON whitespace to exactly ``size`` bytes."""
        body = json.dumps({"name": "Annex", "timezone": "Europe/Rome", "currency": "EUR"})
        return body[:-1].encode() + b" " * (size - len(body)) + b"}"

    def chunks(body: bytes) -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield body[:100]
        yield body[100:]

    over = sized(limit + 1)
    huge_ari = {"entries": [ari_entry(site, 1, 2, price="1.00") for _ in range(50)]}
    with TestClient(app) as small:
        too_large = [
            small.post("/api/v1/properties", content=over, headers=headers),
            small.post("/api/v1/properties", content=chunks(over), headers=headers),
            small.post(
                f"/api/v1/properties/{site.property_id}/ari", json=huge_ari, headers=headers
            ),
            small.patch(f"/api/v1/properties/{site.property_id}", content=over, headers=headers),
            small.post("/api/v1/properties", content=over),  # refused before authentication
        ]
        for response in too_large:
            problem(response, 413, f"bodies are limited to {limit} bytes")
        assert state(client, db, site) == before

        # At the limit, in one piece or chunked, a body is read and acted on.
        ok(small.post("/api/v1/properties", content=sized(limit), headers=headers), 201)
        ok(small.post("/api/v1/properties", content=chunks(sized(limit)), headers=headers), 201)
    assert len(state(client, db, site)["properties"]) == 3


def test_a_booking_that_ends_before_it_starts_is_422(
    client: TestClient, db: Db, site: Site
) -> None:
    before = state(client, db, site)
    path = f"/api/v1/properties/{site.property_id}/reservations"
    for arrival, departure, message in (
        (5, 3, "departure must be after arrival"),
        (5, 5, "departure must be after arrival"),
        (1, 92, "a stay is at most 90 nights"),
    ):
        response = client.post(
            path, json=booking(site, arrival, departure, adults=1), headers=site.headers
        )
        found = pointers(problem(response, 422, INVALID_FIELDS))
        assert list(found) == ["/"], found
        assert message in found["/"], found

    change = f"/api/v1/reservations/{site.reservation_id}"
    for body in ({"departure": day(2)}, {"arrival": day(5)}, {"arrival": day(9)}):
        response = client.patch(change, json=body, headers=site.headers)
        problem(response, 422, "departure must be after arrival")
    assert state(client, db, site) == before


def test_a_booking_of_an_unknown_room_type_or_plan_is_refused_clearly(
    client: TestClient, db: Db, site: Site
) -> None:
    other = ok(
        client.post(
            "/api/v1/properties",
            json={"name": "Annex", "timezone": "Europe/Rome", "currency": "EUR"},
            headers=site.headers,
        ),
        201,
    )
    elsewhere = ok(
        client.post(
            f"/api/v1/properties/{other['id']}/room-types", json=ROOM_TYPE, headers=site.headers
        ),
        201,
    )
    single = ok(
        client.post(
            f"/api/v1/properties/{site.property_id}/room-types",
            json=ROOM_TYPE,
            headers=site.headers,
        ),
        201,
    )
    before = state(client, db, site)
    path = f"/api/v1/properties/{site.property_id}/reservations"
    unknown = str(uuid.uuid4())
    good_room = booking(site, 10, 12, adults=1)["rooms"][0]
    # (rooms, status, detail, the pointer of a 422)
    cases: list[tuple[list[dict[str, Any]], int, str, str | None]] = [
        (
            [{"room_type_id": unknown, "adults": 1, "amount": "10"}],
            422,
            "rooms/0: no such room type in this property",
            "/rooms/0/room_type_id",
        ),
        (
            [good_room, {"room_type_id": unknown, "adults": 1, "amount": "10"}],
            422,
            "rooms/1: no such room type in this property",
            "/rooms/1/room_type_id",
        ),
        (
            [{"room_type_id": elsewhere["id"], "adults": 1, "amount": "10"}],
            422,
            "rooms/0: no such room type in this property",
            "/rooms/0/room_type_id",
        ),
        ([good_room | {"rate_plan_id": unknown}], 404, f"rate plan {unknown} not found", None),
        (
            [{"room_type_id": single["id"], "rate_plan_id": site.rate_plan_id, "adults": 1}],
            422,
            "rooms/0: the rate plan sells another room type",
            "/rooms/0/rate_plan_id",
        ),
        (
            [good_room | {"adults": 3}],
            422,
            "rooms/0: DBL sleeps at most 2 adults",
            "/rooms/0/adults",
        ),
        (
            [{"room_type_id": site.room_type_id, "adults": 1}],
            422,
            "rooms/0: give a rate_plan_id to price the stay, or an amount",
            "/rooms/0/amount",
        ),
    ]
    for rooms, status, message, pointer in cases:
        body = {"arrival": day(10), "departure": day(12), "rooms": rooms}
        found = pointers(
            problem(client.post(path, json=body, headers=site.headers), status, message)
        )
        assert list(found) == ([pointer] if pointer else []), found
    response = client.post(
        f"/api/v1/properties/{unknown}/reservations",
        json={"arrival": day(10), "departure": day(12), "rooms": [good_room]},
        headers=site.headers,
    )
    problem(response, 404, f"property {unknown} not found")
    assert state(client, db, site) == before


def test_ids_that_are_not_uuids_are_422_on_every_route(
    client: TestClient, db: Db, site: Site
) -> None:
    before = state(client, db, site)
    assert isinstance(client.app, FastAPI)
    routes = [(m, p) for m, p in api_routes(client.app) if "{" in p]
    assert len(routes) >= 25
    bad_ids = ["123", "not-a-uuid", f"{site.property_id}x", "1 OR 1=1", site.property_id[:-1]]
    for index, (method, path) in enumerate(routes):
        # The first parameter is always an id; one after it may be the channel's own (a
        # booking id at the channel), which is free text: it gets a harmless value.
        name, *others = re.findall(r"\{(\w+)\}", path)
        url = path.replace(f"{{{name}}}", bad_ids[index % len(bad_ids)])
        for other in others:
            url = url.replace(f"{{{other}}}", "BK-1")
        kwargs = {} if method in {"GET", "DELETE"} else {"json": {}}
        response = client.request(method, url, headers=site.headers, **kwargs)
        found = pointers(problem(response, 422, INVALID_FIELDS))
        assert f"/path/{name}" in found, f"{method} {url}: {found}"
        assert "valid UUID" in found[f"/path/{name}"], found
    assert state(client, db, site) == before


def test_values_the_database_cannot_store_are_refused(
    client: TestClient, db: Db, site: Site
) -> None:
    """Each of these was a 500 on some database before it was checked at the edge."""
    before = state(client, db, site)
    nul = "Sea\x00side"
    ari = f"/api/v1/properties/{site.property_id}/ari"
    bookings = f"/api/v1/properties/{site.property_id}/reservations"
    cases: list[tuple[str, str, dict[str, Any], str, str]] = [
        (
            "POST",
            "/api/v1/properties",
            {"name": nul, "timezone": "Europe/Rome", "currency": "EUR"},
            "/name",
            "NUL",
        ),
        ("PATCH", f"/api/v1/rate-plans/{site.rate_plan_id}", {"name": nul}, "/name", "NUL"),
        ("POST", bookings, booking(site, 8, 9, adults=1) | {"notes": nul}, "/notes", "NUL"),
        (
            "POST",
            bookings,
            booking(site, 8, 9, adults=1) | {"guest": {"email": f"ada{nul}@example.com"}},
            "/guest/email",
            "NUL",
        ),
        ("POST", "/api/v1/api-keys", {"name": nul, "scopes": ["read"]}, "/name", "NUL"),
        (
            "POST",
            bookings,
            booking(site, 8, 9, adults=1, amount="10000000000.00"),
            "/rooms/0/amount",
            "less than or equal to 9999999999.99",
        ),
        (
            "POST",
            "/api/v1/webhook-subscriptions",
            {"url": "https://pms.example/" + "a" * 2000},
            "/url",
            "at most 2000 characters",
        ),
        (
            "POST",
            ari,
            {"entries": [ari_entry(site, 1, 2, date_to="9999-12-31", price="1")]},
            "/entries/0",
            "date_to must be before 9999-12-31",
        ),
        (
            "POST",
            f"/api/v1/room-types/{site.room_type_id}/blocks",
            {"date_from": "9999-12-30", "date_to": "9999-12-31", "units": 1},
            "/",
            "date_to must be before 9999-12-31",
        ),
    ]
    for method, path, body, pointer, message in cases:
        response = client.request(method, path, json=body, headers=site.headers)
        found = pointers(problem(response, 422, INVALID_FIELDS))
        assert list(found) == [pointer], f"{method} {path}: {found}"
        assert message in found[pointer], f"{method} {path}: {found}"

    # Three rooms each at the most a room may cost: the total would not fit the money column.
    rich = booking(site, 8, 9, adults=1, amount="9999999999.99")
    response = client.post(bookings, json=rich | {"rooms": rich["rooms"] * 3}, headers=site.headers)
    problem(response, 422, "the reservation's total 29999999999.97 exceeds 9999999999.99")

    for path in (
        f"/api/v1/rate-plans/{site.rate_plan_id}/calendar",
        f"/api/v1/properties/{site.property_id}/availability",
    ):
        response = client.get(
            path,
            params={"date_from": "9999-12-30", "date_to": "9999-12-31"},
            headers=site.headers,
        )
        problem(response, 422, "date_to must be before 9999-12-31")
    response = client.get("/api/v1/events", params={"after": 2**63}, headers=site.headers)
    assert "/query/after" in pointers(problem(response, 422))
    response = client.patch(
        f"/api/v1/room-types/{site.room_type_id}",
        json={"max_adults": 4},
        headers=site.headers,
    )
    problem(response, 422, "max_adults cannot exceed max_occupancy")
    response = client.get("/api/v1/properties", headers={"Authorization": "Bearer isk_\x00_x"})
    problem(response, 401, "invalid or revoked API key")
    assert state(client, db, site) == before


# Fuzzing: any JSON (or bytes) sent to a property's write endpoints. Named fields may hold the
# hotel's own ids (placeholders filled in per run) so that some bodies get past the schema.
PLACEHOLDERS = ("{property_id}", "{room_type_id}", "{rate_plan_id}", "{reservation_id}")

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: Python's JSON parser accepts them
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "9999-12-31", "0001-01-01", "1e400", "-0", "EUR", "fr"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = [
    "name",
    "timezone",
    "currency",
    "horizon_days",
    "code",
    "sellable_units",
    "max_adults",
    "max_occupancy",
    "default_occupancy",
    "room_type_id",
    "rate_plan_id",
    "pricing",
    "occupancies",
    "derived_from",
    "date_from",
    "date_to",
    "price",
    "occupancy_prices",
    "weekdays",
    "max_stay",
    "stop_sell",
    "block",
    "units",
    "arrival",
    "departure",
    "rooms",
    "adults",
    "amount",
    "guest",
    "notes",
    "channel",
    "config",
]
FIELD_VALUES = (
    JSON_VALUES
    | st.sampled_from(list(PLACEHOLDERS))
    | st.integers(min_value=-3, max_value=70).map(day)  # dates near the priced ones
    | st.dates().map(lambda value: value.isoformat())
    | st.uuids().map(str)
    | st.decimals(allow_nan=False, places=3).map(str)
    | st.integers(min_value=-(2**70), max_value=2**70)
)
NAMED_FIELDS = st.dictionaries(st.sampled_from(FIELD_NAMES), FIELD_VALUES, max_size=6)


def _encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


BODIES = st.one_of(
    JSON_VALUES.map(_encoded),
    NAMED_FIELDS.map(_encoded),
    st.tuples(NAMED_FIELDS, st.lists(NAMED_FIELDS, max_size=3)).map(
        lambda pair: _encoded(pair[0] | {"entries": pair[1]})
    ),
    st.tuples(NAMED_FIELDS, st.lists(NAMED_FIELDS, max_size=3)).map(
        lambda pair: _encoded(pair[0] | {"rooms": pair[1]})
    ),
    st.binary(max_size=120),
)

WRITES = [
    ("POST", "/api/v1/properties/{property_id}/connections"),
    ("PATCH", "/api/v1/properties/{property_id}"),
    ("POST", "/api/v1/properties/{property_id}/ari"),
    ("POST", "/api/v1/properties/{property_id}/reservations"),
    ("POST", "/api/v1/properties/{property_id}/room-types"),
    ("POST", "/api/v1/properties/{property_id}/rate-plans"),
    ("PATCH", "/api/v1/room-types/{room_type_id}"),
    ("POST", "/api/v1/room-types/{room_type_id}/units"),
    ("POST", "/api/v1/room-types/{room_type_id}/blocks"),
    ("PATCH", "/api/v1/rate-plans/{rate_plan_id}"),
    ("PATCH", "/api/v1/reservations/{reservation_id}"),
]


@pytest.fixture
def baseline() -> dict[str, Any]:
    """The stored rows as last read, kept across the examples of one fuzzing run."""
    return {}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(target=st.sampled_from(WRITES), body=BODIES)
def test_fuzzed_bodies_never_fail_the_server_nor_change_data(
    client: TestClient,
    db: Db,
    site: Site,
    baseline: dict[str, Any],
    target: tuple[str, str],
    body: bytes,
) -> None:
    if not baseline:
        baseline.update(stored_rows(db))
        assert baseline["rate_calendar_runs"], "the calendar is read"
    method, path = target
    for placeholder in PLACEHOLDERS:
        body = body.replace(placeholder.encode(), site.fill(placeholder).encode())
    response = client.request(
        method,
        site.fill(path),
        content=body,
        headers={**site.headers, "content-type": "application/json"},
    )
    assert response.status_code < 500, f"{method} {path} {body!r}: {response.text}"
    after = stored_rows(db)
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["status"] == response.status_code
        assert after == baseline, f"{method} {path} {body!r} was refused but changed data"
    else:  # a fuzzed body that happens to be valid may change the hotel: that is its right
        baseline.clear()
        baseline.update(after)
