"""The calendar expansion in SQL: one entry of a bulk write becomes one statement.

An entry says "these values on these weekdays of this range"; the database expands it into
days itself (a recursive CTE on SQLite and MariaDB, ``generate_series`` on PostgreSQL) and
upserts them in one ``INSERT … SELECT``. No per-day Python object is built, which is what made
a 1,000 x 750-day write take half a minute. Per-person prices merge into a row's JSON per day,
which no portable SQL does, so those entries take the per-day path (``write_days``), in Core.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    extract,
    false,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from innsync.db.upsert import upsert_clause, upsert_rows
from innsync.inventory.models import RateCalendarDay
from innsync.stay_dates import ALL_WEEKDAYS, DateRange

TABLE: Table = RateCalendarDay.__table__  # type: ignore[assignment]
KEYS = ("rate_plan_id", "stay_date")


def count_days(dates: DateRange, weekdays: frozenset[int]) -> int:
    """How many dates of the range fall on ``weekdays`` (Monday is 0), without iterating."""
    weeks, rest = divmod(dates.nights, 7)
    first = dates.start.weekday()
    return weeks * len(weekdays) + sum((first + i) % 7 in weekdays for i in range(rest))


def on_weekdays(dialect: str, column: Any, weekdays: frozenset[int]) -> ColumnElement[bool]:
    """``column`` (a stay date) falls on one of ``weekdays`` (Monday is 0), in the database."""
    if weekdays >= ALL_WEEKDAYS:
        return true()
    if dialect == "postgresql":
        return extract("isodow", column).in_(sorted(day + 1 for day in weekdays))
    if dialect in {"mysql", "mariadb"}:
        return func.weekday(column).in_(sorted(weekdays))
    # SQLite's %w counts from Sunday = 0.
    return cast(func.strftime("%w", column), Integer).in_(sorted((d + 1) % 7 for d in weekdays))


def _day_series(dialect: str) -> Any:
    """A column of the stay dates ``:first`` to ``:last`` that brings its own FROM clause."""
    first: Any = bindparam("first", type_=Date())
    last: Any = bindparam("last", type_=Date())
    if dialect == "postgresql":
        day = func.generate_series(
            cast(first, Date), cast(last, Date), text("interval '1 day'")
        ).column_valued("stay_date")
        return cast(day, Date)
    if dialect in {"mysql", "mariadb"}:
        # The seed's type fixes the column's: a DATE, so DATE_ADD stays a DATE. (Not on
        # SQLite, where CAST(… AS DATE) means NUMERIC and turns '2026-12-05' into 2026.)
        first = cast(first, Date)
    seed = select(first.label("stay_date")).cte("days", recursive=True)
    if dialect in {"mysql", "mariadb"}:
        following: Any = func.date_add(seed.c.stay_date, text("INTERVAL 1 DAY"))
    else:
        following = func.date(seed.c.stay_date, "+1 day")
    series = seed.union_all(select(following).where(seed.c.stay_date < last))
    return series.c.stay_date


def _value(dialect: str, name: str) -> Any:
    """The bound new value of column ``name``; typed in SQL on PostgreSQL, where a NULL in a
    SELECT list would otherwise be text."""
    param = bindparam(f"v_{name}", type_=TABLE.c[name].type)
    return cast(param, TABLE.c[name].type) if dialect == "postgresql" else param


def _in_entry(dialect: str, weekdays: frozenset[int]) -> ColumnElement[bool]:
    """Rows of ``:plan`` from ``:first`` up to ``:end`` on ``weekdays``."""
    return and_(
        TABLE.c.rate_plan_id == bindparam("plan", type_=TABLE.c.rate_plan_id.type),
        TABLE.c.stay_date >= bindparam("first", type_=Date()),
        TABLE.c.stay_date < bindparam("end", type_=Date()),
        on_weekdays(dialect, TABLE.c.stay_date, weekdays),
    )


def _same(dialect: str, columns: tuple[str, ...]) -> ColumnElement[bool]:
    """A stored row already holds the new values (NULL equal to NULL)."""
    return and_(*(TABLE.c[name].is_not_distinct_from(_value(dialect, name)) for name in columns))


def write_values(
    session: Session,
    plan_id: uuid.UUID,
    dates: DateRange,
    weekdays: frozenset[int],
    values: Mapping[str, Any],
) -> int:
    """Set scalar ``values`` (no per-person prices) on every matching day; the days changed.

    A missing row counts as all NULL, so clearing a field where no row exists changes nothing
    and writes nothing; anything else inserts the missing days. Statements are built once per
    shape (database, columns, weekdays) and cached; an entry only binds its values.
    """
    dialect = session.get_bind().dialect.name
    columns = tuple(values)
    params = {
        "plan": plan_id,
        "first": dates.start,
        "last": dates.last,
        "end": dates.end,
        **{f"v_{name}": value for name, value in values.items()},
    }
    if all(value is None for value in values.values()):
        cleared = session.execute(_clear_statement(dialect, columns, weekdays), params)
        return _rowcount(cleared)
    upsert = _upsert_statement(dialect, columns, weekdays)
    if dialect in {"mysql", "mariadb"}:
        # MariaDB reports a row set to its own values as affected (found rows): count instead.
        same = session.execute(_unchanged_statement(dialect, columns, weekdays), params)
        changed = count_days(dates, weekdays) - int(same.scalar_one())
        if changed:
            session.execute(upsert, params)
        return changed
    # Inserted days and days whose values differed; days already holding them are skipped.
    written = _rowcount(
        session.execute(upsert, params, execution_options={"preserve_rowcount": True})
    )
    if dialect == "sqlite":
        # pysqlite reports -1 for a statement that starts with WITH; SQLite itself knows.
        written = int(session.execute(select(func.changes())).scalar_one())
    return written


def _rowcount(result: Result[Any]) -> int:
    """Rows an INSERT or UPDATE changed (SQLAlchemy types ``execute`` as returning rows)."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


