"""Every benchmark scenario in --quick mode, through the CLI: it runs, counts what it should,
writes its JSON and refreshes the docs table. Figures are asserted as counts, never as times.

Not marked ``slow``: that marker keeps a test out of the default suite, and these runs (about
a minute and a half together) are how the suite knows every scenario still works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import SQLAlchemyError

from innsync.cli.main import cli
from innsync_bench import registry
from innsync_bench.measures import best_allowed_latencies, ideal_sender_latencies, percentile
from innsync_bench.results import TABLE_END, TABLE_START, Outcome, Table, refresh_docs
from tests.databases import postgres_server_or_skip

POSTGRES_SERVER = registry.DEFAULT_POSTGRES_SERVER


def needs_postgres() -> None:
    postgres_server_or_skip(POSTGRES_SERVER)


def run_quick(name: str, tmp_path: Path) -> dict[str, Any]:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nIntro stays.\n\n{TABLE_START}\nold\n{TABLE_END}\n\nTail.\n")
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            name,
            "--quick",
            "--results-dir",
            str(tmp_path / "results"),
            "--docs",
            str(docs),
            "--postgres",
            POSTGRES_SERVER,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    written: dict[str, Any] = json.loads((tmp_path / "results" / f"{name}.json").read_text())
    assert written["name"] == name
    assert written["is_quick"] is True
    assert written["command"] == f"innsync bench {name} --quick"
    assert written["machine"]["cores"]
    assert written["versions"]["innsync"]
    page = docs.read_text()
    assert page.startswith("# Benchmarks\n\nIntro stays.")
    assert page.rstrip().endswith("Tail.")
    assert "old" not in page
    assert f"### `{name}`" in page
    assert "quick run" in page
    return written


def test_full_sync_quick_is_two_requests_and_the_baselines_send_more(tmp_path: Path) -> None:
    written = run_quick("full_sync", tmp_path)

    (size,) = written["outcome"]["data"]["sizes"]
    assert (size["rooms"], size["plans_per_room"]) == (2, 2)
    assert size["minimum"]["requests"] == 2
    assert size["innsync"]["requests"] == {"availability": 1, "restrictions": 1}
    # Per date and per room type: one availability and one restrictions call per room type.
    assert size["per_date"]["requests"] == {"availability": 2, "restrictions": 2}
    # 500 days in batches of 365 days: two calls per endpoint.
    assert size["batches"]["requests"] == {"availability": 2, "restrictions": 2}
    assert size["per_date"]["total_bytes"] > 10 * size["innsync"]["total_bytes"]
    assert size["batches"]["total_bytes"] > 10 * size["innsync"]["total_bytes"]


def test_change_latency_quick_sees_every_change_and_no_429(tmp_path: Path) -> None:
    written = run_quick("change_latency", tmp_path)

    cases = written["outcome"]["data"]["cases"]
    assert [(c["properties"], c["rate_per_second"]) for c in cases] == [(2, 1.0), (1, 10.0)]
    assert [c["changes"] for c in cases] == [10, 6]
    for case in cases:
        assert case["not_found"] == 0
        assert case["rate_limited"] == 0
        assert case["busiest_60s_per_property_and_endpoint"] <= 10
        # Under the limit the ideal sender never waits.
        assert case["best_p99"] == 0


def test_webhook_ingest_quick_finds_every_acknowledged_webhook(tmp_path: Path) -> None:
    needs_postgres()
    written = run_quick("webhook_ingest", tmp_path)

    backends = written["outcome"]["data"]["backends"]
    assert [b["backend"] for b in backends] == ["sqlite", "postgresql"]
    for backend in backends:
        assert backend["acked_total"] > 0
        assert backend["acked_total"] == backend["saturated"]["acked"] + backend["paced"]["acked"]
        assert backend["missing"] == 0
        # wrk counts failures as a number, the Python generator by kind: none either way.
        assert backend["saturated"]["failures"] in (0, {})
        assert backend["paced"]["failures"] in (0, {})
    assert written["versions"]["postgresql"]


def test_bulk_write_quick_writes_every_day_with_one_mark_per_entry(tmp_path: Path) -> None:
    needs_postgres()
    written = run_quick("bulk_write", tmp_path)

    data = written["outcome"]["data"]
    assert data["failed_checks"] == []
    assert list(data["backends"]) == ["sqlite", "postgresql"]
    for figures in data["backends"].values():
        assert figures["plan_days"] == 20 * 60  # 4 room types x 5 plans x 60 days
        assert figures["rows"] == 20  # one run per plan: its 60 days hold one price
        assert figures["marks"] == 2 * 20  # one per entry, in each of the two writes
        for write in (figures["first"], figures["rewrite"]):
            # 20 ranges (one per entry); the first chunk takes up to 200: one transaction each.
            assert write["transactions"] == 1
        assert figures["others"]["count"] > 0
        assert figures["others"]["errors"] == 0


def test_scale_quick_converges_with_two_requests_per_property(tmp_path: Path) -> None:
    needs_postgres()
    written = run_quick("scale", tmp_path)

    sizes = written["outcome"]["data"]["sizes"]
    assert [s["properties"] for s in sizes] == [4, 8]
    for size in sizes:
        assert size["converged"] is True
        assert size["synced_properties"] == size["properties"]
        assert size["ari_requests"] == 2 * size["properties"]
        assert size["rate_limited"] == 0
        assert all(rss > 0 for rss in size["worker_peak_rss_bytes"])


def test_the_private_databases_are_dropped(tmp_path: Path) -> None:
    needs_postgres()
    from sqlalchemy import create_engine, text

    from innsync.db.engine import normalize_url
    from innsync_bench.databases import postgres_database

    with postgres_database(POSTGRES_SERVER, "probe") as (url, _engine):
        name = url.rsplit("/", 1)[1]
    admin = create_engine(normalize_url(f"{POSTGRES_SERVER}/postgres"))
    try:
        with admin.connect() as connection:
            left = connection.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar_one()
    except SQLAlchemyError as exc:  # pragma: no cover - the server went away meanwhile
        pytest.fail(str(exc))
    finally:
        admin.dispose()
    assert left == 0


def test_a_new_scenario_is_one_module_and_one_registry_line() -> None:
    assert registry.names() == [
        "full_sync",
        "change_latency",
        "webhook_ingest",
        "bulk_write",
        "scale",
        "booking_storm",
        "chaos",
        "backups",
        "admin_calendar",
    ]
    for name in registry.names():
        scenario = registry.load(name)
        assert scenario.TITLE
        assert callable(scenario.run)


def test_the_docs_table_is_regenerated_between_the_markers(tmp_path: Path) -> None:
    from innsync_bench.results import build_result, write_result

    docs = tmp_path / "page.md"
    docs.write_text(f"intro\n{TABLE_START}\nstale\n{TABLE_END}\noutro\n")
    outcome = Outcome("tiny", [Table("T", ["a", "b"], [["1", "2"]])], ["a finding"], {"x": 1})
    write_result(build_result("demo", "a demo", outcome, is_quick=False), tmp_path / "results")
    refresh_docs(docs, tmp_path / "results", ["demo"])
    refresh_docs(docs, tmp_path / "results", ["demo"])  # idempotent

    page = docs.read_text()
    assert page.startswith(f"intro\n{TABLE_START}\n")
    assert page.endswith(f"{TABLE_END}\noutro\n")
    assert "stale" not in page
    assert page.count("| a | b |") == 1
    assert "| 1 | 2 |" in page
    assert "- a finding" in page
    assert "Reproduce: `innsync bench demo`." in page


class _TinyScenario:
    TITLE = "a tiny scenario"

    @staticmethod
    def run(options: registry.RunOptions) -> Outcome:
        del options
        return Outcome("tiny", [Table("T", ["a"], [["1"]])], [], {})


@pytest.mark.parametrize(("options", "refreshed"), [([], True), (["--results-dir", "x"], False)])
def test_results_written_elsewhere_leave_the_published_page_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], refreshed: bool
) -> None:
    """The block is regenerated from the results directory alone: a scratch run's directory
    holds one scenario, and refreshing the page from it would drop all the others."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry, "load", lambda name: _TinyScenario)
    page = tmp_path / "docs" / "benchmarks.md"
    page.parent.mkdir()
    page.write_text(f"# Benchmarks\n\n{TABLE_START}\nevery scenario\n{TABLE_END}\n")

    result = CliRunner().invoke(cli, ["bench", "backups", *options], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert ("every scenario" not in page.read_text()) is refreshed
    assert ("no docs page refreshed" in result.output) is not refreshed
    assert (tmp_path / ("x" if options else "bench/results") / "backups.json").exists()


def test_the_sender_spending_the_window_at_once_follows_the_sliding_window() -> None:
    # Ten changes in the first second go at once; the eleventh waits for the first to expire,
    # and the twelfth, arriving while it waits, rides in the same request.
    times = [0.1 * n for n in range(10)] + [5.0, 30.0]
    latencies = ideal_sender_latencies(times, limit=10, window_seconds=60.0)
    assert latencies[:10] == [0.0] * 10
    assert latencies[10] == pytest.approx(55.0)
    assert latencies[11] == pytest.approx(30.0)
    # Requests already in the window count against it.
    assert ideal_sender_latencies([10.0], limit=1, window_seconds=60.0, earlier_sends=[5.0]) == [
        pytest.approx(55.0)
    ]


def test_the_best_allowed_is_the_best_sender_for_the_stream() -> None:
    steady = [float(second) for second in range(120)]  # one change a second, 10 calls a minute
    greedy = ideal_sender_latencies(steady, limit=10, window_seconds=60.0)
    even = ideal_sender_latencies(steady, limit=10, window_seconds=60.0, burst=0)
    best = best_allowed_latencies(steady, limit=10, window_seconds=60.0)
    assert percentile(greedy, 0.95) == pytest.approx(47.0)
    assert percentile(even, 0.95) == pytest.approx(5.0)
    assert best == even
    # Three changes in a row, then a pause: a burst sends each at once, an even pace cannot.
    clusters = [start + gap for start in (0.0, 100.0, 200.0) for gap in (0.0, 1.0, 2.0)]
    best = best_allowed_latencies(clusters, limit=10, window_seconds=60.0)
    assert best == [0.0] * 9
    assert (
        percentile(ideal_sender_latencies(clusters, limit=10, window_seconds=60.0, burst=0), 0.95)
        > 0
    )
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.99) == 4.0
