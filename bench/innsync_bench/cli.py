"""``innsync bench NAME|all``: run benchmark scenarios, store their JSON, refresh the docs table.

The product CLI (``innsync.cli.bench``) mounts this command when the bench package is installed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from innsync_bench import registry
from innsync_bench.results import build_result, refresh_docs, write_result

RESULTS_DIR = Path("bench/results")
DOCS_PAGE = Path("docs/benchmarks.md")


@click.command("bench")
@click.argument("name", type=click.Choice([*registry.names(), "all"]))
@click.option("--quick", is_flag=True, help="Reduced sizes: checks that a scenario works.")
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=RESULTS_DIR,
    show_default=True,
    help="Where <name>.json is written.",
)
@click.option(
    "--docs",
    "docs_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The page whose results block is regenerated from --results-dir [default: {DOCS_PAGE}"
    " when results go to the default directory; else none].",
)
@click.option(
    "--postgres",
    "postgres_server",
    default=registry.DEFAULT_POSTGRES_SERVER,
    show_default=True,
    envvar="INNSYNC_BENCH_POSTGRES",
    help="PostgreSQL server (no database name): private databases are created and dropped.",
)
def bench(
    name: str, quick: bool, results_dir: Path, docs_path: Path | None, postgres_server: str
) -> None:
    """Run the benchmark NAME (or all of them) against real processes on loopback."""
    # The block is regenerated from the results directory alone: results written elsewhere
    # (a scratch run) would drop every other scenario's results from the published page.
    if docs_path is None and results_dir == RESULTS_DIR:
        docs_path = DOCS_PAGE
    names = (
        [n for n in registry.names() if n not in registry.NOT_IN_ALL] if name == "all" else [name]
    )
    for scenario_name in names:
        scenario = registry.load(scenario_name)
        click.echo(f"== {scenario_name}: {scenario.TITLE}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"innsync-bench-{scenario_name}-") as scratch:
            options = registry.RunOptions(
                quick=quick,
                workdir=Path(scratch),
                postgres_server=postgres_server.rstrip("/"),
                progress=lambda message: click.echo(f"   {message}"),
            )
            outcome = scenario.run(options)
        result = build_result(scenario_name, scenario.TITLE, outcome, is_quick=quick)
        path = write_result(result, results_dir)
        if docs_path is not None:
            refresh_docs(docs_path, results_dir, registry.names())
        for finding in outcome.findings:
            click.echo(f" - {finding}")
        refreshed = f"{docs_path} refreshed" if docs_path else "no docs page refreshed (--docs)"
        click.echo(f"   {path} written in {time.monotonic() - started:.0f} s; {refreshed}")
        if outcome.data.get("failed_checks"):
            raise click.ClickException(f"{scenario_name}: checks failed")
