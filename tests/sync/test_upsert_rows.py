"""``upsert_rows`` on every database (PostgreSQL: one array per column, unnested): new rows go
in, existing ones are updated, of rows sharing keys the last given stays, batches are bounded."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import Table, select

from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db import upsert
from innsync.db.engine import transaction
from innsync.sync.models import AckedRate
from tests.conftest import Db
from tests.sync.engine_fixtures import create_hotel_rows

KEYS = ("connection_id", "rate_plan_id", "stay_date")
TABLE: Table = AckedRate.__table__  # type: ignore[assignment]
FIRST = date(2027, 1, 1)


def _row(connection_id: uuid.UUID, plan: uuid.UUID, day: int, price: str) -> dict[str, object]:
    values = {"price": price, "stop_sell": day % 2 == 0, "note": 'a "quoted" \\ text'}
    return {
        "connection_id": connection_id,
        "rate_plan_id": plan,
        "stay_date": FIRST + timedelta(days=day),
        "rate_values": values,
    }


def _stored(db: Db) -> dict[tuple[uuid.UUID, date], dict[str, object]]:
    with db.sessions() as session:
        rows = session.execute(
            select(AckedRate.rate_plan_id, AckedRate.stay_date, AckedRate.rate_values)
        )
        return {(plan, day): values for plan, day, values in rows}


def _upsert(db: Db, rows: list[dict[str, object]]) -> None:
    with transaction(db.sessions) as session:
        upsert.upsert_rows(session, TABLE, rows, KEYS, ("rate_values",))


def test_rows_are_inserted_updated_and_the_last_of_equal_keys_stays(
    db: Db, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upsert, "UPSERT_BATCH", 3)  # several batches, keys repeated across them
    hotel = create_hotel_rows(db.sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    connection_id = hotel.connection_id
    plan, other = hotel.rate_plan_ids[:2]
    _upsert(db, [_row(connection_id, plan, day, "100.00") for day in range(4)])
    given = [  # in batches of three
        _row(connection_id, plan, 1, "110.00"),
        _row(connection_id, other, 0, "90.00"),
        _row(connection_id, plan, 1, "111.00"),  # the same key again in the same batch
        _row(connection_id, plan, 2, "130.00"),
        _row(connection_id, plan, 5, "120.00"),
        _row(connection_id, plan, 2, "131.00"),
        _row(connection_id, other, 0, "91.00"),  # a key of an earlier batch
    ]
    _upsert(db, given)

    prices = {0: "100.00", 1: "111.00", 2: "131.00", 3: "100.00", 5: "120.00"}
    expected = {
        (plan, FIRST + timedelta(days=day)): _row(connection_id, plan, day, price)["rate_values"]
        for day, price in prices.items()
    }
    expected[(other, FIRST)] = _row(connection_id, other, 0, "91.00")["rate_values"]
    assert _stored(db) == expected
