"""The benchmark scenarios by name: adding one is a module and one line in ``SCENARIOS``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from innsync_bench.results import Outcome

# Name -> module. Each module has TITLE (one line) and run(options) -> Outcome.
SCENARIOS: dict[str, str] = {
    "full_sync": "innsync_bench.full_sync",
    "change_latency": "innsync_bench.change_latency",
    "webhook_ingest": "innsync_bench.webhook_ingest",
    "bulk_write": "innsync_bench.bulk_write",
    "scale": "innsync_bench.scale",
    "booking_storm": "innsync_bench.booking_storm",
    "chaos": "innsync_bench.chaos",
    "backups": "innsync_bench.backups",
    "admin_calendar": "innsync_bench.admin_calendar",
}

# Not run by `innsync bench all`: it restarts the PostgreSQL server and is a pass/fail check.
NOT_IN_ALL = frozenset({"chaos"})

DEFAULT_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@dataclass(frozen=True)
class RunOptions:
    """What every scenario is given: its size, scratch space, the database server, a printer."""

    quick: bool
    workdir: Path
    postgres_server: str = DEFAULT_POSTGRES_SERVER
    progress: Callable[[str], None] = lambda _message: None


class Scenario(Protocol):
    """The surface of a scenario module."""

    TITLE: str

    def run(self, options: RunOptions) -> Outcome: ...


def names() -> list[str]:
    return list(SCENARIOS)


def load(name: str) -> Scenario:
    """The scenario module called ``name``; ``KeyError`` for an unknown name."""
    return cast(Scenario, importlib.import_module(SCENARIOS[name]))
