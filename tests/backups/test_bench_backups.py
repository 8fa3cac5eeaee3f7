"""The backups benchmark in --quick mode: it runs, restores equal tables, reports its figures.
Times are never asserted; counts are."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.bench.test_bench_quick import needs_postgres, run_quick


def test_backups_quick_restores_equal_tables_on_both_databases(tmp_path: Path) -> None:
    needs_postgres()

    written = run_quick("backups", tmp_path)

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
        # 2 properties x 2 room types x 2 plans x (yesterday + 30 days).
        assert measured["tables"]["rate_calendar"] == 2 * 2 * 2 * 31
        assert measured["file_mib"] > 0
