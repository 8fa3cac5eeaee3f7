"""Reading the rate calendar (stored as runs of dates) day by day, as tests check it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.orm import Session

from innsync.inventory.models import RateCalendarRun
from innsync.inventory.runs import calendar_rows
from innsync.stay_dates import DateRange


def plan_days(
    session: Session, plan_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[date, Row[Any]]]:
    """Per plan, every date its stored runs cover, with its row (``runs.calendar_rows``)."""
    plans = list(plan_ids)
    low, high = session.execute(
        select(func.min(RateCalendarRun.start_date), func.max(RateCalendarRun.end_date)).where(
            RateCalendarRun.rate_plan_id.in_(plans)
        )
    ).one()
    if low is None:
        return {plan_id: {} for plan_id in plans}
    return calendar_rows(session, plans, DateRange(low, high))


def all_days(session: Session) -> dict[tuple[uuid.UUID, date], Row[Any]]:
    """Every stored (plan, date) with its row: what the one-row-per-day table held."""
    plans = set(session.scalars(select(RateCalendarRun.rate_plan_id).distinct()))
    return {
        (plan_id, day): row
        for plan_id, days in plan_days(session, plans).items()
        for day, row in days.items()
    }


def days_covered(connection: Session | Connection, *where: Any) -> int:
    """How many plan-dates the runs matching ``where`` cover (a day row each, formerly)."""
    spans = connection.execute(
        select(RateCalendarRun.start_date, RateCalendarRun.end_date).where(*where)
    )
    return sum((end - start).days for start, end in spans)
