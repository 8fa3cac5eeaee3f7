"""The calendar stored as runs reads exactly like a calendar of one row per date.

Any sequence of changes, applied in any grouping into calls, leaves ``calendar_rows`` equal to
a model that keeps a dict per date, reports as changed exactly the dates whose values changed,
and stores the fewest runs: none overlap, none is empty, no two neighbours hold equal values.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.inventory.runs import (
    STORED_COLUMNS,
    TABLE,
    CalendarChange,
    apply_changes,
    calendar_rows,
    changes_from_days,
)
from innsync.stay_dates import DateRange, ranges_from_dates
from tests.conftest import Db
from tests.sync.engine_fixtures import create_hotel_rows

FIRST = date(2027, 3, 1)
WINDOW = DateRange(FIRST - timedelta(days=3), FIRST + timedelta(days=45))
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "price": st.sampled_from([None, Decimal("90.00"), Decimal("120.50")]),
    "stop_sell": st.sampled_from([None, True, False]),
    "min_stay_arrival": st.sampled_from([None, 1, 3]),
    "occupancy_prices": st.sampled_from([None, {"1": "80.00"}, {"2": "100.00", "1": "70.00"}]),
}
values = st.dictionaries(st.sampled_from(sorted(FIELD_VALUES)), st.just(None), min_size=1).flatmap(
    lambda chosen: st.fixed_dictionaries({name: FIELD_VALUES[name] for name in chosen})
)
day_sets = st.sets(st.integers(0, 40), min_size=1, max_size=25)
changes = st.lists(
    st.tuples(st.integers(0, 1), day_sets, values, st.booleans()), min_size=1, max_size=12
)
# How the changes are grouped into calls of ``apply_changes`` (a bulk write's chunks).
groupings = st.lists(st.integers(1, 4), min_size=1, max_size=12)


def _model_apply(
    model: dict[tuple[uuid.UUID, date], dict[str, Any]], change: CalendarChange
) -> set[date]:
    """The per-date model: set the values on every date; the dates whose values changed."""
    changed: set[date] = set()
    for dates in change.ranges:
        for day in dates:
            before = model.get((change.plan_id, day), dict.fromkeys(STORED_COLUMNS))
            after = {**before, **change.values}
            prices = change.values.get("occupancy_prices")
            if change.merge_prices and prices is not None:
                merged = {**(before["occupancy_prices"] or {}), **prices}
                after["occupancy_prices"] = dict(sorted(merged.items(), key=lambda kv: int(kv[0])))
            if all(after[name] is None for name in STORED_COLUMNS if not name.startswith("source")):
                after = dict.fromkeys(STORED_COLUMNS)
            if after != before:
                changed.add(day)
            model[(change.plan_id, day)] = after
    return changed


def _read(db: Db, plans: list[uuid.UUID]) -> dict[tuple[uuid.UUID, date], dict[str, Any]]:
    with db.sessions() as session:
        rows = calendar_rows(session, plans, WINDOW)
    return {
        (plan, day): {name: getattr(row, name) for name in STORED_COLUMNS}
        for plan, own in rows.items()
        for day, row in own.items()
    }


def _assert_fewest_runs(sessions: sessionmaker[Session], plans: list[uuid.UUID]) -> None:
    with sessions() as session:
        runs = session.execute(
            select(TABLE)
            .where(TABLE.c.rate_plan_id.in_(plans))
            .order_by(TABLE.c.rate_plan_id, TABLE.c.start_date)
        ).all()
    for run in runs:
        assert run.start_date < run.end_date
        assert any(getattr(run, name) is not None for name in STORED_COLUMNS)
    for before, after in itertools.pairwise(runs):
        if before.rate_plan_id != after.rate_plan_id:
            continue
        assert before.end_date <= after.start_date, "runs of a plan overlap"
        if before.end_date == after.start_date:
            assert [getattr(before, n) for n in STORED_COLUMNS] != [
                getattr(after, n) for n in STORED_COLUMNS
            ], "two neighbouring runs hold the same values"


@pytest.mark.backends("sqlite", "postgresql", "mariadb")
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(given_changes=changes, grouping=groupings)
def test_runs_read_like_one_row_per_date(
    db: Db,
    secret_box: SecretBox,
    given_changes: list[tuple[int, set[int], dict[str, Any], bool]],
    grouping: list[int],
) -> None:
    hotel = create_hotel_rows(db.sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    plans = hotel.rate_plan_ids[:2]
    calendar_changes = [
        CalendarChange(
            plans[plan],
            ranges_from_dates(FIRST + timedelta(days=offset) for offset in days),
            given_values,
            merge_prices,
        )
        for plan, days, given_values, merge_prices in given_changes
    ]
    model: dict[tuple[uuid.UUID, date], dict[str, Any]] = {}
    expected_changed = [_model_apply(model, change) for change in calendar_changes]

    reported: list[list[DateRange]] = []
    start, sizes = 0, iter(grouping * len(calendar_changes))
    while start < len(calendar_changes):
        part = calendar_changes[start : start + next(sizes)]
        with transaction(db.sessions) as session:
            reported.extend(apply_changes(session, part))
        start += len(part)

    assert [{day for dates in ranges for day in dates} for ranges in reported] == expected_changed
    expected = {
        key: held for key, held in model.items() if any(v is not None for v in held.values())
    }
    assert _read(db, plans) == expected
    _assert_fewest_runs(db.sessions, plans)


@pytest.mark.backends("sqlite", "postgresql", "mariadb")
def test_a_long_range_is_one_row_and_a_change_inside_splits_it(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = create_hotel_rows(db.sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    plan = hotel.rate_plan_ids[0]
    year = DateRange(FIRST, FIRST + timedelta(days=750))
    middle = DateRange(FIRST + timedelta(days=10), FIRST + timedelta(days=12))
    with transaction(db.sessions) as session:
        first = apply_changes(session, [CalendarChange(plan, [year], {"price": Decimal("100")})])
        again = apply_changes(session, [CalendarChange(plan, [year], {"price": Decimal("100")})])
        inside = apply_changes(session, [CalendarChange(plan, [middle], {"stop_sell": True})])

    assert first == [[year]]
    assert again == [[]]
    assert inside == [[middle]]
    with db.sessions() as session:
        runs = session.execute(
            select(TABLE.c.start_date, TABLE.c.end_date, TABLE.c.price, TABLE.c.stop_sell)
            .where(TABLE.c.rate_plan_id == plan)
            .order_by(TABLE.c.start_date)
        ).all()
    assert [tuple(run) for run in runs] == [
        (year.start, middle.start, Decimal("100.00"), None),
        (middle.start, middle.end, Decimal("100.00"), True),
        (middle.end, year.end, Decimal("100.00"), None),
    ]


def test_per_date_values_become_one_change_per_stretch_of_equal_values() -> None:
    plan = uuid.uuid4()
    days = {
        FIRST: {"price": 1},
        FIRST + timedelta(days=1): {"price": 1},
        FIRST + timedelta(days=2): {"price": 2},
        FIRST + timedelta(days=4): {"price": 2},
    }

    found = changes_from_days(plan, days, merge_prices=False)

    assert [(list(c.ranges), c.values, c.merge_prices) for c in found] == [
        ([DateRange(FIRST, FIRST + timedelta(days=2))], {"price": 1}, False),
        ([DateRange.single(FIRST + timedelta(days=2))], {"price": 2}, False),
        ([DateRange.single(FIRST + timedelta(days=4))], {"price": 2}, False),
    ]


@pytest.mark.backends("sqlite", "postgresql", "mariadb")
def test_writers_of_one_plan_take_turns(committed: Engine, secret_box: SecretBox) -> None:
    """Two writers folding the same plan's runs at once would leave overlapping runs (each
    deletes what it read and inserts its own): the plan's row lock makes them take turns."""
    sessions = session_factory(committed)
    hotel = create_hotel_rows(sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    plan = hotel.rate_plan_ids[0]
    rounds = 25
    failures: list[BaseException] = []

    def write(price: int, offset: int) -> None:
        try:
            for turn in range(rounds):
                start = FIRST + timedelta(days=(offset + 3 * turn) % 30)
                dates = DateRange(start, start + timedelta(days=5))
                with transaction(sessions) as session:
                    change = CalendarChange(plan, [dates], {"price": Decimal(price)})
                    apply_changes(session, [change])
        except BaseException as exc:  # noqa: BLE001  (reported by the test below)
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(price, price)) for price in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    assert failures == []
    _assert_fewest_runs(sessions, [plan])
