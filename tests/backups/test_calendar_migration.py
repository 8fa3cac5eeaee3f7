"""Migration 0029 folds the day rows of ``rate_calendar`` into runs, and its downgrade (a backup
restored at an older revision) expands the runs into day rows again, values intact."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Date, Engine, Numeric, Uuid, column, select, table, update

from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.db.migrate import current_revision, head_revision, migrate, upgrade
from innsync.inventory.runs import TABLE, CalendarChange, apply_changes
from innsync.stay_dates import DateRange
from tests.sync.engine_fixtures import create_hotel_rows

pytestmark = pytest.mark.backends("sqlite", "postgresql", "mariadb")

FIRST = date(2027, 5, 1)
DAYS = table(
    "rate_calendar",
    column("rate_plan_id", Uuid()),
    column("stay_date", Date()),
    column("price", Numeric(13, 3)),
)


def _sorted(runs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(runs, key=lambda run: (str(run[0]), run[1]))


def _runs(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                TABLE.c.rate_plan_id,
                TABLE.c.start_date,
                TABLE.c.end_date,
                TABLE.c.price,
                TABLE.c.stop_sell,
                TABLE.c.occupancy_prices,
            ).order_by(TABLE.c.rate_plan_id, TABLE.c.start_date)
        )
        return _sorted([tuple(row) for row in rows])


def test_day_rows_fold_into_runs_and_expand_back(
    empty_database: Any, backend: Engine, secret_box: SecretBox
) -> None:
    engine = empty_database(backend.dialect.name)
    upgrade(engine)
    sessions = session_factory(engine)
    hotel = create_hotel_rows(sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    plan, other = hotel.rate_plan_ids[:2]
    ten = DateRange(FIRST, FIRST + timedelta(days=10))
    with transaction(sessions) as session:
        apply_changes(
            session,
            [
                CalendarChange(plan, [ten], {"price": Decimal("100"), "stop_sell": True}),
                CalendarChange(other, [DateRange.single(FIRST)], {"occupancy_prices": {"1": "5"}}),
            ],
        )
    assert _runs(engine) == _sorted(
        [
            (plan, FIRST, ten.end, Decimal("100.00"), True, None),
            (other, FIRST, FIRST + timedelta(days=1), None, None, {"1": "5"}),
        ]
    )

    migrate(engine, "0028", "down")
    with engine.begin() as connection:
        days = connection.execute(
            select(DAYS.c.rate_plan_id, DAYS.c.stay_date, DAYS.c.price).order_by(
                DAYS.c.rate_plan_id, DAYS.c.stay_date
            )
        ).all()
        assert len(days) == 11
        assert {(row[0], row[1]) for row in days} == {
            *((plan, day) for day in ten),
            (other, FIRST),
        }
        # One day of the ten differs now: the upgrade makes three runs of them.
        connection.execute(
            update(DAYS)
            .where(DAYS.c.rate_plan_id == plan, DAYS.c.stay_date == FIRST + timedelta(days=4))
            .values(price=Decimal("90"))
        )
    upgrade(engine)

    assert current_revision(engine) == head_revision()
    split = FIRST + timedelta(days=4)
    assert _runs(engine) == _sorted(
        [
            (plan, FIRST, split, Decimal("100.00"), True, None),
            (plan, split, split + timedelta(days=1), Decimal("90.00"), True, None),
            (plan, split + timedelta(days=1), ten.end, Decimal("100.00"), True, None),
            (other, FIRST, FIRST + timedelta(days=1), None, None, {"1": "5"}),
        ]
    )
