"""The admin calendar benchmark in --quick mode, through the CLI: it renders the month, counts
the plan rows and the queries per render (a constant, whatever the size), never the time."""

from __future__ import annotations

from pathlib import Path

from tests.bench.test_bench_quick import needs_postgres, run_quick


def test_admin_calendar_quick_renders_every_plan_with_bounded_queries(tmp_path: Path) -> None:
    needs_postgres()
    written = run_quick("admin_calendar", tmp_path)

    data = written["outcome"]["data"]
    assert data["failed_checks"] == []
    assert list(data["backends"]) == ["sqlite", "postgresql"]
    for figures in data["backends"].values():
        assert figures["renders"] == 3
        assert figures["plan_rows"] == 4  # 2 room types x 2 plans
        assert figures["statuses"] == [200]
        # The same 16 as tests/admin/test_cal.py counts for 2 x 2 and 20 x 10.
        assert figures["queries"] == 16
        assert figures["median_s"] > 0
