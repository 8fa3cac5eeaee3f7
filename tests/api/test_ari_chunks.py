"""A bulk ARI write in bounded transactions means what the one-transaction write meant.

A reference model of the write's semantics (only given fields change, ``null`` clears, weekday
filters, per-person prices merge, ``dates_changed`` counts days whose values differ, one mark
per pushing connection, changed entry and plan, derived plans included) is checked against the
chunked write at chunk sizes from one entry per transaction to one transaction for everything.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from innsync.inventory.bulk import MAX_CHUNK_DAYS, _next_limit, chunks, write_ari_in_chunks
from innsync.inventory.calendar import CALENDAR_COLUMNS, check_ari
from innsync.inventory.models import RateCalendarDay
from innsync.inventory.schemas import AriEntry, AriWrite
from innsync.outbox.models import RATES, DirtyMark
from innsync.stay_dates import DateRange
from tests.api.helpers import Hotel, day, make_hotel, new_tenant, ok, today
from tests.conftest import Db

Row = dict[str, Any]


def _plan(client: TestClient, hotel: Hotel, code: str, **extra: Any) -> str:
    body = {"room_type_id": hotel.room_type_id, "code": code, "name": code, **extra}
    created = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/rate-plans",
            json=body,
            headers=hotel.caller.headers,
        ),
        201,
    )
    return str(created["id"])


def _connect(client: TestClient, hotel: Hotel, name: str) -> str:
    created = ok(
        client.post(
            f"/api/v1/properties/{hotel.property_id}/connections",
            json={"channel": "fake", "name": name},
            headers=hotel.caller.headers,
        ),
        201,
    )
    return str(created["id"])


def _entries(bar: str, other: str, person: str) -> list[dict[str, Any]]:
    """Overlapping entries: weekday filters, clears where rows exist and where none do, a
    rewrite of the same values, per-person prices merged, and a plan with a derived child."""
    return [
        {"rate_plan_id": bar, "date_from": day(0), "date_to": day(20), "price": "120.00"},
        {"rate_plan_id": bar, "date_from": day(5), "date_to": day(30), "weekdays": ["fr", "sa"],
         "price": "150.00", "min_stay_arrival": 2},
        {"rate_plan_id": bar, "date_from": day(5), "date_to": day(30), "weekdays": ["fr", "sa"],
         "price": "150.00", "min_stay_arrival": 2},
        {"rate_plan_id": other, "date_from": day(3), "date_to": day(9), "stop_sell": True,
         "max_stay": 7},
        {"rate_plan_id": other, "date_from": day(40), "date_to": day(45), "max_stay": None},
        {"rate_plan_id": bar, "date_from": day(10), "date_to": day(25), "min_stay_arrival": None,
         "closed_to_arrival": False},
        {"rate_plan_id": person, "date_from": day(2), "date_to": day(8),
         "occupancy_prices": {"1": "80.00", "2": "110.00"}},
        {"rate_plan_id": person, "date_from": day(6), "date_to": day(12),
         "weekdays": ["mo", "tu", "we", "th", "fr"], "occupancy_prices": {"2": "115.00"}},
        {"rate_plan_id": other, "date_from": day(3), "date_to": day(9), "stop_sell": True},
        {"rate_plan_id": bar, "date_from": day(1), "date_to": day(1), "stop_sell": None},
    ]  # fmt: skip


def _reference(
    rows: dict[tuple[str, date], Row], entries: list[AriEntry]
) -> tuple[dict[tuple[str, date], Row], list[int]]:
    """The write's meaning, day by day: the final rows and each entry's ``dates_changed``."""
    rows = {key: dict(values) for key, values in rows.items()}
    empty = dict.fromkeys(CALENDAR_COLUMNS)
    changed_per_entry = []
    for entry in entries:
        plan = str(entry.rate_plan_id)
        changed = 0
        for stay in entry.to_range().dates_on(entry.weekday_numbers()):
            before = rows.get((plan, stay), empty)
            after = dict(before)
            for name in entry.calendar_fields():
                value = getattr(entry, name)
                if name == "occupancy_prices" and value is not None:
                    merged = {**(before["occupancy_prices"] or {})}
                    merged.update({str(k): str(v) for k, v in value.items()})
                    value = dict(sorted(merged.items(), key=lambda kv: int(kv[0])))
                after[name] = value
            changed += after != before
            rows[(plan, stay)] = after
        changed_per_entry.append(changed)
    return rows, changed_per_entry


def _stored(db: Db, plans: list[str]) -> dict[tuple[str, date], Row]:
    with db.sessions() as session:
        found = session.scalars(
            select(RateCalendarDay).where(
                RateCalendarDay.rate_plan_id.in_([uuid.UUID(p) for p in plans])
            )
        )
        return {
            (str(row.rate_plan_id), row.stay_date): {n: getattr(row, n) for n in CALENDAR_COLUMNS}
            for row in found
        }


def _meaningful(rows: dict[tuple[str, date], Row]) -> dict[tuple[str, date], Row]:
    """A row of only NULLs means the same as no row (the one-transaction write made some)."""
    return {
        key: {n: (Decimal(v) if n == "price" and v is not None else v) for n, v in values.items()}
        for key, values in rows.items()
        if any(value is not None for value in values.values())
    }


@pytest.mark.parametrize("chunk_days", [1, 40, 10_000])
def test_chunked_write_equals_the_write_s_meaning_with_every_mark_once(
    client: TestClient, db: Db, chunk_days: int
) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    bar, other = hotel.rate_plan_id, _plan(client, hotel, "OTHER")
    derived = _plan(
        client,
        hotel,
        "NRF",
        derived_from={"parent_id": bar, "rules": [{"kind": "percent", "value": "-10"}]},
    )
    person = _plan(client, hotel, "PP", pricing="per_person", occupancies=[1, 2, 3])
    connections = [_connect(client, hotel, "A"), _connect(client, hotel, "B")]
    plans = [bar, other, person]
    before = _stored(db, plans)
    with db.sessions() as session, session.begin():
        session.execute(delete(DirtyMark))
    request = AriWrite.model_validate({"entries": _entries(bar, other, person)})
    expected_rows, expected_changed = _reference(before, request.entries)
    committed: list[range] = []

    result = write_ari_in_chunks(
        db.sessions,
        uuid.UUID(hotel.caller.tenant_id),
        uuid.UUID(hotel.property_id),
        request,
        chunk_days=chunk_days,
        on_commit=lambda part, _held: committed.append(part),
    )

    assert [r.dates_changed for r in result.results] == expected_changed
    assert [r.index for r in result.results] == list(range(len(request.entries)))
    assert _meaningful(_stored(db, plans)) == _meaningful(expected_rows)
    # Every entry in exactly one transaction, in order.
    assert [i for part in committed for i in part] == list(range(len(request.entries)))
    if chunk_days == 1:
        assert len(committed) == len(request.entries)
    if chunk_days == 10_000:
        assert len(committed) == 1
    followers = {bar: [derived]}
    expected_marks = Counter(
        (connection, plan_id, entry.to_range())
        for entry, changed in zip(request.entries, expected_changed, strict=True)
        if changed
        for connection in connections
        for plan_id in (str(entry.rate_plan_id), *followers.get(str(entry.rate_plan_id), []))
    )
    with db.sessions() as session:
        marks = Counter(
            (str(m.connection_id), str(m.subject_id), DateRange(m.start, m.end))
            for m in session.scalars(select(DirtyMark))
        )
        kinds = set(session.scalars(select(DirtyMark.kind)))
    assert marks == expected_marks
    assert kinds == {RATES}
    assert expected_changed[2] == 0  # the rewrite of the same values
    assert expected_changed[4] == 0  # clearing where no row exists


def test_chunks_hold_whole_entries_up_to_the_day_budget(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    start = today()
    spans = [10, 10, 25, 5, 1, 30]
    request = AriWrite(
        entries=[
            AriEntry(
                rate_plan_id=uuid.UUID(hotel.rate_plan_id),
                date_from=start,
                date_to=start + timedelta(days=nights - 1),
                price=Decimal(100 + index),
            )
            for index, nights in enumerate(spans)
        ]
    )
    with db.sessions() as session:
        checked = check_ari(
            session, uuid.UUID(hotel.caller.tenant_id), uuid.UUID(hotel.property_id), request
        )
    # 20 days a chunk: 10+10 | 25 (alone, larger than the budget) | 5+1 | 30.
    assert [list(part) for part in chunks(checked, 20)] == [[0, 1], [2], [3, 4], [5]]


def test_the_chunk_size_follows_the_measured_pace_within_bounds() -> None:
    # 2,000 days took 400 ms: ten times the 40 ms target, so the next chunk shrinks.
    assert _next_limit(2_000, 2_000, 0.4) == (2_000 + 200) // 2
    # Much faster than the target: grows, but never past the cap.
    assert _next_limit(2_000, 2_000, 0.001) == MAX_CHUNK_DAYS
    # A single entry that alone took far too long still leaves room for one entry.
    assert _next_limit(1, 1, 10.0) == 1
