"""Fixtures shared by the whole suite: real databases, isolated per test, and an API client."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.app import create_app
from innsync.crypto import SecretBox, generate_key
from innsync.db.personal import install_keys
from innsync.settings import Settings
from tests.databases import (
    ALL_BACKENDS,
    backend_url,
    databases_required,
    fresh_schema,
    probe,
    truncate_all,
    wanted_backends,
    worker_database,
    xdist_worker,
)

# The suite's one switch for development mode, set before any Settings is built (and inherited
# by the servers tests start): channels and PMS endpoints are simulators and mock servers on
# loopback, which the outbound policy refuses in production, and the `fake` channel is a test
# kind. Tests of the production defaults build their Settings with development_mode=False.
os.environ["INNSYNC_DEVELOPMENT_MODE"] = "true"

_available: list[str] = []
_not_run: dict[str, str] = {}
_passed_by_backend: Counter[str] = Counter()


def pytest_configure(config: pytest.Config) -> None:
    worker = xdist_worker()
    for name in wanted_backends():
        url = backend_url(name)
        reason = probe(url)
        if reason is None and worker is not None and name != "sqlite":
            try:
                url = worker_database(url, worker)
            except SQLAlchemyError as exc:
                reason = f"cannot create the worker's database: {type(exc).__name__}: {exc}"
        if reason is None:
            _available.append(name)
            config.stash.setdefault(_URLS, {})[name] = url
        elif databases_required():
            raise pytest.UsageError(
                f"the {name} suite must run (INNSYNC_TEST_REQUIRE_DATABASES=1) but {name} "
                f"cannot be reached: {reason}"
            )
        else:
            _not_run[name] = reason


_URLS = pytest.StashKey[dict[str, str]]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Any test that asks for ``backend`` runs once per reachable database."""
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("backends")
        names = [name for name in _available if only is None or name in only.args]
        metafunc.parametrize("backend", names, indirect=True, scope="session")


_backend_of: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            _backend_of[item.nodeid] = callspec.params["backend"]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        backend = _backend_of.get(report.nodeid) or _backend_in_id(report.nodeid)
        if backend is not None:
            _passed_by_backend[backend] += 1


def _backend_in_id(nodeid: str) -> str | None:
    """Under pytest-xdist the controller collects nothing: read the backend from the test id
    (``test_x[postgresql-...]``), where ``backend`` is the first parameter."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    first = nodeid[nodeid.index("[") + 1 : -1].split("-", 1)[0]
    return first if first in ALL_BACKENDS else None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write = terminalreporter.write_line
    write("")
    write(
        "database suites: "
        + ", ".join(f"{name} {_passed_by_backend[name]} passed" for name in _available)
    )
    for name, reason in _not_run.items():
        write(f"database suite NOT RUN: {name} ({reason}); start it, or CI will fail")
    screenshots = Path(__file__).parents[1] / "tmp" / "artifacts"
    if screenshots.is_dir():
        write(f"browser screenshots (tests/admin/test_browser.py): {screenshots}")


@dataclass
class Db:
    """One test's view of a database: everything it does is rolled back at the end."""

    name: str
    engine: Engine
    connection: Connection
    sessions: sessionmaker[Session]


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.config.stash[_URLS][request.param]
    engine = fresh_schema(url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(backend: Engine) -> Iterator[Db]:
    """A connection in a transaction; sessions commit to savepoints in it; all rolls back."""
    connection = backend.connect()
    outer = connection.begin()
    sessions = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    try:
        yield Db(backend.dialect.name, backend, connection, sessions)
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def session(db: Db) -> Iterator[Session]:
    with db.sessions() as opened:
        yield opened


@pytest.fixture
def committed(backend: Engine) -> Iterator[Engine]:
    """For tests that need real commits across connections (races); the tables are emptied after."""
    truncate_all(backend)
    yield backend
    truncate_all(backend)


# The suite's keys; a module may give its tests other ones through its own ``secret_box``.
_SUITE_BOX = SecretBox([generate_key()])


@pytest.fixture(scope="session")
def secret_box() -> SecretBox:
    return _SUITE_BOX


@pytest.fixture(scope="session", autouse=True)
def personal_keys() -> SecretBox:
    """Personal data is encrypted by column types under the process's keys: the suite's."""
    install_keys(_SUITE_BOX)
    return _SUITE_BOX


@pytest.fixture
def settings() -> Settings:
    # Every test client call comes from one address, and suites try hundreds of bad keys on
    # purpose: the failed-auth budget is off here and tested on its own (test_abuse_limits).
    return Settings(database_url="sqlite://", background_loops=False, auth_failure_limit=0)


@pytest.fixture
def client(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[TestClient]:
    app = create_app(
        settings, engine=db.engine, sessions=db.sessions, secret_box=secret_box, run_loops=False
    )
    with TestClient(app) as test_client:
        yield test_client
