"""Fixtures for backup tests: a hotel with bookings in a real database, a key, a store, and a
second, empty database of each kind to restore into."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, MetaData, make_url, text

from innsync.api.app import create_app
from innsync.backups.cipher import BackupKey, generate_backup_key
from innsync.backups.store import LocalStore
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory
from innsync.settings import Settings
from tests.api.helpers import Caller, new_tenant, today
from tests.databases import DEFAULT_URLS, missing, probe, xdist_worker


@pytest.fixture
def key() -> BackupKey:
    return BackupKey(generate_backup_key())


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "backups")


@dataclass
class Hotel:
    """A hotel made through the API: ids of what a booking needs."""

    caller: Caller
    property_id: str
    room_type_id: str
    rate_plan_id: str
    arrival: Any


def api(engine: Engine, secret_box: SecretBox) -> Any:
    return create_app(
        Settings(database_url="sqlite://", background_loops=False),
        engine=engine,
        sessions=session_factory(engine),
        secret_box=secret_box,
        run_loops=False,
    )


def make_hotel(http: httpx.Client, caller: Caller, units: int = 40) -> Hotel:
    """A property, a room type, a rate plan, a derived plan (its parent is a row of the same
    table) and 30 days of rates."""
    prop = http.post(
        "/api/v1/properties",
        json={"name": "Hôtel Ünïcode", "timezone": "Europe/Rome", "currency": "EUR"},
    ).json()
    room = http.post(
        f"/api/v1/properties/{prop['id']}/room-types",
        json={
            "code": "DBL",
            "name": "Double",
            "sellable_units": units,
            "max_adults": 2,
            "max_occupancy": 3,
            "default_occupancy": 2,
        },
    ).json()
    bar = http.post(
        f"/api/v1/properties/{prop['id']}/rate-plans",
        json={"room_type_id": room["id"], "code": "BAR", "name": "Best available rate"},
    ).json()
    for code in ("NRF", "NRF2", "NRF3"):
        derived = http.post(
            f"/api/v1/properties/{prop['id']}/rate-plans",
            json={
                "room_type_id": room["id"],
                "code": code,
                "name": "Non refundable",
                "derived_from": {
                    "parent_id": bar["id"],
                    "rules": [{"kind": "percent", "value": "-10"}],
                },
            },
        )
        assert derived.status_code == 201, derived.text
    start = today() + timedelta(days=1)
    ari = http.post(
        f"/api/v1/properties/{prop['id']}/ari",
        json={
            "entries": [
                {
                    "rate_plan_id": bar["id"],
                    "date_from": start.isoformat(),
                    "date_to": (start + timedelta(days=30)).isoformat(),
                    "price": "120.50",
                }
            ]
        },
    )
    assert ari.status_code < 300, ari.text
    return Hotel(caller, prop["id"], room["id"], bar["id"], today() + timedelta(days=5))


def book(http: httpx.Client, hotel: Hotel, guest: int, nights: int = 2) -> httpx.Response:
    arrival = hotel.arrival + timedelta(days=guest % 7)
    return http.post(
        f"/api/v1/properties/{hotel.property_id}/reservations",
        json={
            "arrival": arrival.isoformat(),
            "departure": (arrival + timedelta(days=nights)).isoformat(),
            "rooms": [
                {
                    "room_type_id": hotel.room_type_id,
                    "rate_plan_id": hotel.rate_plan_id,
                    "adults": 2,
                }
            ],
            "guest": {"last_name": f"Gäst {guest}", "email": f"guest{guest}@example.com"},
        },
    )


@pytest.fixture
def hotel_client(committed: Engine, secret_box: SecretBox) -> Iterator[tuple[httpx.Client, Hotel]]:
    """An in-process API client on the committed database, and a hotel made through it."""
    from fastapi.testclient import TestClient

    caller = new_tenant(session_factory(committed))
    with TestClient(api(committed, secret_box), headers=caller.headers) as http:
        yield http, make_hotel(http, caller)  # type: ignore[misc]
    unlink_derived_plans(committed)


def unlink_derived_plans(engine: Engine) -> None:
    """MariaDB checks a self-reference row by row, so the suite's DELETE of rate_plans would
    fail on derived plans: cut those links first."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE rate_plans SET parent_id = NULL"))


def _empty(url: str) -> Engine:
    engine = build_engine(url)
    existing = MetaData()
    existing.reflect(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        existing.drop_all(connection)
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return engine


def server_database(kind: str, suffix: str) -> str | None:
    """A database of its own on the PostgreSQL or MariaDB server, or None when it is down."""
    configured = make_url(os.environ.get(f"INNSYNC_TEST_{kind.upper()}_URL", DEFAULT_URLS[kind]))
    if probe(configured.render_as_string(hide_password=False)) is not None:
        return None
    # Parallel workers restore at the same time: each gets databases of its own.
    worker = xdist_worker()
    name = (
        f"{configured.database}_{worker}_{suffix}" if worker else f"{configured.database}_{suffix}"
    )
    admin = build_engine(configured.render_as_string(hide_password=False), pool_pre_ping=False)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if kind == "postgresql":
                found = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if found is None:
                    connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    finally:
        admin.dispose()
    return configured.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Any]:
    """``empty_database(kind)``: an engine on an empty database of that kind (no tables)."""
    engines: list[Engine] = []

    def make(kind: str) -> Engine:
        kind = "mariadb" if kind == "mysql" else kind
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'restore-{len(engines)}.sqlite3'}"
        else:
            found = server_database(kind, f"restore{len(engines)}")
            if found is None:
                missing(f"{kind} is not reachable")
            url = found
        engine = _empty(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
