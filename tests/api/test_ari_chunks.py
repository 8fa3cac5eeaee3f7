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

from innsync.inventory.bulk import (
    FIRST_CHUNK_RANGES,
    MAX_CHUNK_RANGES,
    _next_limit,
    chunks,
    write_ari_in_chunks,
)
from innsync.inventory.calendar import CALENDAR_COLUMNS, check_ari
from innsync.inventory.schemas import AriEntry, AriWrite
from innsync.outbox.models import RATES, DirtyMark
from innsync.stay_dates import DateRange, ranges_from_dates
from tests.api.helpers import Hotel, day, make_hotel, new_tenant, ok, today
from tests.calendar_runs import plan_days
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
    """The plans' stored values, date by date (every date their runs cover)."""
    with db.sessions() as session:
        found = plan_days(session, [uuid.UUID(p) for p in plans])
    return {
        (str(plan_id), stay_date): {n: getattr(row, n) for n in CALENDAR_COLUMNS}
        for plan_id, days in found.items()
        for stay_date, row in days.items()
    }


def _meaningful(rows: dict[tuple[str, date], Row]) -> dict[tuple[str, date], Row]:
    """A row of only NULLs means the same as no row (the one-transaction write made some)."""
    return {
        key: {n: (Decimal(v) if n == "price" and v is not None else v) for n, v in values.items()}
        for key, values in rows.items()
        if any(value is not None for value in values.values())
    }


@pytest.mark.parametrize("chunk_ranges", [1, 5, 10_000])
def test_chunked_write_equals_the_write_s_meaning_with_every_mark_once(
    client: TestClient, db: Db, chunk_ranges: int
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
        chunk_ranges=chunk_ranges,
        on_commit=lambda part, _held: committed.append(part),
    )

    assert [r.dates_changed for r in result.results] == expected_changed
    assert [r.index for r in result.results] == list(range(len(request.entries)))
    assert _meaningful(_stored(db, plans)) == _meaningful(expected_rows)
    # Every entry in exactly one transaction, in order.
    assert [i for part in committed for i in part] == list(range(len(request.entries)))
    # A transaction holds one entry, or entries writing at most ``chunk_ranges`` date ranges.
    weights = [
        len(ranges_from_dates(entry.to_range().dates_on(entry.weekday_numbers())))
        for entry in request.entries
    ]
    assert all(
        len(part) == 1 or sum(weights[i] for i in part) <= chunk_ranges for part in committed
    )
    if chunk_ranges == 1:
        assert len(committed) == len(request.entries)
    if chunk_ranges == 5:
        assert 1 < len(committed) < len(request.entries)
    if chunk_ranges == 10_000:
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


def test_chunks_hold_whole_entries_up_to_the_range_budget(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions))
    start = today()
    # (weeks, weekdays): 7-day weeks hold each named weekday once, and Monday, Wednesday and
    # Friday are never neighbours, so an entry writes weeks x len(weekdays) ranges; without
    # weekdays it writes one range however many days it spans.
    shapes: list[tuple[int, list[str] | None]] = [
        (1, ["mo", "we"]),
        (1, ["mo", "we"]),
        (5, ["mo"]),
        (10, None),
        (1, None),
        (2, ["mo", "we", "fr"]),
    ]
    request = AriWrite.model_validate(
        {
            "entries": [
                {
                    "rate_plan_id": hotel.rate_plan_id,
                    "date_from": str(start),
                    "date_to": str(start + timedelta(days=7 * weeks - 1)),
                    "price": str(100 + index),
                    "weekdays": weekdays,
                }
                for index, (weeks, weekdays) in enumerate(shapes)
            ]
        }
    )
    with db.sessions() as session:
        checked = check_ari(
            session, uuid.UUID(hotel.caller.tenant_id), uuid.UUID(hotel.property_id), request
        )
    assert [len(ranges) for ranges in checked.dates] == [2, 2, 5, 1, 1, 6]
    # 4 ranges a chunk: 2+2 | 5 (alone, larger than the budget) | 1+1 (70 days and 7 days:
    # days do not count) | 6 (alone).
    assert [list(part) for part in chunks(checked, 4)] == [[0, 1], [2], [3, 4], [5]]


def test_the_chunk_size_follows_the_measured_pace_within_bounds() -> None:
    # The first chunk's 200 ranges took 200 ms: five times the 40 ms target, so the next
    # chunk shrinks (halfway to the 40 ranges that would fit).
    assert FIRST_CHUNK_RANGES == 200
    assert _next_limit(200, 200, 0.2) == (200 + 40) // 2
    # Much faster than the target: grows, but never past the cap.
    assert _next_limit(2_000, 2_000, 0.001) == MAX_CHUNK_RANGES
    # A single entry that alone took far too long still leaves room for one entry.
    assert _next_limit(1, 1, 10.0) == 1
