"""``innsync bench``: mounted from the separate ``innsync-bench`` package when it is installed.

The benchmark harness is not part of the product (it lives in ``bench/`` of the repository and a
development install adds it). Without it, ``innsync bench`` says how to get it and exits 2.
"""

from __future__ import annotations

import importlib
from typing import cast

import click

BENCH_MODULE = "innsync_bench.cli"
MISSING_MESSAGE = (
    "innsync bench needs the benchmark package, which is not part of an innsync install. "
    "From a clone of the repository, `make install` adds it "
    "(or: pip install -e ./bench)."
)


@click.command(
    "bench",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def missing_bench(ctx: click.Context) -> None:
    """Benchmarks (needs the innsync-bench package from the repository)."""
    click.echo(f"Error: {MISSING_MESSAGE}", err=True)
    ctx.exit(2)


def bench_command() -> click.Command:
    """The real ``bench`` command, or the one that explains how to install it."""
    # importlib rather than an import statement: the product must not depend on the bench
    # package (import-linter forbids the static import), it only mounts it when present.
    try:
        module = importlib.import_module(BENCH_MODULE)
    except ModuleNotFoundError as error:
        if error.name not in {"innsync_bench", BENCH_MODULE}:
            raise  # the bench package is there but broken: show the real error
        return missing_bench
    return cast(click.Command, module.bench)
