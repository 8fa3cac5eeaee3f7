"""Migration 0021 encrypts the personal data already stored, on every database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from alembic import command
from sqlalchemy import JSON, Engine, MetaData, Table, Uuid, insert, select
from sqlalchemy.orm import Session

from innsync.db.migrate import alembic_config, head_revision
from innsync.db.personal import personal_hash
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.reservations.models import Guest, Reservation, ReservationChange
from tests.backups.conftest import empty_database  # noqa: F401  (the fixture)

# Stored as the database keeps timestamps: naive UTC.
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC).replace(tzinfo=None)


def _migrate(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _row(table: Table, **given: Any) -> dict[str, Any]:
    """``given``, and a plain value for every other required column of the table."""
    row = dict(given)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and column.autoincrement is True:
            continue
        try:
            kind = column.type.python_type
        except NotImplementedError:
            kind = str
        defaults: dict[type, Any] = {
            str: "x",
            int: 0,
            bool: False,
            bytes: b"",
            dict: {},
            list: [],
            datetime: NOW,
            date: date(2030, 6, 1),
            uuid.UUID: uuid.uuid4(),
        }
        row[column.name] = defaults.get(kind, 0)
    return {name: _stored(table.c[name], value) for name, value in row.items()}


def _stored(column: Any, value: Any) -> Any:
    """A value as a reflected column takes it: UUIDs are 32 hex digits where no UUID type
    exists, documents are text where no JSON type was reflected (MariaDB)."""
    if isinstance(value, uuid.UUID) and not isinstance(column.type, Uuid):
        return value.hex
    if isinstance(value, dict | list) and not isinstance(column.type, JSON):
        return json.dumps(value)
    return value


def test_existing_rows_are_encrypted_and_hashed(backend: Engine, empty_database: Any) -> None:  # noqa: F811
    target = empty_database(backend.dialect.name)
    _migrate(target, "0020")
    tables = MetaData()
    tables.reflect(target)
    t = tables.tables
    tenant, prop, guest, reservation = (uuid.uuid4() for _ in range(4))
    connection_id = uuid.uuid4()
    body = json.dumps({"booking_id": "B1", "guest": {"name": "Ada Lovelace"}}).encode()
    with target.begin() as db:
        db.execute(insert(t["tenants"]), _row(t["tenants"], id=tenant, name="Group"))
        db.execute(insert(t["properties"]), _row(t["properties"], id=prop, tenant_id=tenant))
        db.execute(
            insert(t["guests"]),
            _row(
                t["guests"],
                id=guest,
                tenant_id=tenant,
                first_name="Ada",
                last_name="Lovelace",
                email="Ada@Example.com",
                email_normalized="ada@example.com",
                phone="+44 20 7946 0000",
                phone_e164="+442079460000",
            ),
        )
        db.execute(
            insert(t["reservations"]),
            _row(
                t["reservations"],
                id=reservation,
                tenant_id=tenant,
                property_id=prop,
                source="direct",
                status="confirmed",
                currency="EUR",
                guest_id=guest,
                notes="late arrival, Ada",
                special_requests="window seat",
                guarantee={"cardholder_name": "Ada Lovelace", "is_virtual": False},
            ),
        )
        db.execute(
            insert(t["reservation_changes"]),
            _row(
                t["reservation_changes"],
                tenant_id=tenant,
                reservation_id=reservation,
                revision=1,
                action="created",
                changes={"notes": [None, "late arrival, Ada"]},
                snapshot={"notes": "late arrival, Ada"},
                origin="api",
            ),
        )
        db.execute(
            insert(t["events"]),
            _row(t["events"], tenant_id=tenant, kind="reservation.created", payload={"n": "Ada"}),
        )
        db.execute(
            insert(t["connections"]),
            _row(t["connections"], id=connection_id, tenant_id=tenant, property_id=prop),
        )
        db.execute(
            insert(t["inbox_items"]),
            _row(
                t["inbox_items"],
                tenant_id=tenant,
                connection_id=connection_id,
                source="webhook",
                dedupe_key="k1",
                headers={},
                body=body,
                status="applied",
            ),
        )

    _migrate(target, "head")

    with target.connect() as db:
        raw = " ".join(
            str(value)
            for name in ("guests", "reservations", "reservation_changes", "events")
            for row in db.exec_driver_sql(f"SELECT * FROM {name}")
            for value in row
        )
        (raw_body,) = db.exec_driver_sql("SELECT body FROM inbox_items").one()
    # Needles long enough that ciphertext (base64) and ids cannot hold them by chance.
    for needle in ("Lovelace", "example.com", "2079460000", "window seat", "late arrival"):
        assert needle not in raw
    assert b"Lovelace" not in bytes(raw_body)
    with Session(target) as session:
        stored = session.get_one(Guest, guest)
        assert (stored.first_name, stored.last_name, stored.email) == (
            "Ada",
            "Lovelace",
            "Ada@Example.com",
        )
        assert stored.email_hash == personal_hash("ada@example.com")
        assert stored.phone_hash == personal_hash("+442079460000")
        assert stored.name_hash == personal_hash("ada lovelace")
        booked = session.get_one(Reservation, reservation)
        assert (booked.notes, booked.special_requests) == ("late arrival, Ada", "window seat")
        assert booked.guarantee == {"cardholder_name": "Ada Lovelace", "is_virtual": False}
        change = session.scalars(select(ReservationChange)).one()
        assert change.changes == {"notes": [None, "late arrival, Ada"]}
        assert session.scalars(select(Event.payload)).one() == {"n": "Ada"}
        assert session.scalars(select(InboxItem.body)).one() == body
    assert int(head_revision()) >= 21  # the upgrade above ran through 0021