@functools.lru_cache(maxsize=512)
def _clear_statement(dialect: str, columns: tuple[str, ...], weekdays: frozenset[int]) -> Any:
    return (
        update(TABLE)
        .where(_in_entry(dialect, weekdays), ~_same(dialect, columns))
        .values({name: _value(dialect, name) for name in columns})
    )


@functools.lru_cache(maxsize=512)
def _unchanged_statement(dialect: str, columns: tuple[str, ...], weekdays: frozenset[int]) -> Any:
    return select(func.count()).where(_in_entry(dialect, weekdays), _same(dialect, columns))


@functools.lru_cache(maxsize=512)
def _upsert_statement(dialect: str, columns: tuple[str, ...], weekdays: frozenset[int]) -> Any:
    day = _day_series(dialect)
    source: Select[Any] = select(
        bindparam("plan", type_=TABLE.c.rate_plan_id.type),
        day,
        *(_value(dialect, name) for name in columns),
    ).where(
        # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT to parse it: "WHERE 1".
        on_weekdays(dialect, day, weekdays) if weekdays < ALL_WEEKDAYS else true()
    )
    if dialect in {"mysql", "mariadb"}:
        return upsert_clause(
            mysql.insert(TABLE).from_select([*KEYS, *columns], source), KEYS, columns
        )
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(TABLE)
    insert = insert.from_select([*KEYS, *columns], source)
    # Rows that already hold the values are left alone: no needless write, and not counted.
    differs = or_(false(), *(~TABLE.c[n].is_not_distinct_from(insert.excluded[n]) for n in columns))
    return insert.on_conflict_do_update(
        index_elements=list(KEYS),
        set_={name: insert.excluded[name] for name in columns},
        where=differs,
    )


def write_days(
    session: Session,
    plan_id: uuid.UUID,
    dates: DateRange,
    weekdays: frozenset[int],
    values: Mapping[str, Any],
    columns: tuple[str, ...],
) -> int:
    """Set ``values`` (per-person prices merged into each day's own) day by day; the days changed.

    Reads the range's rows as tuples and writes only the days that change, in one batched upsert.
    """
    stored = {
        row[0]: dict(zip(columns, row[1:], strict=True))
        for row in session.execute(
            select(TABLE.c.stay_date, *(TABLE.c[name] for name in columns)).where(
                _in_entry(session.get_bind().dialect.name, weekdays)
            ),
            {"plan": plan_id, "first": dates.start, "end": dates.end},
        )
    }
    empty = dict.fromkeys(columns)
    rows: list[dict[str, Any]] = []
    for day in dates.dates_on(weekdays):
        before = stored.get(day, empty)
        after = {**before, **values}
        prices = values.get("occupancy_prices")
        if prices is not None:
            merged = {**(before["occupancy_prices"] or {}), **prices}
            after["occupancy_prices"] = dict(sorted(merged.items(), key=lambda kv: int(kv[0])))
        if after != before:
            rows.append({"rate_plan_id": plan_id, "stay_date": day, **after})
    upsert_rows(session, TABLE, rows, KEYS, columns)
    return len(rows)
