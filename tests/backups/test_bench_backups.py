"""The backups benchmark in --quick mode: it runs, restores equal tables, reports its figures.
Times are never asserted; counts are."""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from innsync.stay_dates import DateRange
from innsync_bench.backups import QUICK_DAYS
from innsync_bench.hotels import TIMEZONE
from tests.bench.test_bench_quick import needs_postgres, run_quick

WEEKEND = {4, 5}  # the varied ARI's Friday and Saturday price


def calendar_runs_per_plan(today: date) -> int:
    """The runs of one plan's quick calendar (yesterday + 30 days): the base price on Sunday
    to Thursday and the weekend price on Friday and Saturday, so one run per stretch of each."""
    dates = DateRange(today - timedelta(days=1), today + timedelta(days=QUICK_DAYS))
    return len([key for key, _ in itertools.groupby(d.weekday() in WEEKEND for d in dates)])


def property_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date()


def test_backups_quick_restores_equal_tables_on_both_databases(tmp_path: Path) -> None:
    needs_postgres()

    before = property_today()
    written = run_quick("backups", tmp_path)
    # The seeding's "today" (should the run straddle the property's midnight: either day's).
    expected = {calendar_runs_per_plan(day) for day in {before, property_today()}}

    data = written["outcome"]["data"]
    assert data["failed_checks"] == []
    # PostgreSQL twice: portable, then pg_dump where its tools are (portable again otherwise).
    native = "postgresql (pg_dump)" if shutil.which("pg_dump") and shutil.which("psql") else None
    assert [m["backend"] for m in data["backends"]] == [
        "sqlite",
        "postgresql",
        native or "postgresql",
    ]
    for measured in data["backends"]:
        assert measured["tables"]["reservations"] == 400
        assert measured["tables"]["reservation_rooms"] == 400
        assert measured["tables"]["properties"] == 2
        # 2 properties x 2 room types x 2 plans, each yesterday + 30 days in runs of equal
        # values: the weekday and weekend stretches.
        assert measured["tables"]["rate_calendar_runs"] in {2 * 2 * 2 * runs for runs in expected}
        assert measured["file_mib"] > 0
